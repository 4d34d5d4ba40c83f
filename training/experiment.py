"""The paper's experiment end to end, from one TOML file, resumable.

characterize (or reuse) the LUT -> train the software baseline -> map it naively at each gate
voltage -> NEAT at each gate voltage -> heterogeneous gate voltages (data-free + NEAT, and
data-driven on the naive mapping) -> one Markdown report with tables and figures. Every stage
leaves a file in the output folder (the LUT, checkpoints); a rerun reuses them.

The output folder may hold other files: the experiment writes only its own names, lists them in
the folder's manifest (``neatxbar.core.outputs``) before writing each, and ``overwrite`` removes
only those. The final files (``results.json``, ``report.md``, the figures) are committed together.
Every input is checked before the first file is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Subset

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.core.config import ConfigError, from_toml_file, to_plain
from neatxbar.core.files import new_figure, save_png, write_text
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.outputs import OutputFolder
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, WireResistance, convert
from neatxbar.mapping.config import check_config_numbers, check_tables, check_v_gate
from neatxbar.mapping.energy import EnergyConfig, model_energy
from neatxbar.mapping.vgate import data_driven, data_free
from neatxbar.training.checkpoint import save_checkpoint
from neatxbar.training.data import load_dataset
from neatxbar.training.models import MODELS, build_model
from neatxbar.training.neat import NeatConfig, neat_train, weight_scales
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import TrainConfig, evaluate, train

VALIDATION_FRACTION = 0.2  # of the training split, held out for the data-driven selection
DEFAULT_PRESET = "paper"  # the LUT preset when neither lut nor lut_preset is given
MARKER = "experiment.json"
FINAL_FILES = ("results.json", "report.md", "accuracy_vs_vgate.png", "energy_vs_vgate.png")
LUT_FILES = ("lut.h5", "lut.h5.partial", "lut.h5.partial.tmp")  # characterize's own names


@dataclass(frozen=True)
class ExperimentSpec:
    """The ``[experiment]`` table: what to run (see ``configs/experiment-digits.toml``)."""

    name: str = "experiment"
    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "mlp"
    lut_preset: str | None = None
    lut: str | None = None
    v_gates: list[float] = field(default_factory=lambda: [0.7, 0.75, 0.8, 0.9, 1.0])
    coverage: float = 0.995
    accuracy_budget: float = 0.01
    seed: int = 0
    wire_ohm: float = 0.0
    wire_samples: int = 120

    def validate(self) -> ExperimentSpec:
        if self.lut is not None and self.lut_preset is not None:
            raise ConfigError(
                "experiment: give lut (a LUT file) or lut_preset (a preset name), not both"
            )
        if not self.v_gates or not all(isinstance(v, int | float) for v in self.v_gates):
            raise ConfigError("experiment.v_gates must be a non-empty list of voltages")
        for v in self.v_gates:
            check_v_gate("experiment.v_gates", v)
        check_config_numbers(self, "experiment")
        if not 0 < self.coverage <= 1:
            raise ConfigError(f"experiment.coverage must be in (0, 1], got {self.coverage}")
        if not self.wire_ohm >= 0 or self.wire_samples < 1:
            raise ConfigError("experiment.wire_ohm must be >= 0 ohm and wire_samples >= 1")
        if not 0 <= self.accuracy_budget < 1:
            raise ConfigError(
                f"experiment.accuracy_budget must be in [0, 1), got {self.accuracy_budget}"
            )
        return self

    @property
    def preset(self) -> str | None:
        """The LUT preset to characterize: None when ``lut`` names a file, else ``lut_preset``
        (default :data:`DEFAULT_PRESET`)."""
        if self.lut is not None:
            return None
        return self.lut_preset or DEFAULT_PRESET

    def output_names(self) -> list[str]:
        """Every file name the experiment may write into its folder."""
        names = [MARKER, *(LUT_FILES if self.lut is None else ()), "software.pt"]
        names += [f"neat-{v:.2f}.pt" for v in self.v_gates] + ["neat-data-free.pt"]
        return names + list(FINAL_FILES)


@dataclass(frozen=True)
class ExperimentConfig:
    """The whole experiment: ``[experiment]``, ``[train]``, ``[neat]``, ``[mapping]``."""

    experiment: ExperimentSpec = field(default_factory=ExperimentSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    neat: NeatConfig = field(default_factory=NeatConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)

    def validate(self) -> ExperimentConfig:
        self.experiment.validate()
        self.train.validate()
        self.neat.validate()
        self.mapping.validate()
        return self

    @classmethod
    def from_toml(cls, path: Path | str) -> ExperimentConfig:
        """Load and validate an experiment TOML (tables experiment, train, neat, mapping; any
        other top-level table is refused, saying where it belongs)."""
        homes = {"experiment": ExperimentSpec, "train": TrainConfig, "neat": NeatConfig,
                 "mapping": MappingConfig}  # fmt: skip
        check_tables(path, homes, "experiment config")
        return from_toml_file(cls, path)

    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(to_plain(self), sort_keys=True).encode()).hexdigest()


@dataclass
class Setting:
    """One evaluated configuration of gate voltages."""

    label: str
    gates: dict[str, float]
    naive: float
    neat: float | None
    saving_naive: float | None
    saving_neat: float | None
    note: str = ""


@dataclass
class ExperimentResult:
    out_dir: Path
    software: float
    settings: list[Setting]
    report: Path
    figures: list[Path]

    def table(self) -> str:
        """The final table as Markdown."""
        lines = [
            "| gate voltages | naive mapping (%) | NEAT (%) | energy saving, naive (%) | "
            "energy saving, NEAT (%) |",
            "|---|---|---|---|---|",
            f"| software (ideal float) | {100 * self.software:.2f} | | | |",
        ]
        for s in self.settings:
            neat = "n/a" if s.neat is None else f"{100 * s.neat:.2f}"
            saving = "" if s.saving_neat is None else f"{100 * s.saving_neat:.1f}"
            lines.append(f"| {s.label} | {100 * s.naive:.2f} | {neat} | "
                         f"{_percent(s.saving_naive)} | {saving} |")  # fmt: skip
        return "\n".join(lines)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _recorded_sha(marker: Path) -> str | None:
    """The config hash in an experiment.json (None if it has none)."""
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("sha256") if isinstance(data, dict) else None


def _prepare(folder: OutputFolder, config: ExperimentConfig, overwrite: bool) -> None:
    """Resume the run of the same config in the folder, refuse (or with ``overwrite`` remove the
    files of) a run of another config, and write the marker. Removes only files listed in the
    folder's manifest."""
    marker = folder.path / MARKER
    sha = config.sha256()
    if marker.exists():
        if _recorded_sha(marker) == sha:
            return
        if not overwrite:
            raise ConfigError(f"{folder.path} holds a run of another experiment config; "
                              "use --overwrite or another --out")  # fmt: skip
        folder.clear()
    folder.record([MARKER])
    write_text(marker, dumps_strict({"sha256": sha, "config": to_plain(config)}, indent=2))


