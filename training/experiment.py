"""The paper's experiment end to end, from one TOML file, resumable.

characterize (or reuse) the LUT -> train the software baseline -> map it naively at each gate
voltage -> NEAT at each gate voltage -> heterogeneous gate voltages (data-free + NEAT, and
data-driven on the naive mapping) -> one Markdown report with tables and figures. Every stage
leaves a file in the output folder (the LUT, checkpoints); a rerun reuses them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
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
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, WireResistance, convert
from neatxbar.mapping.energy import EnergyConfig, model_energy
from neatxbar.mapping.vgate import data_driven, data_free
from neatxbar.training.checkpoint import save_checkpoint
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.neat import NeatConfig, neat_train, weight_scales
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import TrainConfig, evaluate, train

VALIDATION_FRACTION = 0.2  # of the training split, held out for the data-driven selection


@dataclass(frozen=True)
class ExperimentSpec:
    """The ``[experiment]`` table: what to run (see ``configs/experiment-digits.toml``)."""

    name: str = "experiment"
    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "mlp"
    lut_preset: str | None = "paper"
    lut: str | None = None
    v_gates: list[float] = field(default_factory=lambda: [0.7, 0.75, 0.8, 0.9, 1.0])
    coverage: float = 0.995
    accuracy_budget: float = 0.01
    seed: int = 0
    wire_ohm: float = 0.0
    wire_samples: int = 120

    def validate(self) -> ExperimentSpec:
        if (self.lut is None) == (self.lut_preset is None):
            raise ConfigError("experiment: give exactly one of lut (a file) or lut_preset")
        if not self.v_gates or not all(isinstance(v, int | float) for v in self.v_gates):
            raise ConfigError("experiment.v_gates must be a non-empty list of voltages")
        if not 0 < self.coverage <= 1:
            raise ConfigError(f"experiment.coverage must be in (0, 1], got {self.coverage}")
        if not self.wire_ohm >= 0 or self.wire_samples < 1:
            raise ConfigError("experiment.wire_ohm must be >= 0 ohm and wire_samples >= 1")
        if not 0 <= self.accuracy_budget < 1:
            raise ConfigError(
                f"experiment.accuracy_budget must be in [0, 1), got {self.accuracy_budget}"
            )
        return self


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
        """Load and validate an experiment TOML (tables experiment, train, neat, mapping)."""
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


def _prepare(out: Path, config: ExperimentConfig, overwrite: bool) -> None:
    marker = out / "experiment.json"
    sha = config.sha256()
    if marker.exists():
        old = json.loads(marker.read_text()).get("sha256")
        if old != sha and not overwrite:
            raise ConfigError(f"{out} holds a run of another experiment config; "
                              "use --overwrite or another --out")  # fmt: skip
        if old != sha:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(marker, json.dumps({"sha256": sha, "config": to_plain(config)}, indent=2))


def _lut(config: ExperimentSpec, out: Path, progress: bool) -> CellLUT:
    if config.lut is not None:
        return CellLUT.load(config.lut)
    spec, text = load_preset(config.lut_preset)
    path = out / "lut.h5"
    characterize(spec, text, path, progress=progress)
    return CellLUT.load(path)


def _model(
    config: ExperimentConfig, fit: Subset, splits: Any, out: Path, progress: bool
) -> nn.Module:
    path = out / "software.pt"
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
    save_checkpoint(path, model, header)
    return model


def run_experiment(config: ExperimentConfig, out_dir: Path | str, *, overwrite: bool = False,
                   progress: bool = True) -> ExperimentResult:  # fmt: skip
    """Run (or resume) the experiment into ``out_dir``; see the module docstring."""
    config.validate()
    out = Path(out_dir)
    _prepare(out, config, overwrite)
    exp = config.experiment
    lut = _lut(exp, out, progress)
    for v in exp.v_gates:
        lut.gate_index(v)
    splits = load_dataset(exp.dataset, exp.data_dir, seed=exp.seed)
    n = len(splits.train)
    cut = int((1 - VALIDATION_FRACTION) * n)
    fit, validation = Subset(splits.train, range(cut)), Subset(splits.train, range(cut, n))
    model = _model(config, fit, splits, out, progress)
    software = evaluate(model, splits.test)
    scales = weight_scales(model)
    x = torch.stack([splits.test[i][0] for i in range(min(len(splits.test), 512))])
    energy_config = EnergyConfig.from_lut(lut)
    shape = {"num_classes": splits.num_classes, "in_channels": splits.in_channels,
             "image_size": splits.image_size}  # fmt: skip
    runner = _Runner(config, lut, model, scales, fit, splits.test, x, energy_config, out,
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
    result.figures = _figures(result, exp.v_gates)
    write_text(
        out / "results.json",
        json.dumps({"software": software, "settings": [s.__dict__ for s in settings]}, indent=2),
    )
    write_text(result.report, _markdown(result, config, lut))
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
    out: Path
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
        path = self.out / f"{name}.pt"
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
        save_checkpoint(path, trained, header | self.shape)
        return trained


def _per_layer(model: nn.Module, gates: float | dict[str, float]) -> dict[str, float]:
    names = list(_layers(model))
    if isinstance(gates, int | float):
        return dict.fromkeys(names, float(gates))
    return {name: float(gates[name]) for name in names}


def _figures(result: ExperimentResult, v_gates: list[float]) -> list[Path]:
    homogeneous = result.settings[: len(v_gates)]
    paths = []
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
    paths.append(save_png(fig, result.out_dir / "accuracy_vs_vgate.png"))
    fig = new_figure((6.4, 4.2))
    ax = fig.subplots()
    ax.bar(v_gates, [100 * s.saving_naive for s in homogeneous], width=0.03)
    ax.set_xlabel("gate voltage of every layer, $V_\\mathrm{gate}$ (V)")
    ax.set_ylabel("energy saving against 1.0 V (%)")
    ax.grid(alpha=0.3, axis="y")
    paths.append(save_png(fig, result.out_dir / "energy_vs_vgate.png"))
    return paths


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
