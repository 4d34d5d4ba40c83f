"""The experiment's settings: the ``[experiment]`` table and the whole TOML file.

One TOML holds the tables ``[experiment]`` (:class:`ExperimentSpec`), ``[train]``
(:class:`~neatxbar.training.trainer.TrainConfig`), ``[neat]``, ``[emulation]`` and
``[noise_aware]`` (:class:`~neatxbar.training.neat.NeatConfig`) and ``[mapping]``
(:class:`~neatxbar.mapping.MappingConfig`); see ``configs/experiment-digits.toml``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from neatxbar.core.checks import check_number
from neatxbar.core.config import from_toml_file, to_plain
from neatxbar.core.errors import ConfigError
from neatxbar.mapping import MappingConfig
from neatxbar.mapping.config import (
    Variation,
    check_config_numbers,
    check_tables,
    check_v_gate,
)
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
#: The variability section's figure (written only with ``variability_chips`` > 0).
VARIABILITY_FIGURE = "variability.png"
FINAL_FILES = ("results.json", "report.md", *FIGURES, VARIABILITY_FIGURE)
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
    temperature_c
        The LUT's temperature (degC, on its temperature grid) every row is measured at, except
        the variability section's own; None: 27 C when the LUT holds it, else its first. NEAT's
        bounds and the energy are that temperature's.
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
    variability_chips, variability_seed
        Above 0: the "Variability" section: accuracy over this many sampled chips (seeds
        ``variability_seed``, ``variability_seed + 1``, ...) of the naive mapping, NEAT's model
        (reused) and the noise-aware model (NEAT's model fine-tuned through the emulation with a
        new chip per step, the ``[noise_aware]`` table); 0: no section.
    variability_v_gates
        Gate voltages (V, among ``v_gates``) of the section (every layer at each); required
        with ``variability_chips`` > 0. NEAT and noise-aware rows where NEAT ran there.
    variability_temperatures_c
        The LUT's temperatures (degC) each chip is evaluated at; each must be on the LUT's
        temperature grid.
    programming_sigma, mismatch
        The section's variation: relative sigma of every programmed conductance, and the
        threshold-voltage mismatch in multiples of the LUT's card sigma_Vt (1.0: the card's
        Pelgrom mismatch); the rest of the variation is ``[mapping.variation]``'s.
    variability_samples
        Test images per chip (None: the whole test set).
    noise_aware_samples
        Training images of the noise-aware fine-tune (the first of the training part; None: all
        of it): a chip per step is costly on a deep model.
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
    temperature_c: float | None = None
    wire_ohm: float = 0.0
    wire_v_gates: list[float] = field(default_factory=list)
    wire_samples: int | None = None
    neat_v_gates: list[float] | None = None
    neat_when_loss: float | None = None
    emulation_v_gates: list[float] = field(default_factory=list)
    bn_recalibration: bool = True
    calibration_samples: int = 512
    selection_samples: int = 128
    variability_chips: int = 0
    variability_seed: int = 0
    variability_v_gates: list[float] = field(default_factory=list)
    variability_temperatures_c: list[float] = field(default_factory=lambda: [27.0])
    programming_sigma: float = 0.05
    mismatch: float = 1.0
    variability_samples: int | None = None
    noise_aware_samples: int | None = None

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
        if self.temperature_c is not None:
            check_number("experiment.temperature_c (C)", self.temperature_c, low=-273.15)
        if not self.wire_ohm >= 0:
            raise ConfigError(f"experiment.wire_ohm must be >= 0 ohm, got {self.wire_ohm}")
        if self.wire_samples is not None and self.wire_samples < 1:
            raise ConfigError(
                f"experiment.wire_samples must be >= 1 (or unset: the whole test set), "
                f"got {self.wire_samples}"
            )
        if self.wire_v_gates and self.wire_ohm == 0:
            raise ConfigError("experiment.wire_v_gates needs wire_ohm > 0 (the wire resistance)")
        self._validate_variability()
        for name in ("neat_v_gates", "emulation_v_gates", "wire_v_gates", "variability_v_gates"):
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

    def _validate_variability(self) -> None:
        """The variability fields: ConfigError naming the first bad one."""
        if self.variability_chips < 0:
            raise ConfigError(
                f"experiment.variability_chips must be >= 0 (0: no variability section), "
                f"got {self.variability_chips}"
            )
        if self.variability_seed < 0:
            raise ConfigError(
                f"experiment.variability_seed must be >= 0, got {self.variability_seed}"
            )
        if self.variability_chips and not self.variability_v_gates:
            raise ConfigError(
                "experiment.variability_v_gates must name at least one of v_gates when "
                "variability_chips > 0"
            )
        temperatures = self.variability_temperatures_c
        if not temperatures or not all(isinstance(t, int | float) for t in temperatures):
            raise ConfigError(
                "experiment.variability_temperatures_c must be a non-empty list of temperatures "
                "(degC)"
            )
        for t in temperatures:
            check_number("experiment.variability_temperatures_c (C)", t, low=-273.15)
        if len(set(temperatures)) != len(temperatures):
            raise ConfigError("experiment.variability_temperatures_c holds a temperature twice")
        if self.noise_aware_samples is not None and self.noise_aware_samples < 1:
            raise ConfigError(
                f"experiment.noise_aware_samples must be >= 1 (or unset: every training image), "
                f"got {self.noise_aware_samples}"
            )
        if self.variability_samples is not None and self.variability_samples < 1:
            raise ConfigError(
                f"experiment.variability_samples must be >= 1 (or unset: the whole test set), "
                f"got {self.variability_samples}"
            )
        # the section's variation: checked where every variation is (programming_sigma, mismatch)
        Variation(programming_sigma=self.programming_sigma, mismatch=self.mismatch).validate()

    @property
    def variability(self) -> bool:
        """True when the experiment has a variability section."""
        return self.variability_chips > 0

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
        names += [f"noise-aware-{v:.2f}.pt" for v in self.variability_v_gates]
        return names + list(FINAL_FILES)


#: Training through the emulation: two epochs of Adam (lr 1e-4) on the crossbar twin, no clipping.
EMULATION_DEFAULTS = NeatConfig(
    iterations=2, epochs_per_iteration=1, lr=1e-4, clip=False, hardware_in_the_loop=True
)


#: Noise-aware training: NEAT's model fine-tuned through the emulation with a new chip at every
#: step, one epoch of Adam (lr 1e-4), its weights kept inside NEAT's bounds (clipped).
NOISE_AWARE_DEFAULTS = NeatConfig(
    iterations=1,
    epochs_per_iteration=1,
    lr=1e-4,
    clip=True,
    hardware_in_the_loop=True,
    chip_per_step=True,
)


@dataclass(frozen=True)
class ExperimentConfig:
    """The whole experiment: ``[experiment]``, ``[train]``, ``[neat]``, ``[emulation]`` (training
    through the emulation: a :class:`NeatConfig` with ``hardware_in_the_loop``, without clipping
    by default), ``[noise_aware]`` (the variability section's fine-tune of NEAT's model through
    the emulation, a new chip per step) and ``[mapping]``."""

    experiment: ExperimentSpec = field(default_factory=ExperimentSpec)
    train: TrainConfig = field(default_factory=TrainConfig)
    neat: NeatConfig = field(default_factory=NeatConfig)
    emulation: NeatConfig = field(default_factory=lambda: EMULATION_DEFAULTS)
    noise_aware: NeatConfig = field(default_factory=lambda: NOISE_AWARE_DEFAULTS)
    mapping: MappingConfig = field(default_factory=MappingConfig)

    def validate(self) -> ExperimentConfig:
        """Validate every table; raise :class:`ConfigError` naming the first bad field."""
        self.experiment.validate()
        self.train.validate()
        self.neat.validate()
        self.emulation.validate()
        if not self.emulation.hardware_in_the_loop:
            raise ConfigError("emulation.hardware_in_the_loop must be true (it is what it does)")
        self.noise_aware.validate()
        if not self.noise_aware.hardware_in_the_loop:
            raise ConfigError(
                "noise_aware.hardware_in_the_loop must be true (it trains through the emulation)"
            )
        self.mapping.validate()
        return self

    @classmethod
    def from_toml(cls, path: Path | str) -> ExperimentConfig:
        """Load and validate an experiment TOML (tables experiment, train, neat, emulation,
        noise_aware, mapping; any other top-level table is refused, saying where it belongs)."""
        homes = {
            "experiment": ExperimentSpec,
            "train": TrainConfig,
            "neat": NeatConfig,
            "emulation": NeatConfig,
            "noise_aware": NeatConfig,
            "mapping": MappingConfig,
        }
        check_tables(path, homes, "experiment config")
        return from_toml_file(cls, path)

    def with_temperature(self, temperature_c: float) -> ExperimentConfig:
        """This config measured at the LUT's ``temperature_c`` (degC), validated."""
        exp = dataclasses.replace(self.experiment, temperature_c=temperature_c)
        return dataclasses.replace(self, experiment=exp).validate()

    def sha256(self) -> str:
        """A hash of every setting: a rerun resumes only a run of the same config."""
        return hashlib.sha256(json.dumps(to_plain(self), sort_keys=True).encode()).hexdigest()
