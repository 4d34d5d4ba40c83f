"""``deploy``: what ``neat map`` does, callable from Python.

A trained model (a checkpoint of ``neat train``, or a plain state_dict with its model name) is
mapped onto 1T-1R crossbars at one or more gate-voltage settings
(:mod:`~neatxbar.studies.neat_map.settings`). For each setting: the crossbar accuracy on the test
split, the share of each layer's weights inside the linear region of its V_gate, the fast path's K
per layer, and the energy per inference (:mod:`neatxbar.mapping.energy`) against every layer at
the baseline V_gate. With an output folder the report is written there
(:func:`~neatxbar.studies.neat_map.report.write_report`).

A NEAT checkpoint's ``weight_scales`` (the weight that maps to G_max per layer) are used for
deployment: its weights were trained for those scales.

With a Monte Carlo over chips (``monte_carlo``), every setting is also evaluated on each sampled
chip (the mapping's ``variation``: programming variation, read noise, stuck cells, transistor
mismatch; each chip drawn from its seed by :func:`neatxbar.mapping.set_chip`); the setting's own
accuracy, linear share and energy are then those of the nominal chip (no variation). The LUT is
read at one temperature (``temperature_c``; default 27 C, or the file's first).

Typical use::

    report = deploy("checkpoints/mlp.pt", "luts/paper.h5", sweep="0.7:1.3:0.1", out_dir="out")
    print(report.table())
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from neatxbar.core.checks import check_integer
from neatxbar.core.outputs import OutputFolder
from neatxbar.core.progress import progress_bar
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert, set_chip
from neatxbar.mapping.convert import crossbar_layers, describe
from neatxbar.mapping.energy import EnergyConfig, EnergyReport, LayerEnergy, model_energy
from neatxbar.studies.neat_map.report import FILES, write_report
from neatxbar.studies.neat_map.results import ChipStats, LayerResult, MapReport, SettingResult
from neatxbar.studies.neat_map.settings import (
    GateSetting,
    GateSpec,
    MonteCarlo,
    SweepSpec,
    check_temperature,
    gate_settings,
    sweep_values,
)
from neatxbar.training.checkpoint import CheckpointError
from neatxbar.training.data import DatasetError, DatasetSplits, load_dataset
from neatxbar.training.neat import bounds, linear_share
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import evaluate

#: Inputs per ``model_energy`` run (its forward hooks keep every layer's inputs of a run).
ENERGY_CHUNK = 128

#: The per-inference quantities of a :class:`LayerEnergy` that chunks average.
_ENERGY_FIELDS = tuple(
    f.name for f in fields(LayerEnergy) if f.name not in ("name", "kind", "v_gate", "calls")
)


def deploy(
    checkpoint: Path | str,
    lut: CellLUT | Path | str,
    *,
    v_gate: GateSpec | None = None,
    sweep: SweepSpec | None = None,
    dataset: str | None = None,
    data_dir: Path | str | None = None,
    model_name: str | None = None,
    mapping: MappingConfig | None = None,
    energy: EnergyConfig | None = None,
    coverage: float = 0.995,
    energy_samples: int | None = 1000,
    samples: int | None = None,
    monte_carlo: MonteCarlo | None = None,
    temperature_c: float | None = None,
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
        grid's highest value <= 1.3 V), or layer -> V_gate (V) with an optional ``"default"``.
    sweep
        ``"start:stop:step"`` (V) or a tuple: each value, which must be on the LUT's gate grid, as
        a setting with every layer at it. Evaluated after ``v_gate``'s setting.
    dataset, data_dir
        The dataset to evaluate on (default: the checkpoint's, else digits) and CIFAR's folder.
    model_name
        The model of a plain state_dict (``mlp``, ``cnn``, ``vgg11``, ``resnet18``).
    mapping
        The mapping (default :class:`MappingConfig()`); its ``v_gate`` is not used. Its ``wires``
        (:func:`~neatxbar.studies.neat_map.settings.with_wires`) give the tiles wire resistance:
        ``path = "fast"`` solves them by the wired fast path, ``"exact"`` by the reference circuit
        solver. The report records the wires and the solver; its energies leave the wires out
        (the energy model has none), and the report says so.
    energy
        The energy model (default ``EnergyConfig.from_lut(lut)``; baseline every layer at 1.0 V).
    coverage
        Share of each layer's |w| the ``"auto"`` bound must cover (fraction).
    energy_samples
        The energy is averaged over the first this many test inputs (>= 1; None: all).
    samples
        Evaluate on the first this many test samples only (accuracies and energy; >= 1; None:
        the whole test split; more than the split holds: all of it). Deterministic: the split's
        own order, no shuffling. With wires, the reference solver (``path = "exact"``) solves a
        circuit per input, so this bounds its time.
    monte_carlo
        Also evaluate every setting on these sampled chips (``mapping.variation`` drawn per chip
        seed); each setting's :class:`~neatxbar.studies.neat_map.results.ChipStats` hold their
        accuracies, and its own accuracy and energy are the nominal chip's (no variation). None:
        the mapping as given (its variation, if any, drawn once from its ``seed``).
    temperature_c
        The LUT's temperature to evaluate at (degC; it must be on the file's temperature grid);
        None: 27 C when the file holds it, else its first. A given :class:`CellLUT` read at
        another temperature is read again from its file.
    out_dir
        If given, :func:`~neatxbar.studies.neat_map.report.write_report` writes the report there;
        the folder is checked before any work.
    progress
        A progress bar on stderr.

    Raises
    ------
    CheckpointError, LUTError, DatasetError, ConfigError, MappingError, OutputError
        (NeatErrors) a missing or foreign checkpoint or LUT, an unknown dataset or model, a
        dataset of another shape than the checkpoint's, a V_gate off the LUT's gate grid, a
        malformed sweep, a gate mapping naming unknown layers, a layer that cannot be mapped
        (named), an output that would replace an input or a user's file.
    """
    started = time.perf_counter()
    lut_path = lut.path if isinstance(lut, CellLUT) else lut
    inputs = (checkpoint, lut_path)
    if out_dir is not None:  # before any work: no output may replace an input or a user's file
        OutputFolder(out_dir, inputs=inputs).check(FILES)
    mapping = (mapping or MappingConfig()).validate()
    if energy_samples is not None:
        check_integer("energy_samples", energy_samples, low=1)
    if samples is not None:
        check_integer("samples", samples, low=1)
    if monte_carlo is not None:
        monte_carlo = MonteCarlo.checked(monte_carlo.chips, monte_carlo.seed)
    if temperature_c is not None:
        temperature_c = check_temperature(temperature_c)
    job = _prepare(
        checkpoint,
        (lut, temperature_c),
        dataset,
        data_dir,
        model_name,
        mapping,
        energy,
        samples,
        sweep,
    )
    scales, source = _scales(job.model, job.header.get("weight_scales"), mapping)
    settings = gate_settings(
        job.model, job.lut, scales, v_gate, sweep, job.header.get("v_gate"), coverage
    )
    x = _test_inputs(job.splits.test, energy_samples)
    software, results = _evaluate(job, mapping, settings, scales, x, monte_carlo, progress)
    report = MapReport(
        checkpoint=Path(checkpoint),
        lut=Path(job.lut.path) if job.lut.path else Path("-"),
        dataset=job.dataset,
        model=str(job.header["model"]),
        software_accuracy=software,
        test_samples=len(job.splits.test),
        energy_samples=int(x.shape[0]),
        baseline_v_gate=job.energy.baseline_v_gate,
        mapping=mapping,
        scale_source=source,
        weight_scales=scales,
        settings=results,
        temperature_c=job.lut.temperature_c,
        temperatures_c=tuple(job.lut.temperatures_c),
        chips=None if monte_carlo is None else monte_carlo.seeds,
    )
    report.seconds = time.perf_counter() - started
    if out_dir is not None:
        report.files = write_report(report, Path(out_dir), inputs=inputs)
    return report


