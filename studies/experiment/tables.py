"""The experiment's result table as a pandas DataFrame (``neatxbar.core.tables``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from neatxbar.core.tables import frame

if TYPE_CHECKING:
    from neatxbar.studies.experiment.results import Setting, Variability

#: The models of the variability section, in the report's order: (key, how the report names it).
VARIABILITY_MODELS = (
    ("naive", "naive mapping"),
    ("neat", "NEAT"),
    ("noise_aware", "noise-aware (NEAT fine-tuned, a chip per step)"),
)

COLUMNS = (
    "gate voltages",
    "naive mapping (%)",
    "naive + BN re-estimated (%)",
    "NEAT (%)",
    "NEAT + BN re-estimated (%)",
    "trained through the emulation (%)",
    "energy saving, naive (%)",
    "energy saving, NEAT (%)",
)


def _percent(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(100 * value, decimals)


def results_frame(software: float, settings: Sequence[Setting]) -> pd.DataFrame:
    """One row for the software model, then one per setting: accuracies (%, 2 decimals) and
    energy savings (%, 1 decimal); a missing value is empty. Columns nothing filled are left
    out."""
    rows = [dict(zip(COLUMNS, ("software (ideal float)", _percent(software, 2)), strict=False))]
    for s in settings:
        values = (
            s.label,
            _percent(s.naive, 2),
            _percent(s.naive_bn, 2),
            _percent(s.neat, 2),
            _percent(s.neat_bn, 2),
            _percent(s.emulation, 2),
            _percent(s.saving_naive, 1),
            _percent(s.saving_neat, 1),
        )
        rows.append(dict(zip(COLUMNS, values, strict=True)))
    table = frame(rows, COLUMNS)
    return table.dropna(axis=1, how="all")


def energy_frame(settings: Sequence[Setting]) -> pd.DataFrame:
    """Energy per inference of the naive mapping by part (pJ) for each setting."""
    parts = ("read", "gate", "dac", "adc", "total", "baseline")
    names = ("array read", "gate", "DAC", "ADC", "total", "all at 1.0 V")
    rows = [
        {
            "gate voltages": s.label,
            **{n: s.energy_pj.get(p) for p, n in zip(parts, names, strict=True)},
        }
        for s in settings
        if s.energy_pj
    ]
    return frame(rows, ("gate voltages", *names))


def variability_frame(variability: Variability) -> pd.DataFrame:
    """One row per gate voltage, temperature and model of the variability section: the nominal
    chip's accuracy (%), the mean over the chips (%), their sample standard deviation
    (percentage points), the worst and the best chip (%), 2 decimals."""
    names = dict(VARIABILITY_MODELS)
    rows = [
        {
            "gate voltage (V)": f"{row.v_gate:.2f}",
            "temperature (C)": f"{row.temperature_c:g}",
            "model": names.get(row.model, row.model),
            "nominal chip (%)": _percent(row.nominal, 2),
            "mean over chips (%)": _percent(row.chips.mean, 2),
            "std (pp)": _percent(row.chips.std, 2),
            "worst chip (%)": _percent(row.chips.worst, 2),
            "best chip (%)": _percent(row.chips.best, 2),
        }
        for row in variability.rows
    ]
    return frame(rows, VARIABILITY_COLUMNS)


VARIABILITY_COLUMNS = (
    "gate voltage (V)",
    "temperature (C)",
    "model",
    "nominal chip (%)",
    "mean over chips (%)",
    "std (pp)",
    "worst chip (%)",
    "best chip (%)",
)
