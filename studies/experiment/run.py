"""The experiment end to end, resumable: :func:`run_experiment`.

characterize (or reuse) the LUT -> train the software baseline -> map it naively at each gate
voltage -> NEAT at each gate voltage -> heterogeneous gate voltages (data-free + NEAT, and
data-driven on the naive mapping) -> (with ``variability_chips``) accuracy over sampled chips at
each temperature (:mod:`~neatxbar.studies.experiment.variability`) -> one Markdown report with
tables and figures. Every stage
leaves a file in the output folder (the LUT, checkpoints); a rerun reuses them.

The output folder may hold other files: the experiment writes only its own names, lists them in
the folder's manifest (``neatxbar.core.outputs``) before writing each, and ``overwrite`` removes
only those. The final files (``results.json``, ``report.md``, the figures) are committed together.
Every input is checked before the first file is written.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.core.config import to_plain
from neatxbar.core.errors import ConfigError
from neatxbar.core.files import write_text
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.outputs import OutputFolder
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.energy import EnergyConfig, EnergyReport, model_energy
from neatxbar.mapping.gates import resolve_gate_voltages
from neatxbar.mapping.layers import crossbar_layers
from neatxbar.mapping.vgate import data_driven, data_free
from neatxbar.spice.params import Wires
from neatxbar.studies.experiment.figures import draw_figures
from neatxbar.studies.experiment.report import markdown
from neatxbar.studies.experiment.results import ExperimentResult, Setting, TrainingLog, WireSetup
from neatxbar.studies.experiment.settings import (
    FIGURES,
    LUT_FILES,
    MARKER,
    VALIDATION_FRACTION,
    VARIABILITY_FIGURE,
    ExperimentConfig,
    ExperimentSpec,
)
from neatxbar.studies.experiment.variability import (
    check_preset_temperatures,
    check_temperatures,
    measure,
)
from neatxbar.training.calibration import has_batchnorm, reestimate_batchnorm
from neatxbar.training.checkpoint import save_checkpoint
from neatxbar.training.data import DatasetSplits, load_dataset
from neatxbar.training.models import MODELS, build_model
from neatxbar.training.neat import NeatConfig, neat_train, weight_scales
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import evaluate, train

ENERGY_SAMPLES = 512  # test images the energy model runs on


def run_experiment(
    config: ExperimentConfig,
    out_dir: Path | str,
    *,
    overwrite: bool = False,
    progress: bool = True,
) -> ExperimentResult:
    """Run (or resume) the experiment into ``out_dir``; see the module docstring.

    Parameters
    ----------
    config
        The experiment (:meth:`ExperimentConfig.from_toml`).
    out_dir
        The output folder; it may hold other files, which are left alone.
    overwrite
        Start again when the folder holds a run of another config (removes only its files).
    progress
        Progress bars on stderr.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ConfigError, LUTError, DatasetError, OutputError
        (NeatErrors) a bad config, LUT or dataset, or an output folder holding another run
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
    given = CellLUT.load(exp.lut, temperature_c=exp.temperature_c) if exp.lut is not None else None
    _check_gates(exp, given)
    if given is not None:
        check_temperatures(exp, given)
    splits = load_dataset(exp.dataset, exp.data_dir, seed=exp.seed)
    _prepare(folder, config, overwrite)
    out = folder.path
    lut = given if given is not None else _characterized_lut(exp, folder, progress)
    check_temperatures(exp, lut)
    n = len(splits.train)
    cut = int((1 - VALIDATION_FRACTION) * n)
    fit, validation = Subset(splits.train, range(cut)), Subset(splits.train, range(cut, n))
    model = _software_model(config, fit, splits, folder, progress)
    software = evaluate(model, splits.test)
    scales = weight_scales(model)
    count = min(len(splits.test), ENERGY_SAMPLES)
    x = torch.stack([splits.test[i][0] for i in range(count)])
    energy = EnergyConfig.from_lut(lut)
    runner = _Runner(
        config,
        lut,
        model,
        scales,
        fit,
        splits.test,
        x,
        energy,
        folder,
        progress,
        _shape(splits),
        software,
    )
    settings = [runner.homogeneous(v) for v in exp.v_gates]
    weights = {name: layer.weight for name, layer in crossbar_layers(model).items()}
    free = data_free(weights, scales, lut, coverage=exp.coverage, highest=1.0)
    settings.append(runner.setting("data-free per layer: " + _text(free), free, "neat-data-free"))
    selection = Subset(validation, range(min(exp.selection_samples, len(validation))))
    gates, _, _ = data_driven(
        list(scales),
        lut,
        lambda g: evaluate(runner.naive(g), selection),
        baseline=1.0,
        budget=exp.accuracy_budget,
        lowest=min(exp.v_gates),
    )
    settings.append(runner.setting("data-driven per layer: " + _text(gates), gates, None))
    if exp.wire_ohm > 0:
        settings += _wired_settings(runner, exp, settings)
    variability = None
    if exp.variability:
        homogeneous = list(zip(exp.v_gates, settings, strict=False))
        variability = measure(
            config, lut, model, splits.test, homogeneous, runner.trained, progress
        )
    result = ExperimentResult(
        out, software, settings, out / "report.md", [], runner.logs, list(exp.v_gates), variability
    )
    with folder.staging() as stage:  # the final files, committed together
        draw_figures(result, stage.file)
        data = {
            "software": software,
            "settings": [dataclasses.asdict(s) for s in settings],
            "logs": [dataclasses.asdict(log) for log in runner.logs],
            "variability": None if variability is None else variability.to_dict(),
        }
        write_text(stage.file("results.json"), dumps_strict(data, indent=2))
        write_text(stage.file("report.md"), markdown(result, config, lut))
    extra = (VARIABILITY_FIGURE,) if variability is not None else ()
    result.figures = [out / name for name in (*FIGURES, *extra)]
    return result