def _lut_at(lut: CellLUT | Path | str, temperature_c: float | None) -> CellLUT:
    """The LUT read at ``temperature_c`` (degC; None: the file's default temperature).

    Raises
    ------
    ConfigError
        A temperature that is not a finite number above absolute zero.
    LUTError
        A missing or bad file, or a temperature not on its grid (naming the file's
        temperatures).
    """
    if temperature_c is not None:
        temperature_c = check_temperature(temperature_c)
    if isinstance(lut, CellLUT):
        return lut.at_temperature(temperature_c)
    return CellLUT.load(lut, temperature_c=temperature_c)


@dataclass(frozen=True)
class _Job:
    """What every setting is measured with: the model, its checkpoint header, the LUT, the test
    data and the energy model."""

    model: nn.Module
    header: Mapping[str, Any]
    lut: CellLUT
    dataset: str
    splits: DatasetSplits
    energy: EnergyConfig


def _prepare(
    checkpoint: Path | str,
    lut_at: tuple[CellLUT | Path | str, float | None],
    dataset: str | None,
    data_dir: Path | str | None,
    model_name: str | None,
    mapping: MappingConfig,
    energy: EnergyConfig | None,
    samples: int | None,
    sweep: SweepSpec | None,
) -> _Job:
    """Load and check the inputs; a user's mistake is refused here, before any evaluation."""
    model, header = model_from_checkpoint(checkpoint, model_name, dataset, data_dir)
    model.eval()
    lut = _lut_at(*lut_at)
    if lut.w_max is None:
        raise LUTError(f"{lut.path}: the LUT has no linear_region; run 'neat fit' on it")
    if sweep is not None:  # a malformed or oversized sweep is refused before any work
        sweep_values(lut, sweep)
    energy = (energy or EnergyConfig.from_lut(lut)).validate()
    name = dataset or header.get("dataset") or "digits"
    splits = load_dataset(name, data_dir, augment=False)
    if samples is not None and samples < len(splits.test):
        splits = replace(splits, test=Subset(splits.test, range(samples)))
    _check_shape(checkpoint, header, name, splits)
    # refuses a layer it cannot map, naming it, before any work
    convert(model, lut, mapping, v_gate=float(lut.vg_grid[-1]))
    return _Job(model, header, lut, name, splits, energy)


