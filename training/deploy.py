"""``deploy``: what ``neat map`` does, callable from Python.

A trained model (a checkpoint of ``neat train``, or a plain state_dict with its model name) is
mapped onto 1T-1R crossbars at one or more gate-voltage settings. For each setting: the crossbar
accuracy on the test split, the share of each layer's weights inside the linear region of its
V_gate, the fast path's K per layer, and the energy per inference (``mapping/energy.py``)
against every layer at 1.0 V. The report is written as ``summary.json``, ``layers.csv`` and three
figures, staged and committed together (``neatxbar.core.outputs``): a failure changes no file, and
only files an earlier run wrote are replaced.

A setting is a gate voltage per crossbar layer. The settings evaluated are, in this order:

- the one given: a number (every layer), ``"auto"`` (the paper's data-free Algorithm 1 at a
  coverage, capped at the grid's highest value <= 1.3 V) or a mapping layer -> V_gate (with an
  optional ``"default"``; :func:`load_gate_file` reads one from TOML or JSON);
- a sweep ``"a:b:step"``: a, a + step, ... up to b, each as "every layer at v"; every value
  must lie on the LUT's gate grid;
- with neither: the checkpoint's own V_gate (NEAT records one per layer), else 1.0 V.

A NEAT checkpoint's ``weight_scales`` (the weight that maps to G_max per layer) are used for
deployment: its weights were trained for those scales.

Typical use::

    report = deploy("checkpoints/mlp.pt", "luts/paper.h5", sweep="0.7:1.3:0.1", out_dir="out")
    print(report.table())
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from neatxbar.core.checks import check_integer
from neatxbar.core.errors import ConfigError
from neatxbar.core.files import new_figure, save_png, write_atomically
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.outputs import OutputFolder
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.config import check_v_gate
from neatxbar.mapping.convert import crossbar_layers, describe
from neatxbar.mapping.energy import EnergyConfig, EnergyReport, LayerEnergy, model_energy
from neatxbar.mapping.vgate import data_free
from neatxbar.training.data import load_dataset
from neatxbar.training.neat import bounds, gate_voltages, linear_share
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import evaluate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMAT = "neat-map/1"
#: ``"auto"`` never picks a gate voltage above this (V).
AUTO_HIGHEST_V = 1.3
#: Inputs per ``model_energy`` run (its forward hooks keep every layer's inputs of a run).
ENERGY_CHUNK = 128
#: Files :func:`write_report` writes into the output folder.
FILES = ("summary.json", "layers.csv", "accuracy_vs_vgate.png", "energy_vs_vgate.png", "layers.png")
PICO = 1e12

GateSpec = float | str | Mapping[str, float]


# ---------------------------------------------------------------------------------------------
# gate-voltage settings


@dataclass(frozen=True)
class GateSetting:
    """One gate-voltage setting: a label and a grid V_gate (V) per crossbar layer."""

    label: str
    v_gate: dict[str, float]

    @property
    def uniform(self) -> float | None:
        """The V_gate of every layer when they are all equal, else None."""
        values = set(self.v_gate.values())
        return values.pop() if len(values) == 1 else None


def load_gate_file(path: Path | str) -> dict[str, float]:
    """Layer -> V_gate (V) from a TOML or JSON file (``.json``: JSON, else TOML).

    The pairs sit at the top level or in a ``v_gate`` table; ``default`` applies to the layers
    not named. ValueError (one line, naming the file) when the file does not parse or a value is
    not a gate voltage (:func:`~neatxbar.mapping.config.check_v_gate`: NaN, infinities and values
    outside (0, 5] V are refused); OSError when it cannot be read.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise OSError(f"cannot read gate-voltage file {path} ({error.strerror})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except ValueError as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path}: not valid {kind} ({first})") from None
    if isinstance(data, dict) and isinstance(data.get("v_gate"), dict):
        data = data["v_gate"]
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected layer = V_gate pairs (e.g. 1 = 0.8, default = 1.0)")
    bad = [k for k, v in data.items() if isinstance(v, bool) or not isinstance(v, int | float)]
    if bad:
        raise ValueError(
            f"{path}: V_gate of {bad[0]!r} is not a number (expected layer = V_gate in volts)"
        )
    return {str(k): check_v_gate(f"{path}: V_gate of {k!r}", v) for k, v in data.items()}