def _wired_settings(runner: _Runner, exp: ExperimentSpec, settings: list[Setting]) -> list[Setting]:
    """With wires: every layer at each of ``wire_v_gates``, then the data-free per-layer gates;
    NEAT's model (trained without wires) wherever NEAT ran in the matching setting."""
    homogeneous, free = settings[: len(exp.v_gates)], settings[len(exp.v_gates)]
    ohm = f"{exp.wire_ohm:g}-ohm wires"
    out = []
    for v in exp.wire_v_gates:
        base = next(s for u, s in zip(exp.v_gates, homogeneous, strict=True) if abs(u - v) <= 1e-9)
        neat = f"neat-{v:.2f}" if base.neat is not None else None
        out.append(runner.wired(f"all layers at {v:.2f} V, {ohm}", base, neat))
    neat = "neat-data-free" if free.neat is not None else None
    out.append(runner.wired(f"data-free per layer, {ohm}", free, neat))
    return out


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
            raise ConfigError(
                f"{folder.path} holds a run of another experiment config; "
                "use --overwrite or another --out"
            )
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
    check_preset_temperatures(exp, spec.temperature.values_c)
    grid = spec.v_gate.values()
    for v in exp.v_gates:
        if not (abs(grid - float(v)) <= 1e-9).any():
            values = ", ".join(f"{g:.3g}" for g in grid.tolist())
            raise ConfigError(
                f"experiment.v_gates: {v} V is not on the gate grid of preset {exp.preset!r} "
                f"({values} V); choose values on it"
            )


def _characterized_lut(exp: ExperimentSpec, folder: OutputFolder, progress: bool) -> CellLUT:
    """The preset's LUT in the folder, characterized unless a previous run left it there."""
    spec, text = load_preset(exp.preset)
    path = folder.path / "lut.h5"
    if not path.exists():
        folder.record(LUT_FILES)
        characterize(spec, text, path, progress=progress)
    return CellLUT.load(path, temperature_c=exp.temperature_c)


def _shape(splits: DatasetSplits) -> dict[str, int]:
    return {
        "num_classes": splits.num_classes,
        "in_channels": splits.in_channels,
        "image_size": splits.image_size,
    }


def _software_model(
    config: ExperimentConfig,
    fit: Subset,
    splits: DatasetSplits,
    folder: OutputFolder,
    progress: bool,
) -> nn.Module:
    """The float model, trained on ``fit`` (or reloaded from ``software.pt``)."""
    path = folder.path / "software.pt"
    if path.exists():
        return model_from_checkpoint(path)[0]
    torch.manual_seed(config.experiment.seed)
    model = build_model(config.experiment.model, **_shape(splits))
    train(model, fit, None, config.train, progress=progress, description="software")
    header = {
        "model": config.experiment.model,
        "dataset": splits.name,
        **_shape(splits),
        "accuracy": evaluate(model, splits.test),
    }
    folder.record([path.name])
    save_checkpoint(path, model, header)
    return model


def _text(gates: dict[str, float]) -> str:
    """A per-layer choice in a few words: every gate voltage when there are a few layers, else
    the range and the mean (the full choice is in results.json and the per-layer figure)."""
    if len(gates) <= 4:
        return ", ".join(f"{k}: {v:.2f}" for k, v in gates.items()) + " V"
    values = list(gates.values())
    return f"{min(values):.2f}-{max(values):.2f} V, mean {sum(values) / len(values):.3f} V"


