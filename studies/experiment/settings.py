"""The experiment's settings: the ``[experiment]`` table and the whole TOML file.

One TOML holds the tables ``[experiment]`` (:class:`ExperimentSpec`), ``[train]``
(:class:`~neatxbar.training.trainer.TrainConfig`), ``[neat]``
(:class:`~neatxbar.training.neat.NeatConfig`) and ``[mapping]``
(:class:`~neatxbar.mapping.MappingConfig`); see ``configs/experiment-digits.toml``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from neatxbar.core.config import from_toml_file, to_plain
from neatxbar.core.errors import ConfigError
from neatxbar.mapping import MappingConfig
from neatxbar.mapping.config import check_config_numbers, check_tables, check_v_gate
from neatxbar.training.neat import NeatConfig
from neatxbar.training.trainer import TrainConfig

VALIDATION_FRACTION = 0.2  # of the training split, held out for the data-driven selection
DEFAULT_PRESET = "paper"  # the LUT preset when neither lut nor lut_preset is given
MARKER = "experiment.json"
FIGURES = (
    "accuracy_vs_vgate.png",
    "energy_vs_vgate.png",
    "neat_iterations.png",
    "gates_per_layer.png",
)
FINAL_FILES = ("results.json", "report.md", *FIGURES)
LUT_FILES = ("lut.h5", "lut.h5.partial", "lut.h5.partial.tmp")  # characterize's own names


@dataclass(frozen=True)
class ExperimentSpec:
    """The ``[experiment]`` table: what to run (see ``configs/experiment-digits.toml``).

    Attributes
    ----------
    name
        The run's name (the default output folder is ``reports/<name>``).
    dataset, data_dir, model
        What to train (``neatxbar.training``'s names).
    lut_preset, lut
        A preset to characterize into the output folder, or a LUT file; not both (default: the
        ``paper`` preset).
    v_gates
        Gate voltages (V) each tried on every layer; all on the LUT's gate grid.
    coverage
        The data-free selection's share of each layer's weights to keep linear (0, 1].
    accuracy_budget
        The data-driven selection's allowed accuracy loss (fraction, [0, 1)).
    seed
        Seeds the dataset split and the software model.
    wire_ohm, wire_v_gates, wire_samples
        Above 0 ohm: rows with wires of this resistance per row and column segment (the
        ``[mapping]`` table's ``path``: ``"fast"`` the wired fast path, ``"exact"`` the reference
        circuit solver): the data-free per-layer gates, and every layer at each of
        ``wire_v_gates`` (V, among ``v_gates``; empty: none), naive and, where NEAT ran, NEAT's
        model trained without wires. On the first ``wire_samples`` test images (None: all).
    neat_v_gates, neat_when_loss
        Gate voltages (V, among ``v_gates``) at which NEAT runs (None: every one whose bound w_max
        is above 0); or, with ``neat_when_loss`` set (a fraction, e.g. 0.02 for 2 points),
        NEAT at every one of ``v_gates`` where the naive mapping loses more than that against
        software (and w_max is above 0); not both.
    emulation_v_gates
        Gate voltages (V, among ``v_gates``) at which the software model is also trained through
        the emulation (the ``[emulation]`` table); empty: none.
    bn_recalibration, calibration_samples
        Also report each mapping with its BatchNorm statistics re-estimated through the crossbar
        twin on this many training images (``neatxbar.training.calibration``).
    selection_samples
        Validation images the data-driven gate selection evaluates each trial on.
    """

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
    wire_v_gates: list[float] = field(default_factory=list)
    wire_samples: int | None = None
    neat_v_gates: list[float] | None = None
    neat_when_loss: float | None = None
    emulation_v_gates: list[float] = field(default_factory=list)
    bn_recalibration: bool = True
    calibration_samples: int = 512
    selection_samples: int = 128

    def validate(self) -> ExperimentSpec:
        """Raise :class:`ConfigError` naming the first bad field; return self."""
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
        if not self.wire_ohm >= 0:
            raise ConfigError(f"experiment.wire_ohm must be >= 0 ohm, got {self.wire_ohm}")
        if self.wire_samples is not None and self.wire_samples < 1:
            raise ConfigError(
                f"experiment.wire_samples must be >= 1 (or unset: the whole test set), "
                f"got {self.wire_samples}"
            )
        if self.wire_v_gates and self.wire_ohm == 0:
            raise ConfigError("experiment.wire_v_gates needs wire_ohm > 0 (the wire resistance)")
        for name in ("neat_v_gates", "emulation_v_gates", "wire_v_gates"):
            values = getattr(self, name) or []
            if not all(isinstance(v, int | float) for v in values):
                raise ConfigError(f"experiment.{name} must be a list of voltages")
            for v in values:
                check_v_gate(f"experiment.{name}", v)
                if not any(abs(v - w) <= 1e-9 for w in self.v_gates):
                    raise ConfigError(f"experiment.{name}: {v} V is not one of v_gates")
        if self.neat_when_loss is not None:
            if not 0 <= self.neat_when_loss < 1:
                raise ConfigError(
                    f"experiment.neat_when_loss must be in [0, 1), got {self.neat_when_loss}"
                )
            if self.neat_v_gates is not None:
                raise ConfigError("experiment: give neat_v_gates or neat_when_loss, not both")
        if self.calibration_samples < 1 or self.selection_samples < 1:
            raise ConfigError("experiment.calibration_samples and selection_samples must be >= 1")
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
        names += [f"emulation-{v:.2f}.pt" for v in self.emulation_v_gates]
        return names + list(FINAL_FILES)


#: Training through the emulation: two epochs of Adam (lr 1e-4) on the crossbar twin, no clipping.
EMULATION_DEFAULTS = NeatConfig(
    iterations=2, epochs_per_iteration=1, lr=1e-4, clip=False, hardware_in_the_loop=True
)


@dataclass(frozen=True)
class ExperimentConfig:
    """The whole experiment: ``[experiment]``, ``[train]``, ``[neat]``, ``[emulation]`` (training
    through the emulation: a :class:`NeatConfig` with ``hardware_in_the_loop``, without clipping
    by default) and ``[mapping]``."""

    experiment: ExperimentSpec = field(default_factory=ExperimentSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    neat: NeatConfig = field(default_factory=NeatConfig)
    emulation: NeatConfig = field(default_factory=lambda: EMULATION_DEFAULTS)
    mapping: MappingConfig = field(default_factory=MappingConfig)

    def validate(self) -> ExperimentConfig:
        """Validate every table; raise :class:`ConfigError` naming the first bad field."""
        self.experiment.validate()
        self.train.validate()
        self.neat.validate()
        self.emulation.validate()
        if not self.emulation.hardware_in_the_loop:
            raise ConfigError("emulation.hardware_in_the_loop must be true (it is what it does)")
        self.mapping.validate()
        return self

    @classmethod
    def from_toml(cls, path: Path | str) -> ExperimentConfig:
        """Load and validate an experiment TOML (tables experiment, train, neat, mapping; any
        other top-level table is refused, saying where it belongs)."""
        homes = {
            "experiment": ExperimentSpec,
            "train": TrainConfig,
            "neat": NeatConfig,
            "emulation": NeatConfig,
            "mapping": MappingConfig,
        }
        check_tables(path, homes, "experiment config")
        return from_toml_file(cls, path)

    def sha256(self) -> str:
        """A hash of every setting: a rerun resumes only a run of the same config."""
        return hashlib.sha256(json.dumps(to_plain(self), sort_keys=True).encode()).hexdigest()