def parse_sweep(text: str) -> tuple[float, float, float]:
    """``"0.7:1.3:0.05"`` -> (start, stop, step) in V; ValueError saying what is wrong."""
    parts = text.split(":")
    example = "start:stop:step in volts, e.g. 0.7:1.3:0.05"
    if len(parts) != 3:
        raise ValueError(f"sweep {text!r}: expected {example}")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"sweep {text!r}: not three numbers; expected {example}") from None
    return _checked_sweep(start, stop, step, text)


def _checked_sweep(start: float, stop: float, step: float, text: str) -> tuple[float, float, float]:
    if not all(math.isfinite(v) for v in (start, stop, step)):
        raise ValueError(f"sweep {text!r}: start, stop and step must be finite numbers")
    start = check_v_gate(f"sweep {text!r}: start", start)
    stop = check_v_gate(f"sweep {text!r}: stop", stop)
    if step <= 0:
        raise ValueError(f"sweep {text!r}: the step must be > 0 V")
    if stop < start:
        raise ValueError(f"sweep {text!r}: stop {stop:g} V is below start {start:g} V")
    return start, stop, step


def sweep_values(lut: CellLUT, sweep: str | tuple[float, float, float]) -> list[float]:
    """The gate voltages of a sweep: start, start + step, ... <= stop, each on the LUT's grid.

    ``sweep`` is ``"start:stop:step"`` or the tuple (V). ValueError naming the first value off
    the grid (and the grid), or what is malformed; a step below the grid's smallest spacing or
    more points than the grid holds is refused before any value is looked at (a sweep can never
    give more distinct settings than the grid has gate voltages).
    """
    if isinstance(sweep, str):
        text = sweep
        start, stop, step = parse_sweep(sweep)
    else:
        text = ":".join(f"{float(v):g}" for v in sweep)
        start, stop, step = _checked_sweep(*(float(v) for v in sweep), text)
    points = [float(v) for v in lut.vg_grid.tolist()]
    grid = ", ".join(f"{v:.3g}" for v in points)
    spacing = min((b - a for a, b in itertools.pairwise(points)), default=math.inf)
    if stop > start and step < spacing * (1 - 1e-6):
        raise ValueError(
            f"sweep {text}: the step {step:g} V is below the LUT's gate-grid spacing "
            f"({spacing:.3g} V; grid {grid} V)"
        )
    count = math.floor((stop - start) / step + 1e-6) + 1
    if count > len(points):
        raise ValueError(
            f"sweep {text}: {count} gate voltages, more than the LUT's gate grid holds "
            f"({len(points)}: {grid} V)"
        )
    values: list[float] = []
    for i in range(count):
        v = start + i * step
        try:
            values.append(_on_grid(lut, v))
        except ValueError:
            raise ValueError(
                f"sweep {text}: {v:.4g} V is not on the LUT's gate grid ({grid} V); "
                "choose a start and step that land on it"
            ) from None
    return values


def _on_grid(lut: CellLUT, v_gate: float) -> float:
    """The LUT's grid value for ``v_gate`` (rounded for reports); LUTError off the grid."""
    return round(float(lut.vg_grid[lut.gate_index(v_gate)]), 9)


def _auto_highest(lut: CellLUT) -> float:
    below = [v for v in lut.vg_grid.tolist() if v <= AUTO_HIGHEST_V + 1e-9]
    if not below:
        raise ValueError(
            f"{lut.path}: no gate voltage of the LUT is <= {AUTO_HIGHEST_V} V, so 'auto' has "
            "nothing to choose from; give --vgate"
        )
    return below[-1]


