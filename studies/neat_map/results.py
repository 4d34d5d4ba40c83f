"""What ``neat map`` measures: one :class:`LayerResult` per crossbar layer and setting, one
:class:`SettingResult` per gate-voltage setting (with ``--chips`` its :class:`ChipStats`: the
accuracy of every sampled chip), and the :class:`MapReport` of a run.

Energies are in J per inference, gate voltages in V, accuracies and shares as fractions in [0, 1].
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neatxbar.mapping import MappingConfig
from neatxbar.mapping.energy import EnergyReport, LayerEnergy
from neatxbar.studies.neat_map.settings import GateSetting
from neatxbar.studies.neat_map.tables import report_text, wires_record

#: The ``format`` of ``summary.json``.
FORMAT = "neat-map/1"


@dataclass(frozen=True)
class LayerResult:
    """One crossbar layer at one setting.

    Attributes
    ----------
    name, kind
        The layer's name in the model and its type (``Linear``, ``Conv2d``).
    v_gate
        Its gate voltage (V).
    w_scale
        The weight that maps to G_max (layer units).
    bound
        w_max(V_gate) * w_scale: the largest |w| inside the linear region (layer units).
    linear_share
        Fraction of the layer's weights with |w| <= bound.
    rank
        The fast path's K (terms of the separable cell model).
    energy, baseline
        Energy per inference (J) at V_gate and at the baseline V_gate.
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
        """The layer's row of ``summary.json`` and ``layers.csv`` (energies in J)."""
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
class ChipStats:
    """The accuracy of one setting on each sampled chip (Monte Carlo over chips).

    Attributes
    ----------
    seeds
        The chips' seeds (:func:`neatxbar.mapping.set_chip`), in order.
    accuracies
        Test accuracy (fraction) of each chip, in the order of ``seeds``.
    """

    seeds: tuple[int, ...]
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        """Mean accuracy over the chips (fraction)."""
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        """Sample standard deviation of the chips' accuracies (fraction; N - 1 in the
        denominator; 0 for one chip)."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def worst(self) -> float:
        """The lowest accuracy of any chip (fraction)."""
        return min(self.accuracies)

    @property
    def best(self) -> float:
        """The highest accuracy of any chip (fraction)."""
        return max(self.accuracies)

    @property
    def worst_seed(self) -> int:
        """The seed of a chip with the lowest accuracy (the first such)."""
        return self.seeds[self.accuracies.index(self.worst)]

    def to_dict(self) -> dict[str, Any]:
        """``summary.json``'s ``chips`` entry of a setting (accuracies as fractions)."""
        return {
            "count": len(self.seeds),
            "seeds": list(self.seeds),
            "accuracies": list(self.accuracies),
            "mean": self.mean,
            "std": self.std,
            "worst": self.worst,
            "best": self.best,
            "worst_seed": self.worst_seed,
        }


@dataclass(frozen=True)
class SettingResult:
    """The crossbar model at one gate-voltage setting.

    Attributes
    ----------
    label, v_gate
        The setting (:class:`~neatxbar.studies.neat_map.settings.GateSetting`; V per layer).
    crossbar_accuracy
        Test accuracy of the crossbar model (fraction).
    layers
        One row per crossbar layer, in the model's order.
    energy
        Energy per inference (J) of every layer, at the setting and at the baseline.
    seconds
        Wall time of the setting: conversion, evaluation and energy (s).
    chips
        With a Monte Carlo over chips: each chip's accuracy (``crossbar_accuracy`` is then the
        nominal chip's, without variation); None without.
    """

    label: str
    v_gate: dict[str, float]
    crossbar_accuracy: float
    layers: tuple[LayerResult, ...]
    energy: EnergyReport
    seconds: float
    chips: ChipStats | None = None

    @property
    def uniform(self) -> float | None:
        """The V_gate (V) of every layer when they are all equal, else None."""
        return GateSetting(self.label, self.v_gate).uniform

    @property
    def mean_v_gate(self) -> float:
        """The layers' mean V_gate (V)."""
        return sum(self.v_gate.values()) / len(self.v_gate)

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
        """1 - :attr:`energy_relative` (None if that is None)."""
        return self.energy.saving

    @property
    def linear_share(self) -> dict[str, float]:
        """Layer -> fraction of its weights inside the linear region."""
        return {row.name: row.linear_share for row in self.layers}

    @property
    def fast_path_k(self) -> dict[str, int]:
        """Layer -> the fast path's K."""
        return {row.name: row.rank for row in self.layers}

    def to_dict(self) -> dict[str, Any]:
        """The setting's entry of ``summary.json`` (energies in J, time in s)."""
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
            "chips": None if self.chips is None else self.chips.to_dict(),
            "seconds": self.seconds,
        }


@dataclass
class MapReport:
    """What :func:`~neatxbar.studies.neat_map.run.deploy` measured.

    Attributes
    ----------
    checkpoint, lut
        The inputs' paths.
    dataset, model
        The dataset evaluated on and the model's name.
    software_accuracy
        Test accuracy of the model in software (fraction).
    test_samples, energy_samples
        Test samples evaluated, and the inputs the energy is averaged over.
    baseline_v_gate
        The energy baseline: every layer at this V_gate (V).
    mapping
        The mapping used; its ``wires`` (ohm) and ``path`` say how the crossbars were solved
        (``summary.json``'s ``wires``, :func:`~neatxbar.studies.neat_map.tables.wires_record`).
        The energies leave the wires out: the energy model has none.
    scale_source, weight_scales
        Where the weight scales come from (``checkpoint``, ``w_cut``, ``max |w|``) and their
        values per layer (layer units).
    settings
        One result per gate-voltage setting, in the order evaluated.
    temperature_c, temperatures_c
        The LUT's temperature the crossbars were evaluated at (degC), and every temperature the
        LUT holds.
    chips
        The chips each setting was also evaluated on (seeds), None without ``--chips``.
    seconds
        Wall time of the run (s).
    files
        The files written (empty without an output folder).
    """

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
    temperature_c: float = 27.0
    temperatures_c: tuple[float, ...] = (27.0,)
    chips: tuple[int, ...] | None = None
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (no NaN): what ``summary.json`` holds; ``wires`` records the wire
        resistances (ohm), the solver and whether the energies include the wires (they do not)."""
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
            "wires": wires_record(self.mapping),
            "scale_source": self.scale_source,
            "weight_scales": self.weight_scales,
            "temperature_c": self.temperature_c,
            "lut_temperatures_c": list(self.temperatures_c),
            "monte_carlo": self.monte_carlo(),
            "settings": [s.to_dict() for s in self.settings],
            "seconds": self.seconds,
            "files": [str(p) for p in self.files],
        }

    def monte_carlo(self) -> dict[str, Any] | None:
        """``summary.json``'s ``monte_carlo``: the chips (count, first seed, seeds), the variation
        each was drawn with (``MappingConfig.variation``'s fields) and what ``crossbar_accuracy``
        is then; None without chips."""
        if self.chips is None:
            return None
        variation = getattr(self.mapping, "variation", None)
        return {
            "chips": len(self.chips),
            "seed": self.chips[0],
            "seeds": list(self.chips),
            "variation": None if variation is None else asdict(variation),
            "crossbar_accuracy": "the nominal chip (no variation); chips: each sampled chip",
        }

    def table(self) -> str:
        """The console report: a heading and one row per setting
        (:func:`~neatxbar.studies.neat_map.tables.report_text`)."""
        return report_text(self)