def _check_gates(exp: ExperimentSpec, lut: CellLUT | None) -> None:
    """Every experiment gate voltage on the LUT's gate grid (the preset's grid when the LUT is
    still to be characterized)."""
    if lut is not None:
        for v in exp.v_gates:
            lut.gate_index(v)
        return
    spec, _ = load_preset(exp.preset)
    grid = spec.v_gate.values()
    for v in exp.v_gates:
        if not (abs(grid - float(v)) <= 1e-9).any():
            values = ", ".join(f"{g:.3g}" for g in grid.tolist())
            raise ConfigError(
                f"experiment.v_gates: {v} V is not on the gate grid of preset {exp.preset!r} "
                f"({values} V); choose values on it"
            )


def _lut(config: ExperimentSpec, folder: OutputFolder, progress: bool) -> CellLUT:
    spec, text = load_preset(config.preset)
    path = folder.path / "lut.h5"
    if not path.exists():
        folder.record(LUT_FILES)
        characterize(spec, text, path, progress=progress)
    return CellLUT.load(path)


def _model(
    config: ExperimentConfig, fit: Subset, splits: Any, folder: OutputFolder, progress: bool
) -> nn.Module:
    path = folder.path / "software.pt"
    if path.exists():
        return model_from_checkpoint(path)[0]
    torch.manual_seed(config.experiment.seed)
    model = build_model(config.experiment.model, splits.num_classes, splits.in_channels,
                        splits.image_size)  # fmt: skip
    train(model, fit, None, config.train, progress=progress, description="software")
    header = {
        "model": config.experiment.model,
        "dataset": splits.name,
        "num_classes": splits.num_classes,
        "in_channels": splits.in_channels,
        "image_size": splits.image_size,
        "accuracy": evaluate(model, splits.test),
    }
    folder.record([path.name])
    save_checkpoint(path, model, header)
    return model


