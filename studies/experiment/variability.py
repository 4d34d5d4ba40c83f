"""The experiment's "Variability" section: accuracy over sampled chips.

At each gate voltage of ``variability_v_gates`` (every layer at it) and each temperature of
``variability_temperatures_c``, three models are evaluated on the nominal chip (no variation) and
on ``variability_chips`` sampled chips (seeds ``variability_seed``, ...): the naive mapping of the
software model, NEAT's model (its checkpoint ``neat-<V>.pt``, reused, not retrained) and the
noise-aware model (NEAT's model fine-tuned through the emulation with a new chip at every step,
the ``[noise_aware]`` table, saved as ``noise-aware-<V>.pt``). Each chip is drawn with the
``[mapping.variation]`` table's variation, its ``programming_sigma`` and ``mismatch`` replaced by
the ``[experiment]`` table's (5 % and the card's mismatch by default), by
:func:`neatxbar.mapping.set_chip`. The noise-aware model trains at the experiment LUT's own
temperature (27 C by default).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn
from torch.utils.data import Dataset, Subset

from neatxbar.core.errors import ConfigError
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping import MappingConfig, convert, set_chip
from neatxbar.mapping.config import Variation
from neatxbar.studies.experiment.results import ChipAccuracy, Setting, Variability
from neatxbar.studies.experiment.settings import ExperimentConfig, ExperimentSpec
from neatxbar.studies.neat_map.results import ChipStats
from neatxbar.training.neat import NeatConfig
from neatxbar.training.trainer import evaluate

#: ``(name, gates, how, start, mapping) -> (model, weight scales)``: a trained model, saved as
#: ``<name>.pt`` or reloaded from there (the experiment's runner).
Trainer = Callable[
    [str, dict[str, float], NeatConfig, nn.Module | None, MappingConfig | None],
    tuple[nn.Module, dict[str, float]],
]


def chip_mapping(config: ExperimentConfig) -> MappingConfig:
    """The experiment's mapping with the section's variation: ``[mapping.variation]`` with the
    ``[experiment]`` table's ``programming_sigma`` and ``mismatch``."""
    exp = config.experiment
    variation = dataclasses.replace(
        config.mapping.variation, programming_sigma=exp.programming_sigma, mismatch=exp.mismatch
    ).validate()
    return dataclasses.replace(config.mapping, variation=variation)


def check_temperatures(exp: ExperimentSpec, lut: CellLUT) -> None:
    """Every temperature of the section on the LUT's temperature grid (LUTError otherwise);
    nothing to check without the section."""
    if not exp.variability:
        return
    for t in exp.variability_temperatures_c:
        lut.at_temperature(float(t))


def check_preset_temperatures(exp: ExperimentSpec, temperatures_c: Sequence[float]) -> None:
    """The experiment's ``temperature_c`` and every temperature of the section among the
    preset's ``temperatures_c`` (degC), before the preset is characterized; ConfigError naming
    them otherwise."""
    asked = [("temperature_c", exp.temperature_c)] if exp.temperature_c is not None else []
    if exp.variability:
        asked += [("variability_temperatures_c", t) for t in exp.variability_temperatures_c]
    for name, t in asked:
        if not any(abs(float(t) - u) <= 1e-9 for u in temperatures_c):
            held = ", ".join(f"{u:g}" for u in temperatures_c)
            raise ConfigError(
                f"experiment.{name}: {t:g} C is not a temperature of preset "
                f"{exp.preset!r} ({held} C); choose among them or give a LUT that holds it"
            )


@dataclass(frozen=True)
class _Chips:
    """What every row of the section is evaluated with."""

    mapping: MappingConfig
    nominal: MappingConfig
    test: Dataset
    seeds: tuple[int, ...]
    progress: bool


def measure(
    config: ExperimentConfig,
    lut: CellLUT,
    software: nn.Module,
    test: Dataset,
    homogeneous: Sequence[tuple[float, Setting]],
    trained: Trainer,
    progress: bool = False,
) -> Variability:
    """The variability section (see the module docstring).

    Parameters
    ----------
    config
        The experiment; its ``[experiment]`` table's variability fields say what to run.
    lut
        The experiment's LUT (read at its default temperature; the noise-aware model trains
        there).
    software
        The software model (its naive mapping).
    test
        The test set (its first ``variability_samples`` images are used).
    homogeneous
        (V_gate, setting) of every layer at each of ``v_gates``: where NEAT ran.
    trained
        Trains (or reloads) a model: NEAT's, and the noise-aware fine-tune.
    progress
        Progress bars on stderr.

    Returns
    -------
    Variability
        Rows in the order gate voltage, temperature, model (:data:`VARIABILITY_MODELS`).
    """
    exp = config.experiment
    count = exp.variability_chips
    if exp.variability_samples is not None and exp.variability_samples < len(test):
        test = Subset(test, range(exp.variability_samples))
    mapping = chip_mapping(config)
    chips = _Chips(
        mapping,
        dataclasses.replace(mapping, variation=Variation()),
        test,
        tuple(range(exp.variability_seed, exp.variability_seed + count)),
        progress,
    )
    luts = {float(t): lut.at_temperature(float(t)) for t in exp.variability_temperatures_c}
    section = Variability(dataclasses.asdict(mapping.variation), float(lut.sigma_vt_v), len(test))
    for v in exp.variability_v_gates:
        base = next(s for u, s in homogeneous if abs(u - v) <= 1e-9)
        models = _models(config, software, base, v, chips, trained, section)
        for t, at in luts.items():
            for key, (model, scales) in models.items():
                section.rows.append(_row(model, scales, at, base.gates, v, t, key, chips))
    return section


def _models(
    config: ExperimentConfig,
    software: nn.Module,
    base: Setting,
    v: float,
    chips: _Chips,
    trained: Trainer,
    section: Variability,
) -> dict[str, tuple[nn.Module, dict[str, float] | None]]:
    """model key -> (model, weight scales; None: its own max |w|) at ``base``'s gates: naive,
    and where NEAT ran there NEAT's model (reused) and the noise-aware fine-tune of it."""
    models: dict[str, tuple[nn.Module, dict[str, float] | None]] = {"naive": (software, None)}
    if base.neat is None:
        section.notes.append(f"{v:.2f} V: NEAT did not run there, so no NEAT or noise-aware rows")
        return models
    gates = dict(base.gates)
    neat, scales = trained(f"neat-{v:.2f}", gates, config.neat, None, None)
    models["neat"] = (neat, scales)
    aware = trained(f"noise-aware-{v:.2f}", gates, config.noise_aware, neat, chips.mapping)
    models["noise_aware"] = aware
    return models


def _row(
    model: nn.Module,
    scales: dict[str, float] | None,
    lut: CellLUT,
    gates: dict[str, float],
    v: float,
    temperature_c: float,
    key: str,
    chips: _Chips,
) -> ChipAccuracy:
    """``model`` at ``gates`` and ``lut``'s temperature: the nominal chip and every sampled chip
    (one twin, re-drawn per seed)."""
    nominal = convert(model, lut, chips.nominal, v_gate=gates, weight_scales=scales)
    accuracy = evaluate(nominal, chips.test)
    twin = convert(model, lut, chips.mapping, v_gate=gates, weight_scales=scales)
    accuracies = []
    for seed in chips.seeds:
        set_chip(twin, seed)
        accuracies.append(evaluate(twin, chips.test))
    return ChipAccuracy(
        v, temperature_c, key, accuracy, ChipStats(tuple(chips.seeds), tuple(accuracies))
    )