def gate_settings(
    model: nn.Module,
    lut: CellLUT,
    scales: Mapping[str, float],
    v_gate: GateSpec | None = None,
    sweep: str | tuple[float, float, float] | None = None,
    checkpoint_v_gate: float | Mapping[str, float] | None = None,
    coverage: float = 0.995,
) -> list[GateSetting]:
    """The settings to evaluate (see the module's docstring), each checked against the grid.

    ``scales`` are the layers' weight scales (for ``"auto"``). A setting equal to an earlier one
    is left out.
    """
    layers = list(crossbar_layers(model))
    if not layers:
        raise ValueError("the model has no Linear or Conv2d layer to map onto crossbars")
    settings: list[GateSetting] = []

    def add(label: str, gates: Mapping[str, float] | float) -> None:
        try:
            per_layer = gate_voltages(model, gates)
        except ConfigError:  # not a gate voltage: the message names it
            raise
        except ValueError as error:
            raise ValueError(
                f"{label} V_gate: {error}; the model's crossbar layers are {', '.join(layers)}"
            ) from None
        resolved = {name: _on_grid(lut, v) for name, v in per_layer.items()}
        if all(s.v_gate != resolved for s in settings):
            settings.append(GateSetting(label, resolved))

    if isinstance(v_gate, str):
        if v_gate.strip().lower() != "auto":
            raise ValueError(f"V_gate {v_gate!r}: give a number in volts or 'auto'")
        weights = {name: m.weight for name, m in crossbar_layers(model).items()}
        chosen = data_free(weights, scales, lut, coverage, highest=_auto_highest(lut))
        add("auto", chosen)
    elif isinstance(v_gate, Mapping):
        add("per-layer", v_gate)
    elif v_gate is not None:
        add(f"{float(v_gate):.2f} V", float(v_gate))
    if sweep is not None:
        for v in sweep_values(lut, sweep):
            add(f"{v:.2f} V", v)
    if not settings:
        if checkpoint_v_gate is None:
            add("1.00 V", 1.0)
        elif isinstance(checkpoint_v_gate, Mapping):
            add("checkpoint", checkpoint_v_gate)
        else:
            add(f"{float(checkpoint_v_gate):.2f} V", float(checkpoint_v_gate))
    return settings


# ---------------------------------------------------------------------------------------------
# the report


@dataclass(frozen=True)
class LayerResult:
    """One crossbar layer at one setting.

    ``w_scale``: the weight that maps to G_max (layer units); ``bound``: w_max(V_gate) * w_scale;
    ``linear_share``: fraction of the layer's weights with |w| <= bound; ``rank``: the fast
    path's K; ``energy`` and ``baseline``: J per inference at V_gate and at the baseline V_gate.
    """

    name: str
    kind: str
    v_gate: float
    w_scale: float
    bound: float
    linear_share: float
    rank: int
    energy: LayerEnergy
    baseline: LayerEnergy

    def to_dict(self) -> dict[str, Any]:
        e = self.energy
        return {
            "layer": self.name,
            "kind": self.kind,
            "v_gate": self.v_gate,
            "w_scale": self.w_scale,
            "bound": self.bound,
            "linear_share": self.linear_share,
            "fast_path_k": self.rank,
            "read_j": e.read_j,
            "gate_j": e.gate_j,
            "dac_j": e.dac_j,
            "adc_j": e.adc_j,
            "total_j": e.total_j,
            "baseline_total_j": self.baseline.total_j,
        }


@dataclass(frozen=True)
class SettingResult:
    """The crossbar model at one gate-voltage setting."""

    label: str
    v_gate: dict[str, float]
    crossbar_accuracy: float
    layers: tuple[LayerResult, ...]
    energy: EnergyReport
    seconds: float

    @property
    def uniform(self) -> float | None:
        """The V_gate of every layer when they are all equal, else None."""
        return GateSetting(self.label, self.v_gate).uniform

    @property
    def energy_j(self) -> float:
        """Energy per inference (J) of all crossbar layers."""
        return self.energy.total_j

    @property
    def energy_relative(self) -> float | None:
        """Energy relative to every layer at the baseline V_gate (None if that is 0 J)."""
        return self.energy.relative_to_baseline

    @property
    def saving(self) -> float | None:
        return self.energy.saving

    @property
    def linear_share(self) -> dict[str, float]:
        return {row.name: row.linear_share for row in self.layers}

    @property
    def fast_path_k(self) -> dict[str, int]:
        return {row.name: row.rank for row in self.layers}

    def to_dict(self) -> dict[str, Any]:
        e = self.energy
        return {
            "label": self.label,
            "v_gate": self.v_gate,
            "crossbar_accuracy": self.crossbar_accuracy,
            "energy_j": e.total_j,
            "baseline_energy_j": e.baseline_total_j,
            "energy_relative": e.relative_to_baseline,
            "saving": e.saving,
            "energy_breakdown_j": {
                "read": e.read_j,
                "gate": e.gate_j,
                "dac": e.dac_j,
                "adc": e.adc_j,
            },
            "linear_share": self.linear_share,
            "fast_path_k": self.fast_path_k,
            "layers": [row.to_dict() for row in self.layers],
            "seconds": self.seconds,
        }