def run_experiment(config: ExperimentConfig, out_dir: Path | str, *, overwrite: bool = False,
                   progress: bool = True) -> ExperimentResult:  # fmt: skip
    """Run (or resume) the experiment into ``out_dir``; see the module docstring.

    Raises
    ------
    ConfigError, LUTError, DatasetError, OutputError
        (ValueErrors) a bad config, LUT or dataset, or an output folder holding another run
        (without ``overwrite``) or a file of the user's under one of the experiment's names;
        all found before any file is written.
    """
    config.validate()
    exp = config.experiment
    folder = OutputFolder(out_dir, inputs=(exp.lut,))
    folder.check(exp.output_names())
    if exp.model not in MODELS:
        raise ConfigError(
            f"experiment.model: no model {exp.model!r}; choose one of {', '.join(MODELS)}"
        )
    given = CellLUT.load(exp.lut) if exp.lut is not None else None
    _check_gates(exp, given)
    splits = load_dataset(exp.dataset, exp.data_dir, seed=exp.seed)
    _prepare(folder, config, overwrite)
    out = folder.path
    lut = given if given is not None else _lut(exp, folder, progress)
    n = len(splits.train)
    cut = int((1 - VALIDATION_FRACTION) * n)
    fit, validation = Subset(splits.train, range(cut)), Subset(splits.train, range(cut, n))
    model = _model(config, fit, splits, folder, progress)
    software = evaluate(model, splits.test)
    scales = weight_scales(model)
    x = torch.stack([splits.test[i][0] for i in range(min(len(splits.test), 512))])
    energy_config = EnergyConfig.from_lut(lut)
    shape = {"num_classes": splits.num_classes, "in_channels": splits.in_channels,
             "image_size": splits.image_size}  # fmt: skip
    runner = _Runner(config, lut, model, scales, fit, splits.test, x, energy_config, folder,
                     progress, shape)  # fmt: skip
    settings = [runner.setting(f"all layers at {v:.2f} V", v, f"neat-{v:.2f}") for v in exp.v_gates]
    free = data_free({k: m.weight for k, m in _layers(model).items()}, scales, lut,
                     coverage=exp.coverage, highest=1.0)  # fmt: skip
    settings.append(runner.setting("data-free per layer: " + _text(free), free, "neat-data-free"))
    gates, _, _ = data_driven(list(scales), lut, lambda g: evaluate(runner.naive(g), validation),
                              baseline=1.0, budget=exp.accuracy_budget)  # fmt: skip
    settings.append(runner.setting("data-driven per layer: " + _text(gates), gates, None))
    if exp.wire_ohm > 0:
        settings.append(runner.wired(f"data-free per layer, {exp.wire_ohm:g}-ohm wires", free))
    result = ExperimentResult(out, software, settings, out / "report.md", [])
    with folder.staging() as stage:  # the final files, committed together
        _figures(result, exp.v_gates, stage.file)
        text = dumps_strict({"software": software, "settings": [s.__dict__ for s in settings]},
                            indent=2)  # fmt: skip
        write_text(stage.file("results.json"), text)
        write_text(stage.file("report.md"), _markdown(result, config, lut))
    result.figures = [out / name for name in ("accuracy_vs_vgate.png", "energy_vs_vgate.png")]
    return result


def _layers(model: nn.Module) -> dict[str, nn.Module]:
    from neatxbar.mapping.convert import crossbar_layers

    return crossbar_layers(model)


def _text(gates: dict[str, float]) -> str:
    return ", ".join(f"{k}: {v:.2f}" for k, v in gates.items()) + " V"