@dataclass
class _Runner:
    """Evaluates one gate-voltage setting: naive mapping, NEAT (trained or reloaded), energy."""

    config: ExperimentConfig
    lut: CellLUT
    model: nn.Module
    scales: dict[str, float]
    fit: Subset
    test: Dataset
    x: torch.Tensor
    energy: EnergyConfig
    folder: OutputFolder
    progress: bool
    shape: dict[str, int]
    software: float = 1.0
    logs: list[TrainingLog] = field(default_factory=list)

    def naive(
        self,
        gates: float | dict[str, float],
        model: nn.Module | None = None,
        scales: dict[str, float] | None = None,
    ) -> nn.Module:
        return convert(
            model or self.model, self.lut, self.config.mapping, v_gate=gates, weight_scales=scales
        ).eval()

    def energy_of(self, twin: nn.Module) -> EnergyReport:
        return model_energy(twin, self.x, self.energy)

    def calibrated(self, twin: nn.Module) -> float | None:
        """Test accuracy of ``twin`` with its BatchNorm statistics re-estimated through it (None
        when the experiment does not ask for it or the model has no BatchNorm)."""
        exp = self.config.experiment
        if not exp.bn_recalibration or not has_batchnorm(twin):
            return None
        twin = reestimate_batchnorm(copy.deepcopy(twin), self.fit, exp.calibration_samples)
        return evaluate(twin, self.test)

    def homogeneous(self, v_gate: float) -> Setting:
        """Every layer at ``v_gate``: naive, NEAT where asked and possible, emulation-trained
        where asked."""
        exp = self.config.experiment
        label, name = f"all layers at {v_gate:.2f} V", f"neat-{v_gate:.2f}"
        result = self.setting(label, v_gate, None)
        if exp.neat_when_loss is not None:  # NEAT where the naive mapping loses more than that
            asked = self.software - result.naive > exp.neat_when_loss
        else:
            asked = exp.neat_v_gates is None or any(
                abs(v_gate - v) <= 1e-9 for v in exp.neat_v_gates
            )
        if asked:
            self.add_neat(result, name)
        if any(abs(v_gate - v) <= 1e-9 for v in exp.emulation_v_gates):
            trained = self._trained(f"emulation-{v_gate:.2f}", result.gates, self.config.emulation)
            twin = self.naive(result.gates, trained, self.scales)
            result.emulation = evaluate(twin, self.test)
        return result

    def setting(self, label: str, gates: float | dict[str, float], name: str | None) -> Setting:
        """Naive and (when ``name`` is given) NEAT accuracy and energy saving at ``gates``; the
        NEAT model is saved as ``<name>.pt``."""
        twin = self.naive(gates)
        per_layer = resolve_gate_voltages(self.model, gates)
        report = self.energy_of(twin)
        result = Setting(label, per_layer, evaluate(twin, self.test))
        result.saving_naive = 1 - report.relative_to_baseline
        result.energy_pj = _energy_parts(report)
        result.naive_bn = self.calibrated(twin)
        if name is not None:
            self.add_neat(result, name)
        return result

    def add_neat(self, result: Setting, name: str) -> None:
        """NEAT's accuracy and energy saving at ``result.gates`` into ``result`` (the model is
        saved as ``<name>.pt``); a note instead where a bound is 0."""
        gates = result.gates
        bounds = [float(self.lut.w_max[self.lut.gate_index(v)]) for v in gates.values()]
        if min(bounds) == 0:
            result.note = "no NEAT: w_max = 0 (no conductance is linear within the tolerance)"
            return
        trained = self._trained(name, gates, self.config.neat)
        twin = self.naive(gates, trained, self.scales)
        result.neat = evaluate(twin, self.test)
        result.saving_neat = 1 - self.energy_of(twin).relative_to_baseline
        result.neat_bn = self.calibrated(twin)

    def wired(self, label: str, base: Setting, neat: str | None) -> Setting:
        """Naive and (when ``neat`` names NEAT's checkpoint, reloaded, not retrained) NEAT accuracy
        at ``base``'s gates with wires of ``wire_ohm`` per segment, on the first ``wire_samples``
        test images (None: all of them); no energy (the energy model has no wires)."""
        exp = self.config.experiment
        wires = Wires(r_row=exp.wire_ohm, r_col=exp.wire_ohm)
        mapping = dataclasses.replace(self.config.mapping, wires=wires)
        test, whole = self.test, True
        if exp.wire_samples is not None and exp.wire_samples < len(self.test):
            test, whole = Subset(self.test, range(exp.wire_samples)), False
        gates = dict(base.gates)
        naive = self._wired_accuracy(f"{label}, naive", self.model, mapping, gates, test)
        result = Setting(label, gates, naive)
        if neat is not None:  # the checkpoint the setting without wires trained, reloaded
            trained = self._trained(neat, gates, self.config.neat)
            result.neat = self._wired_accuracy(
                f"{label}, NEAT", trained, mapping, gates, test, self.scales
            )
        result.wires = WireSetup(exp.wire_ohm, len(test), whole, mapping.path, base.label)
        n = len(test)
        images = f"the whole test set ({n} images)" if whole else f"the first {n} test images"
        result.note = (
            f"{exp.wire_ohm:g} ohm per row and column wire segment, on {images}, "
            f"{result.wires.solver} (mapping path {mapping.path!r}); energy not modelled with wires"
        )
        return result

    def _wired_accuracy(
        self,
        label: str,
        model: nn.Module,
        mapping: MappingConfig,
        gates: dict[str, float],
        test: Dataset,
        scales: dict[str, float] | None = None,
    ) -> float:
        """Test accuracy of ``model``'s crossbar twin with wires: one twin, evaluated without
        gradients, so each layer computes its reduced circuit once (on the first batch) and
        reuses it on every other."""
        twin = convert(model, self.lut, mapping, v_gate=gates, weight_scales=scales)
        return evaluate(twin, test, progress=self.progress, desc=label)

    def _trained(self, name: str, gates: dict[str, float], how: NeatConfig) -> nn.Module:
        """NEAT (or training through the emulation) from the software model at ``gates``, saved
        as ``<name>.pt`` with its per-iteration log, or reloaded from there."""
        return self.trained(name, gates, how)[0]

    def trained(
        self,
        name: str,
        gates: dict[str, float],
        how: NeatConfig,
        start: nn.Module | None = None,
        mapping: MappingConfig | None = None,
    ) -> tuple[nn.Module, dict[str, float]]:
        """NEAT (or training through the emulation) from the software model at ``gates`` with
        ``mapping`` (default the experiment's), or with ``start`` (NEAT's model) its noise-aware
        fine-tune (:func:`~neatxbar.training.neat.neat_train` from ``start`` with the software
        model's weight scales, on ``noise_aware_samples`` training images); saved as
        ``<name>.pt`` with its per-iteration log and weight scales, or reloaded from there.
        Returns the model and the weight scales (layer units) it is deployed with."""
        path = self.folder.path / f"{name}.pt"
        if path.exists():
            model, header = model_from_checkpoint(path)
            self._log(name, header.get("log", {}))
            return model, dict(header.get("weight_scales") or self.scales)
        mapping = self.config.mapping if mapping is None else mapping
        fit, scales = self.fit, None
        if start is not None:  # a fine-tune of ``start``, deployed with the software's scales
            limit = self.config.experiment.noise_aware_samples
            fit = fit if limit is None else Subset(fit, range(min(limit, len(fit))))
            scales = self.scales
        trained, log = neat_train(
            self.model if start is None else start,
            self.lut,
            fit,
            self.test,
            gates,
            how,
            mapping,
            weight_scales=scales,
            progress=self.progress,
        )
        record = {"accuracy": log.accuracy, "share": log.share, "initial_share": log.initial_share}
        header: dict[str, Any] = {
            "model": self.config.experiment.model,
            "v_gate": gates,
            "weight_scales": log.scales,
            "neat_accuracy": log.accuracy,
            "linear_share": log.share[-1],
            "log": record,
        }
        self.folder.record([path.name])
        save_checkpoint(path, trained, header | self.shape)
        self._log(name, record)
        return trained, dict(log.scales)

    def _log(self, name: str, record: dict[str, Any]) -> None:
        if any(log.label == name for log in self.logs):  # a checkpoint used twice
            return
        self.logs.append(
            TrainingLog(
                name,
                list(record.get("accuracy", [])),
                list(record.get("share", [])),
                dict(record.get("initial_share", {})),
            )
        )


def _energy_parts(report: EnergyReport) -> dict[str, float]:
    """An energy report's totals by part, in pJ per inference."""
    parts = {
        "read": report.read_j,
        "gate": report.gate_j,
        "dac": report.dac_j,
        "adc": report.adc_j,
        "total": report.total_j,
        "baseline": report.baseline_total_j,
    }
    return {k: v * 1e12 for k, v in parts.items()}