@dataclass
class MapReport:
    """What :func:`deploy` measured; ``files`` lists what it wrote (empty without a folder)."""

    checkpoint: Path
    lut: Path
    dataset: str
    model: str
    software_accuracy: float
    test_samples: int
    energy_samples: int
    baseline_v_gate: float
    mapping: MappingConfig
    scale_source: str
    weight_scales: dict[str, float]
    settings: list[SettingResult]
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (no NaN): what ``summary.json`` holds."""
        return {
            "format": FORMAT,
            "checkpoint": str(self.checkpoint),
            "lut": str(self.lut),
            "dataset": self.dataset,
            "model": self.model,
            "software_accuracy": self.software_accuracy,
            "test_samples": self.test_samples,
            "energy_samples": self.energy_samples,
            "energy_units": "J per inference",
            "baseline_v_gate": self.baseline_v_gate,
            "mapping": asdict(self.mapping),
            "scale_source": self.scale_source,
            "weight_scales": self.weight_scales,
            "settings": [s.to_dict() for s in self.settings],
            "seconds": self.seconds,
            "files": [str(p) for p in self.files],
        }

    def table(self) -> str:
        """A fixed-width text table: one row per setting."""
        layers = list(self.settings[0].v_gate) if self.settings else []
        head = (
            f"{self.checkpoint}: {self.model} on {self.dataset} ({self.test_samples} test "
            f"images), software accuracy {100 * self.software_accuracy:.2f} %"
        )
        notes = (
            f"LUT {self.lut}; layers {', '.join(layers)}; weight scales: "
            f"{self.scale_source}; energy per inference over {self.energy_samples} test "
            f"inputs vs every layer at {self.baseline_v_gate:g} V"
        )
        cols = (
            "setting",
            "V_gate per layer (V)",
            "crossbar %",
            "vs software",
            "energy pJ",
            "relative",
            "saving %",
            "linear share per layer",
            "K per layer",
        )
        rows = []
        for s in self.settings:
            relative, saving = s.energy_relative, s.saving
            rows.append(
                (
                    s.label,
                    ", ".join(f"{v:.2f}" for v in s.v_gate.values()),
                    f"{100 * s.crossbar_accuracy:.2f}",
                    f"{100 * (s.crossbar_accuracy - self.software_accuracy):+.2f}",
                    f"{s.energy_j * PICO:.4g}",
                    "-" if relative is None else f"{relative:.3f}",
                    "-" if saving is None else f"{100 * saving:.1f}",
                    ", ".join(f"{v:.3f}" for v in s.linear_share.values()),
                    ", ".join(str(k) for k in s.fast_path_k.values()),
                )
            )
        widths = [max(len(r[k]) for r in [cols, *rows]) for k in range(len(cols))]

        def line(r: Sequence[str]) -> str:
            return "  ".join(
                (c.ljust(n) if k in (0, 1, 7, 8) else c.rjust(n))
                for k, (c, n) in enumerate(zip(r, widths, strict=True))
            ).rstrip()

        return "\n".join([head, notes, line(cols), *(line(r) for r in rows)])


# ---------------------------------------------------------------------------------------------
# deploy


class _ProgressBar(tqdm):
    """tqdm without its monitor thread, so a Ctrl-C reaches the main thread."""

    monitor_interval = 0


def _test_inputs(dataset: torch.utils.data.Dataset, limit: int | None) -> torch.Tensor:
    chunks, count = [], 0
    for x, _ in DataLoader(dataset, batch_size=256):
        chunks.append(x)
        count += x.shape[0]
        if limit is not None and count >= limit:
            break
    x = torch.cat(chunks)
    return x if limit is None else x[:limit]


_ENERGY_FIELDS = tuple(
    f.name for f in fields(LayerEnergy) if f.name not in ("name", "kind", "v_gate", "calls")
)


def _energy(twin: nn.Module, x: torch.Tensor, config: EnergyConfig) -> EnergyReport:
    """``model_energy`` over ``x`` in chunks, combined into one report per inference (every
    quantity is a per-inference average, so chunks add up weighted by their size)."""
    reports = [
        model_energy(twin, x[i : i + ENERGY_CHUNK], config)
        for i in range(0, x.shape[0], ENERGY_CHUNK)
    ]
    if len(reports) == 1:
        return reports[0]
    sizes = [r.batch_size for r in reports]
    total = sum(sizes)

    def mix(rows: Sequence[tuple[LayerEnergy, ...]]) -> tuple[LayerEnergy, ...]:
        return tuple(
            replace(
                same[0],
                **{
                    f: sum(getattr(r, f) * n for r, n in zip(same, sizes, strict=True)) / total
                    for f in _ENERGY_FIELDS
                },
            )
            for same in zip(*rows, strict=True)
        )

    return EnergyReport(
        mix([r.layers for r in reports]),
        mix([r.baseline for r in reports]),
        reports[0].baseline_v_gate,
        total,
    )


def _scales(
    model: nn.Module, recorded: Mapping[str, float] | None, config: MappingConfig
) -> tuple[dict[str, float], str]:
    """Each layer's weight scale as the mapping will use it, and where it comes from."""
    layers = crossbar_layers(model)
    if recorded:
        unknown = sorted(set(recorded) - set(layers))
        if unknown:
            raise ValueError(
                f"the checkpoint's weight_scales name layers the model does not "
                f"have: {', '.join(unknown)}"
            )
        rest = {
            n: float(config.w_cut or m.weight.detach().abs().max())
            for n, m in layers.items()
            if n not in recorded
        }
        return {**{n: float(recorded[n]) for n in layers if n in recorded}, **rest}, "checkpoint"
    if config.w_cut is not None:
        return dict.fromkeys(layers, float(config.w_cut)), "w_cut"
    return {n: float(m.weight.detach().abs().max()) for n, m in layers.items()}, "max |w|"