@dataclass
class _Runner:
    config: ExperimentConfig
    lut: CellLUT
    model: nn.Module
    scales: dict[str, float]
    fit: Subset
    test: Any
    x: torch.Tensor
    energy: EnergyConfig
    folder: OutputFolder
    progress: bool
    shape: dict[str, int]

    def naive(self, gates: float | dict[str, float], model: nn.Module | None = None,
              scales: dict[str, float] | None = None) -> nn.Module:  # fmt: skip
        return convert(model or self.model, self.lut, self.config.mapping, v_gate=gates,
                       weight_scales=scales).eval()  # fmt: skip

    def saving(self, twin: nn.Module) -> float:
        return 1 - model_energy(twin, self.x, self.energy).relative_to_baseline

    def setting(self, label: str, gates: float | dict[str, float], name: str | None) -> Setting:
        twin = self.naive(gates)
        result = Setting(label, _per_layer(self.model, gates), evaluate(twin, self.test), None,
                         self.saving(twin), None)  # fmt: skip
        if name is None:
            result.note = "naive mapping only (the selection keeps the naive accuracy)"
            return result
        bounds = [float(self.lut.w_max[self.lut.gate_index(v)]) for v in result.gates.values()]
        if min(bounds) == 0:
            result.note = "no NEAT: w_max = 0 (no conductance is linear within the tolerance)"
            return result
        trained = self._neat(name, result.gates)
        twin = self.naive(result.gates, trained, self.scales)
        result.neat, result.saving_neat = evaluate(twin, self.test), self.saving(twin)
        return result

    def wired(self, label: str, gates: dict[str, float]) -> Setting:
        """Naive and NEAT (data-free checkpoint) accuracy with wire resistance, on the first
        ``wire_samples`` test images (the circuit solver is slow on CPU); no energy (the energy
        model has no wires)."""
        exp = self.config.experiment
        mapping = dataclasses.replace(
            self.config.mapping, wires=WireResistance(r_row=exp.wire_ohm, r_col=exp.wire_ohm)
        )
        subset = Subset(self.test, range(min(exp.wire_samples, len(self.test))))
        naive = convert(self.model, self.lut, mapping, v_gate=gates).eval()
        trained = self._neat("neat-data-free", gates)
        neat = convert(trained, self.lut, mapping, v_gate=gates, weight_scales=self.scales).eval()
        note = f"with wires, on the first {len(subset)} test images; energy not modelled with wires"
        return Setting(label, gates, evaluate(naive, subset), evaluate(neat, subset), None, None,
                       note)  # fmt: skip

    def _neat(self, name: str, gates: dict[str, float]) -> nn.Module:
        path = self.folder.path / f"{name}.pt"
        if path.exists():
            return model_from_checkpoint(path)[0]
        trained, log = neat_train(
            self.model,
            self.lut,
            self.fit,
            self.test,
            gates,
            self.config.neat,
            self.config.mapping,
            progress=self.progress,
        )
        header = {"model": self.config.experiment.model, "v_gate": gates,
                  "weight_scales": log.scales, "neat_accuracy": log.accuracy,
                  "linear_share": log.share[-1]}  # fmt: skip
        self.folder.record([path.name])
        save_checkpoint(path, trained, header | self.shape)
        return trained


def _per_layer(model: nn.Module, gates: float | dict[str, float]) -> dict[str, float]:
    names = list(_layers(model))
    if isinstance(gates, int | float):
        return dict.fromkeys(names, float(gates))
    return {name: float(gates[name]) for name in names}


def _figures(result: ExperimentResult, v_gates: list[float], path: Callable[[str], Path]) -> None:
    """Draw the two figures; ``path(name)`` is where the file ``name`` is written."""
    homogeneous = result.settings[: len(v_gates)]
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.axhline(100 * result.software, color="black", ls="--", label="software")
    ax.plot(v_gates, [100 * s.naive for s in homogeneous], "o-", label="naive mapping")
    neat = [(v, 100 * s.neat) for v, s in zip(v_gates, homogeneous, strict=True) if s.neat]
    if neat:
        ax.plot(*zip(*neat, strict=True), "s-", label="NEAT")
    ax.set_xlabel("gate voltage of every layer, $V_\\mathrm{gate}$ (V)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    save_png(fig, path("accuracy_vs_vgate.png"))
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.bar(v_gates, [100 * s.saving_naive for s in homogeneous], width=0.03)
    ax.set_xlabel("gate voltage of every layer, $V_\\mathrm{gate}$ (V)")
    ax.set_ylabel("energy saving against 1.0 V (%)")
    ax.grid(alpha=0.3, axis="y")
    save_png(fig, path("energy_vs_vgate.png"))


def _markdown(result: ExperimentResult, config: ExperimentConfig, lut: CellLUT) -> str:
    exp = config.experiment
    notes = "\n".join(f"- {s.label}: {s.note}" for s in result.settings if s.note)
    return f"""# NEAT experiment: {exp.name}

Model `{exp.model}` on `{exp.dataset}`, LUT `{lut.path}` (tolerance {lut.tolerance:.1%}), NEAT
{config.neat.iterations} iterations x {config.neat.epochs_per_iteration} epochs, Adam lr
{config.neat.lr}.
Accuracy on the test split; energy per inference against every layer at 1.0 V on the same inputs
(`docs/energy.md`). Computed in this run.

{result.table()}

{notes}

![accuracy against gate voltage](accuracy_vs_vgate.png)

![energy saving against gate voltage](energy_vs_vgate.png)
"""
