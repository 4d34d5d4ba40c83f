"""``neat map``'s tables as pandas DataFrames (:mod:`neatxbar.core.tables`): the per-setting table
(the console report) and the per-layer table (``layers.csv``), ``summary.json``'s text, and how the
report describes the wires (:func:`wires_record`, :func:`wires_text`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.tables import frame, to_csv_text, to_text

if TYPE_CHECKING:
    from neatxbar.mapping import MappingConfig
    from neatxbar.studies.neat_map.results import ChipStats, MapReport

#: Picojoules per joule.
PICO = 1e12

#: The columns of ``layers.csv``: the setting's label, then a layer's row (energies in J per
#: inference, V_gate in V, w_scale and bound in the layer's weight units).
LAYER_COLUMNS = (
    "setting",
    "layer",
    "kind",
    "v_gate",
    "w_scale",
    "bound",
    "linear_share",
    "read_j",
    "gate_j",
    "dac_j",
    "adc_j",
    "total_j",
    "baseline_total_j",
    "fast_path_k",
)

#: The per-setting table's number columns and their console formats.
_SETTING_FORMATS = {
    "crossbar %": ".2f",
    "vs software (pp)": "+.2f",
    "energy pJ": ".4g",
    "relative": ".3f",
    "saving %": ".1f",
}


#: The Monte Carlo columns of the per-setting table (with chips) and their console formats:
#: accuracy over the chips (%), its sample standard deviation (percentage points), the worst and
#: the best chip (%).
_CHIP_FORMATS = {
    "chips mean %": ".2f",
    "chips std (pp)": ".2f",
    "worst chip %": ".2f",
    "best chip %": ".2f",
}

#: What solves the crossbars when the wires are on, per ``MappingConfig.path``.
WIRED_SOLVERS = {
    "fast": "wired fast path (reduced circuit, computed once per weights)",
    "exact": "reference circuit solver (every tile solved per input)",
}

#: What the report says of its energies when the wires are on.
ENERGY_WITHOUT_WIRES = (
    "energy is computed without the wires: the energy model has no wire resistance, so it "
    "leaves out the wires' dissipation and reads every cell at its applied voltage (no IR drop)"
)


def wires_record(mapping: MappingConfig) -> dict[str, Any]:
    """The wires of ``mapping`` as ``summary.json`` records them.

    Returns
    -------
    dict
        ``on`` (any resistance above 0 ohm), ``r_row_ohm``, ``r_col_ohm``, ``r_driver_ohm``,
        ``r_sense_ohm`` (ohm per segment, driver and sense per wire), ``path`` (the mapping's),
        ``solver`` (:data:`WIRED_SOLVERS`'s entry, None without wires), ``energy_includes_wires``
        (always False: the energy model has none) and ``energy_note``
        (:data:`ENERGY_WITHOUT_WIRES` with wires, else None).
    """
    wires, on = mapping.wires, mapping.wires.any
    return {
        "on": on,
        "r_row_ohm": float(wires.r_row),
        "r_col_ohm": float(wires.r_col),
        "r_driver_ohm": float(wires.r_driver),
        "r_sense_ohm": float(wires.r_sense),
        "path": mapping.path,
        "solver": WIRED_SOLVERS.get(mapping.path) if on else None,
        "energy_includes_wires": False,
        "energy_note": ENERGY_WITHOUT_WIRES if on else None,
    }


def wires_text(mapping: MappingConfig) -> str | None:
    """One line on the wires of ``mapping`` (resistances in ohm and the solver), or None when
    there are none (every resistance 0 ohm)."""
    wires = mapping.wires
    if not wires.any:
        return None
    if wires.r_row == wires.r_col:
        segments = f"{wires.r_row:g} ohm per row and per column wire segment"
    else:
        segments = f"{wires.r_row:g} ohm per row and {wires.r_col:g} ohm per column wire segment"
    ends = f"driver {wires.r_driver:g} ohm, sense {wires.r_sense:g} ohm"
    return f"wires on: {segments} ({ends}); {WIRED_SOLVERS.get(mapping.path, mapping.path)}"


def _joined(values: object, fmt: str) -> str:
    return ", ".join(format(v, fmt) for v in values)  # type: ignore[attr-defined]


def _chip_columns(stats: ChipStats | None) -> dict[str, float]:
    """A setting's Monte Carlo columns (:data:`_CHIP_FORMATS`; NaN without chips)."""
    if stats is None:
        return dict.fromkeys(_CHIP_FORMATS, float("nan"))
    values = (stats.mean, stats.std, stats.worst, stats.best)
    return {k: 100 * v for k, v in zip(_CHIP_FORMATS, values, strict=True)}


def settings_frame(report: MapReport) -> pd.DataFrame:
    """One row per setting: V_gate per layer (V), crossbar accuracy (%), its difference to the
    software accuracy (percentage points), with chips their accuracy's mean (%), standard
    deviation (pp), worst and best chip (%), then energy per inference (pJ), energy relative to
    the baseline, saving (%), linear share and fast-path K per layer. Full precision; a missing
    relative energy or saving is NaN. The chip columns are there only when the report has
    chips."""
    rows = []
    chips = report.chips is not None
    for s in report.settings:
        relative, saving = s.energy_relative, s.saving
        row = {
            "setting": s.label,
            "V_gate per layer (V)": _joined(s.v_gate.values(), ".2f"),
            "crossbar %": 100 * s.crossbar_accuracy,
            "vs software (pp)": 100 * (s.crossbar_accuracy - report.software_accuracy),
            **(_chip_columns(s.chips) if chips else {}),
            "energy pJ": s.energy_j * PICO,
            "relative": float("nan") if relative is None else relative,
            "saving %": float("nan") if saving is None else 100 * saving,
            "linear share per layer": _joined(s.linear_share.values(), ".3f"),
            "K per layer": _joined(s.fast_path_k.values(), "d"),
        }
        rows.append(row)
    columns = list(_setting_formats(chips))
    return frame(
        rows, ["setting", "V_gate per layer (V)", *columns, "linear share per layer", "K per layer"]
    )


def _setting_formats(chips: bool) -> dict[str, str]:
    """The per-setting table's number columns, in order, and their console formats."""
    formats = dict(_SETTING_FORMATS)
    if not chips:
        return formats
    head = {k: formats.pop(k) for k in ("crossbar %", "vs software (pp)")}
    return {**head, **_CHIP_FORMATS, **formats}


def variation_text(report: MapReport) -> str | None:
    """One line on the Monte Carlo: the chips (count, seeds), what was drawn per chip, and that
    "crossbar %" is the nominal chip; None without chips."""
    if report.chips is None:
        return None
    seeds = report.chips
    first, last = seeds[0], seeds[-1]
    drawn = variation_words(getattr(report.mapping, "variation", None))
    return (
        f"Monte Carlo over {len(seeds)} chip{'s' if len(seeds) > 1 else ''} (seeds "
        f"{first}..{last}): {drawn}; 'crossbar %' is the nominal chip (no variation), std is "
        "the sample standard deviation over the chips"
    )


def variation_words(variation: object) -> str:
    """What a :class:`~neatxbar.mapping.config.Variation` draws, in words ("no variation" when
    it draws nothing)."""
    if variation is None:
        return "no variation"
    parts = []
    sigma = getattr(variation, "programming_sigma", 0.0)
    if sigma:
        parts.append(f"programming sigma {100 * sigma:g} % ({variation.distribution})")
    if getattr(variation, "read_noise_sigma", 0.0):
        parts.append(f"read noise {100 * variation.read_noise_sigma:g} %")
    if getattr(variation, "stuck_on", 0.0):
        parts.append(f"stuck-on {100 * variation.stuck_on:g} %")
    if getattr(variation, "stuck_off", 0.0):
        parts.append(f"stuck-off {100 * variation.stuck_off:g} %")
    if getattr(variation, "mismatch", 0.0):
        parts.append(f"threshold mismatch {variation.mismatch:g} x the card's sigma_Vt")
    return ", ".join(parts) if parts else "no variation (every chip is the nominal one)"


def layers_frame(report: MapReport) -> pd.DataFrame:
    """One row per (setting, crossbar layer), columns :data:`LAYER_COLUMNS`: what ``layers.csv``
    holds."""
    rows = [
        {"setting": setting.label, **row.to_dict()}
        for setting in report.settings
        for row in setting.layers
    ]
    return frame(rows, LAYER_COLUMNS)


def report_text(report: MapReport) -> str:
    """The console report: what was deployed, on which data, with wires their resistance, solver
    and that the energy leaves them out (:func:`wires_text`, :data:`ENERGY_WITHOUT_WIRES`), then
    :func:`settings_frame`."""
    layers = list(report.settings[0].v_gate) if report.settings else []
    head = (
        f"{report.checkpoint}: {report.model} on {report.dataset} ({report.test_samples} test "
        f"images), software accuracy {100 * report.software_accuracy:.2f} %"
    )
    notes = (
        f"LUT {report.lut} at {report.temperature_c:g} C; layers {', '.join(layers)}; "
        f"weight scales: {report.scale_source}; energy per inference over "
        f"{report.energy_samples} test inputs vs every layer at {report.baseline_v_gate:g} V"
    )
    wired = wires_text(report.mapping)
    lines = [head, notes] if wired is None else [head, notes, wired, ENERGY_WITHOUT_WIRES]
    chips = variation_text(report)
    lines += [] if chips is None else [chips]
    formats = _setting_formats(report.chips is not None)
    return "\n".join([*lines, to_text(settings_frame(report), formats=formats)])


def layers_csv(report: MapReport) -> str:
    """``layers.csv``: :func:`layers_frame` as CSV text (full precision)."""
    return to_csv_text(layers_frame(report))


def summary_json(report: MapReport) -> str:
    """``summary.json``: the report as strict JSON (no NaN), indented, with a final newline."""
    return dumps_strict(report.to_dict(), indent=2) + "\n"