def deploy(
    checkpoint: Path | str,
    lut: CellLUT | Path | str,
    *,
    v_gate: GateSpec | None = None,
    sweep: str | tuple[float, float, float] | None = None,
    dataset: str | None = None,
    data_dir: Path | str | None = None,
    model_name: str | None = None,
    mapping: MappingConfig | None = None,
    energy: EnergyConfig | None = None,
    coverage: float = 0.995,
    energy_samples: int | None = 1000,
    samples: int | None = None,
    out_dir: Path | str | None = None,
    progress: bool = True,
) -> MapReport:
    """Map a trained model onto crossbars at each gate-voltage setting and measure it.

    Parameters
    ----------
    checkpoint
        A ``neat-checkpoint/1`` file, or a plain state_dict of one of the toolkit's models
        (then ``model_name``).
    lut
        The cell LUT (a :class:`CellLUT` or its path).
    v_gate
        V_gate (V) of every layer, ``"auto"`` (data-free selection at ``coverage``, at most the
        grid's highest value <= 1.3 V), or layer -> V_gate with an optional ``"default"``.
    sweep
        ``"start:stop:step"`` (V) or a tuple: each value, which must be on the LUT's gate grid, as
        a setting with every layer at it. Evaluated after ``v_gate``'s setting.
    dataset, data_dir
        The dataset to evaluate on (default: the checkpoint's, else digits) and CIFAR's folder.
    model_name
        The model of a plain state_dict (``mlp``, ``cnn``, ``vgg11``, ``resnet18``).
    mapping
        The mapping (default :class:`MappingConfig()`); its ``v_gate`` is not used.
    energy
        The energy model (default ``EnergyConfig.from_lut(lut)``; baseline every layer at 1.0 V).
    coverage
        Share of each layer's |w| the ``"auto"`` bound must cover.
    energy_samples
        The energy is averaged over the first this many test inputs (None: all).
    samples
        Evaluate on the first this many test samples only (accuracies and energy; >= 1; None:
        the whole test split; more than the split holds: all of it). Deterministic: the split's
        own order, no shuffling. Wired mappings solve a circuit per input, so this bounds their
        time.
    out_dir
        If given, :func:`write_report` writes the report there.
    progress
        A progress bar on stderr.

    Raises
    ------
    CheckpointError, LUTError, DatasetError, ConfigError
        (ValueErrors) a missing or foreign checkpoint or LUT, an unknown dataset or model.
    ValueError
        A V_gate off the LUT's gate grid, a malformed sweep, a gate mapping naming unknown layers,
        a layer that cannot be mapped (named), a dataset of another shape than the checkpoint's.
    """
    started = time.perf_counter()
    lut_path = lut.path if isinstance(lut, CellLUT) else lut
    if out_dir is not None:  # before any work: no output may replace an input or a user's file
        OutputFolder(out_dir, inputs=(checkpoint, lut_path)).check(FILES)
    mapping = (mapping or MappingConfig()).validate()
    if energy_samples is not None and energy_samples < 1:
        raise ValueError(f"energy_samples must be >= 1 (or None for all), got {energy_samples}")
    if samples is not None:
        check_integer("samples", samples, low=1)
    model, header = model_from_checkpoint(checkpoint, model_name, dataset, data_dir)
    model.eval()
    lut = lut if isinstance(lut, CellLUT) else CellLUT.load(lut)
    if lut.w_max is None:
        raise ValueError(f"{lut.path}: the LUT has no linear_region; run 'neat fit' on it")
    if sweep is not None:  # a malformed or oversized sweep is refused before any work
        sweep_values(lut, sweep)
    energy_config = (energy or EnergyConfig.from_lut(lut)).validate()
    name = dataset or header.get("dataset") or "digits"
    splits = load_dataset(name, data_dir, augment=False)
    if samples is not None and samples < len(splits.test):
        splits = replace(splits, test=Subset(splits.test, range(samples)))
    shape = (splits.num_classes, splits.in_channels, splits.image_size)
    recorded = tuple(header.get(k) for k in ("num_classes", "in_channels", "image_size"))
    if recorded != shape:
        raise ValueError(
            f"{checkpoint}: the model was built for {recorded[1]} x {recorded[2]} x {recorded[2]} "
            f"inputs and {recorded[0]} classes; {name} has {shape[1]} x {shape[2]} x {shape[2]} "
            f"and {shape[0]} classes (give the checkpoint's dataset)"
        )
    # refuses a layer it cannot map, naming it, before any work
    convert(model, lut, mapping, v_gate=float(lut.vg_grid[-1]))
    scales, source = _scales(model, header.get("weight_scales"), mapping)
    settings = gate_settings(model, lut, scales, v_gate, sweep, header.get("v_gate"), coverage)
    x = _test_inputs(splits.test, energy_samples)

    bar = _ProgressBar(
        total=1 + len(settings), desc="software", unit="setting", disable=not progress
    )
    with bar, torch.no_grad():
        software = evaluate(model, splits.test)
        bar.update()
        results = []
        for setting in settings:
            bar.set_description(setting.label)
            results.append(_measure(model, lut, mapping, energy_config, setting, scales, splits, x))
            bar.update()
    report = MapReport(
        checkpoint=Path(checkpoint),
        lut=Path(lut.path) if lut.path else Path("-"),
        dataset=name,
        model=str(header["model"]),
        software_accuracy=software,
        test_samples=len(splits.test),
        energy_samples=int(x.shape[0]),
        baseline_v_gate=energy_config.baseline_v_gate,
        mapping=mapping,
        scale_source=source,
        weight_scales=scales,
        settings=results,
    )
    report.seconds = time.perf_counter() - started
    if out_dir is not None:
        report.files = write_report(report, Path(out_dir), inputs=(checkpoint, lut_path))
    return report