def _check_shape(
    checkpoint: Path | str, header: Mapping[str, Any], name: str, splits: DatasetSplits
) -> None:
    """DatasetError when the dataset's classes and image shape are not the model's."""
    shape = (splits.num_classes, splits.in_channels, splits.image_size)
    recorded = tuple(header.get(k) for k in ("num_classes", "in_channels", "image_size"))
    if recorded != shape:
        raise DatasetError(
            f"{checkpoint}: the model was built for {recorded[1]} x {recorded[2]} x {recorded[2]} "
            f"inputs and {recorded[0]} classes; {name} has {shape[1]} x {shape[2]} x {shape[2]} "
            f"and {shape[0]} classes (give the checkpoint's dataset)"
        )


def _scales(
    model: nn.Module, recorded: Mapping[str, float] | None, config: MappingConfig
) -> tuple[dict[str, float], str]:
    """Each crossbar layer's weight scale (layer units) as the mapping will use it, and where it
    comes from: the checkpoint's (layers it leaves out as without it), ``w_cut``, or max |w|."""
    layers = crossbar_layers(model)
    if recorded:
        unknown = sorted(set(recorded) - set(layers))
        if unknown:
            raise CheckpointError(
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


def _test_inputs(dataset: Dataset, limit: int | None) -> torch.Tensor:
    """The first ``limit`` inputs of ``dataset`` (None: all), stacked."""
    chunks, count = [], 0
    for x, _ in DataLoader(dataset, batch_size=256):
        chunks.append(x)
        count += x.shape[0]
        if limit is not None and count >= limit:
            break
    x = torch.cat(chunks)
    return x if limit is None else x[:limit]


def _evaluate(
    job: _Job,
    mapping: MappingConfig,
    settings: Sequence[GateSetting],
    scales: Mapping[str, float],
    x: torch.Tensor,
    monte_carlo: MonteCarlo | None,
    progress: bool,
) -> tuple[float, list[SettingResult]]:
    """The software accuracy (fraction) and each setting's result (with ``monte_carlo``, also on
    each chip), with a progress bar."""
    nominal = mapping if monte_carlo is None else _without_variation(mapping)
    bar = progress_bar(1 + len(settings), "software", unit="setting", enabled=progress)
    with bar, torch.no_grad():
        software = evaluate(job.model, job.splits.test)
        bar.update()
        results = []
        for setting in settings:
            bar.set_description(setting.label)
            result = _measure(job, nominal, setting, scales, x)
            if monte_carlo is not None:
                stats = _chip_accuracies(job, mapping, setting, scales, monte_carlo.seeds)
                result = replace(result, chips=stats)
            results.append(result)
            bar.update()
    return software, results


def _without_variation(mapping: MappingConfig) -> MappingConfig:
    """``mapping`` with the nominal chip: no variation (the ``Variation`` defaults)."""
    return replace(mapping, variation=type(mapping.variation)())


def _chip_accuracies(
    job: _Job,
    mapping: MappingConfig,
    setting: GateSetting,
    scales: Mapping[str, float],
    seeds: Sequence[int],
) -> ChipStats:
    """The test accuracy (fraction) of the crossbar model at ``setting`` on each chip of
    ``seeds``: one twin with ``mapping``'s variation, re-drawn per seed
    (:func:`neatxbar.mapping.set_chip`)."""
    twin = convert(job.model, job.lut, mapping, v_gate=setting.v_gate, weight_scales=scales)
    twin.eval()
    accuracies = []
    for seed in seeds:
        set_chip(twin, seed)
        accuracies.append(evaluate(twin, job.splits.test))
    return ChipStats(tuple(seeds), tuple(accuracies))


def _measure(
    job: _Job,
    mapping: MappingConfig,
    setting: GateSetting,
    scales: Mapping[str, float],
    x: torch.Tensor,
) -> SettingResult:
    """The crossbar model at one setting: accuracy, per-layer bound, linear share, K and energy
    per inference over ``x``."""
    started = time.perf_counter()
    twin = convert(job.model, job.lut, mapping, v_gate=setting.v_gate, weight_scales=scales)
    twin.eval()
    accuracy = evaluate(twin, job.splits.test)
    limits = bounds(job.lut, setting.v_gate, scales)
    share = linear_share(job.model, limits)
    ranks = {row["layer"]: int(row["rank"]) for row in describe(twin)}
    energy = chunked_energy(twin, x, job.energy)
    own = {row.name: row for row in energy.layers}
    base = {row.name: row for row in energy.baseline}
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
    seconds = time.perf_counter() - started
    return SettingResult(setting.label, dict(setting.v_gate), accuracy, rows, energy, seconds)


def chunked_energy(
    twin: nn.Module, x: torch.Tensor, config: EnergyConfig, chunk: int = ENERGY_CHUNK
) -> EnergyReport:
    """``model_energy`` of the crossbar model ``twin`` over ``x`` in chunks of ``chunk`` inputs,
    merged into one report of energy per inference (J) (:func:`merge_energy`): memory stays
    bounded however many inputs there are."""
    reports = [model_energy(twin, x[i : i + chunk], config) for i in range(0, x.shape[0], chunk)]
    return merge_energy(reports)


def merge_energy(reports: Sequence[EnergyReport]) -> EnergyReport:
    """One report from reports over disjoint input batches of the same model.

    Every quantity is a per-inference average, so the merged value is their mean weighted by
    each report's ``batch_size``; ``batch_size`` becomes the total.
    """
    if len(reports) == 1:
        return reports[0]
    sizes = [r.batch_size for r in reports]
    total = sum(sizes)

    def mix(rows: Sequence[tuple[LayerEnergy, ...]]) -> tuple[LayerEnergy, ...]:
        """Layer by layer, each field's batch-weighted mean."""
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