def _measure(
    model: nn.Module,
    lut: CellLUT,
    mapping: MappingConfig,
    energy_config: EnergyConfig,
    setting: GateSetting,
    scales: Mapping[str, float],
    splits: Any,
    x: torch.Tensor,
) -> SettingResult:
    started = time.perf_counter()
    twin = convert(model, lut, mapping, v_gate=setting.v_gate, weight_scales=scales).eval()
    accuracy = evaluate(twin, splits.test)
    limits = bounds(lut, setting.v_gate, scales)
    share = linear_share(model, limits)
    ranks = {row["layer"]: int(row["rank"]) for row in describe(twin)}
    report = _energy(twin, x, energy_config)
    own = {row.name: row for row in report.layers}
    base = {row.name: row for row in report.baseline}
    rows = tuple(
        LayerResult(
            name=n,
            kind=own[n].kind,
            v_gate=setting.v_gate[n],
            w_scale=scales[n],
            bound=limits[n],
            linear_share=share[n],
            rank=ranks[n],
            energy=own[n],
            baseline=base[n],
        )
        for n in setting.v_gate
    )
    return SettingResult(
        setting.label, dict(setting.v_gate), accuracy, rows, report, time.perf_counter() - started
    )


# ---------------------------------------------------------------------------------------------
# files


CSV_FIELDS = (
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


def write_report(
    report: MapReport, out_dir: Path | str, inputs: Sequence[Path | str | None] = ()
) -> list[Path]:
    """Write ``summary.json``, ``layers.csv`` and the three figures into ``out_dir`` (created if
    missing), committed together (:class:`~neatxbar.core.outputs.OutputFolder`): all are staged
    first, then renamed into place; a failure changes no file there. Only files an earlier run
    wrote are replaced; an output that would replace a user's file or one of ``inputs`` is
    refused (OutputError). Returns the paths."""
    folder = OutputFolder(out_dir, inputs=inputs)
    folder.check(FILES)
    paths = [folder.path / name for name in FILES]
    report.files = paths
    with folder.staging() as stage:
        _write_files(report, [stage.file(name) for name in FILES])
    return paths


def _write_files(report: MapReport, paths: Sequence[Path]) -> None:
    """The report's files, at ``paths`` (in the order of :data:`FILES`)."""
    text = dumps_strict(report.to_dict(), indent=2) + "\n"
    write_atomically(paths[0], lambda f: f.write(text), binary=False)

    def write_csv(f: io.IOBase) -> None:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for setting in report.settings:
            for row in setting.layers:
                values = row.to_dict()
                values["setting"] = setting.label
                writer.writerow({k: values[k] for k in CSV_FIELDS})

    write_atomically(paths[1], write_csv, binary=False)
    for path, draw in zip(
        paths[2:], (_accuracy_figure, _energy_figure, _layers_figure), strict=True
    ):
        fig = draw(report)
        save_png(fig, path)


def _mean_v_gate(setting: SettingResult) -> float:
    return sum(setting.v_gate.values()) / len(setting.v_gate)


def _accuracy_figure(report: MapReport) -> Figure:
    """Crossbar accuracy per setting against V_gate (a per-layer setting at its layers' mean
    V_gate, labelled), with the software accuracy as a line."""
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.axhline(
        100 * report.software_accuracy,
        color="black",
        ls="--",
        lw=1,
        label=f"software {100 * report.software_accuracy:.2f} %",
    )
    uniform = sorted((s.uniform, s) for s in report.settings if s.uniform is not None)
    if uniform:
        ax.plot(
            [v for v, _ in uniform],
            [100 * s.crossbar_accuracy for _, s in uniform],
            marker="o",
            color="C0",
            label="crossbar, every layer at V$_\\mathrm{gate}$",
        )
    mixed = [s for s in report.settings if s.uniform is None]
    for k, s in enumerate(mixed):
        x, y = _mean_v_gate(s), 100 * s.crossbar_accuracy
        ax.scatter(
            [x],
            [y],
            marker="D",
            color=f"C{k + 1}",
            zorder=3,
            label=f"crossbar, {s.label} (at the layers' mean V$_\\mathrm{{gate}}$)",
        )
        ax.annotate(s.label, (x, y), textcoords="offset points", xytext=(5, -12), fontsize=8)
    values = [100 * s.crossbar_accuracy for s in report.settings]
    low = min([*values, 100 * report.software_accuracy])
    high = max([*values, 100 * report.software_accuracy])
    pad = max(0.5, 0.15 * (high - low))
    ax.set_ylim(low - pad, min(100.0, high + pad) + 0.05)
    ax.set_xlabel("gate voltage V$_\\mathrm{gate}$ (V)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{report.model} on {report.dataset}: accuracy on crossbars", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _energy_figure(report: MapReport) -> Figure:
    """Energy per inference per setting relative to every layer at the baseline V_gate, as
    stacked bars of its read, gate (word line) and DAC + ADC shares."""
    settings = report.settings
    fig = new_figure((max(5.0, 0.75 * len(settings) + 2.5), 4.4))
    ax = fig.subplots()
    xs = list(range(len(settings)))
    parts = {"array read": "read_j", "gate (word line)": "gate_j"}
    bottoms = [0.0] * len(settings)
    bases = [s.energy.baseline_total_j or 1.0 for s in settings]
    periphery = [s.energy.dac_j + s.energy.adc_j for s in settings]
    series = [(label, [getattr(s.energy, attr) for s in settings]) for label, attr in parts.items()]
    if any(v > 0 for v in periphery):
        series.append(("DAC + ADC", periphery))
    for k, (label, values) in enumerate(series):
        heights = [v / b for v, b in zip(values, bases, strict=True)]
        ax.bar(xs, heights, bottom=bottoms, color=f"C{k}", label=label, width=0.7)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, s, top in zip(xs, settings, bottoms, strict=True):
        relative = s.energy_relative
        if relative is not None:
            ax.annotate(
                f"{relative:.3f}",
                (x, top),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
                zorder=4,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none"},
            )
    ax.axhline(
        1.0,
        color="black",
        ls="--",
        lw=1,
        zorder=1,
        label=f"every layer at {report.baseline_v_gate:g} V",
    )
    ax.set_xticks(
        xs, [s.label for s in settings], rotation=45 if len(settings) > 6 else 0, fontsize=8
    )
    ax.set_ylim(0, max([*bottoms, 1.0]) * 1.3)
    ax.set_xlabel("gate-voltage setting")
    ax.set_ylabel(f"energy per inference / energy at {report.baseline_v_gate:g} V")
    ax.set_title(f"{report.model} on {report.dataset}: crossbar energy per inference", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, loc="upper left", ncols=len(series) + 1)
    return fig


def _layers_figure(report: MapReport) -> Figure:
    """Per-layer V_gate and linear share of the first setting."""
    setting = report.settings[0]
    fig = new_figure((max(6.4, 0.5 * len(setting.layers) + 3.0), 4.2))
    gates, shares = fig.subplots(1, 2)
    names = [row.name for row in setting.layers]
    xs = list(range(len(names)))
    gates.bar(xs, [row.v_gate for row in setting.layers], color="C0", width=0.7)
    gates.set_ylabel("V$_\\mathrm{gate}$ (V)")
    grid = [float(v) for v in report.settings[0].v_gate.values()]
    gates.set_ylim(0, max([*grid, 1.0]) * 1.15)
    shares.bar(xs, [100 * row.linear_share for row in setting.layers], color="C2", width=0.7)
    shares.set_ylabel("weights inside the linear region (%)")
    shares.set_ylim(0, 110)
    for ax, values, fmt in (
        (gates, [r.v_gate for r in setting.layers], "{:.2f}"),
        (shares, [100 * r.linear_share for r in setting.layers], "{:.1f}"),
    ):
        for x, v in zip(xs, values, strict=True):
            ax.annotate(
                fmt.format(v),
                (x, v),
                textcoords="offset points",
                xytext=(0, 3),
                ha="center",
                fontsize=7,
            )
        ax.set_xticks(xs, names, rotation=45 if len(names) > 8 else 0, fontsize=8)
        ax.set_xlabel("crossbar layer")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(
        f"{report.model} on {report.dataset}, setting {setting.label}: gate voltage and "
        "linear share per layer\n(linear: |w| <= w_max(V$_\\mathrm{gate}$) x scale; "
        f"scale: {report.scale_source})",
        fontsize=9,
    )
    return fig
