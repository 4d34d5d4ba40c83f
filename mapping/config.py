"""``MappingConfig``: how a layer's weights and inputs become conductances and voltages."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.config import ConfigError, from_toml_file
from neatxbar.core.errors import NeatError
from neatxbar.spice.params import Wires

PATHS = ("fast", "exact")
INTERPOLATIONS = ("linear", "pchip")
DISTRIBUTIONS = ("gaussian", "lognormal")

#: The largest relative sigma (programming variation, read noise) the toolkit accepts.
SIGMA_MAX = 1.0
#: The largest mismatch, in multiples of the LUT's card sigma_vt_v.
MISMATCH_MAX = 10.0

#: The highest gate voltage (V) the toolkit accepts from a user: above any gate a 1T-1R cell of
#: these technologies is driven at (the LUT's own gate grid decides what is usable).
V_GATE_MAX = 5.0


def check_v_gate(name: str, value: object, error: type[NeatError] = ConfigError) -> float:
    """A gate voltage from a user or a file, in volts: finite and in (0, :data:`V_GATE_MAX`].

    The one check of every gate voltage where it enters (CLI options, gate files, sweeps, the
    config dataclasses, the crossbar layers); whether it lies on a LUT's gate grid is the LUT's
    check (``CellLUT.gate_index``). Returns the value as a float.

    Raises
    ------
    NeatError
        Of type ``error`` (default :class:`ConfigError`, a ValueError), naming ``name``: NaN, an
        infinity, a non-number, a value <= 0 V or above ``V_GATE_MAX``.
    """
    volts = check_number(f"{name} (V)", value, error=error)
    if not 0 < volts <= V_GATE_MAX:
        raise error(f"{name} must be a gate voltage in (0, {V_GATE_MAX:g}] V, got {value!r}")
    return volts


def check_config_numbers(config: object, where: str = "") -> None:
    """Check every int and float field of a config dataclass (nested ones too): finite numbers of
    the declared kind, so NaN and infinities are refused where a config is validated.

    A field typed ``float`` (or ``float | None`` and set) must be a finite real number; a field
    typed ``int`` an integer (not a bool, not a float). Ranges are each config's own checks.

    Raises
    ------
    ConfigError
        Naming the first bad field as ``where.field``.
    """
    prefix = f"{where}." if where else ""
    hints: dict[str, Any] = typing.get_type_hints(type(config))
    for item in dataclasses.fields(config):  # type: ignore[arg-type]
        name, tp = item.name, hints[item.name]
        value = getattr(config, name)
        if value is None:
            continue
        options = (
            [t for t in typing.get_args(tp) if t is not type(None)]
            if typing.get_origin(tp) in (typing.Union, types.UnionType)
            else [tp]
        )
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_config_numbers(value, prefix + name)
        elif float in options:
            check_number(prefix + name, value)
        elif int in options:
            check_integer(prefix + name, value)


def check_tables(
    path: Path | str, homes: Mapping[str, type | None], what: str, section: str | None = None
) -> None:
    """Refuse a top-level table of a TOML file that is not one of ``homes``, saying where it
    belongs when it is a key of one of them (``[wires] belongs under [mapping.wires]``).

    ``homes``: the file's known top-level tables and the config class each holds (None: a table
    another command reads, allowed but not looked into). With ``section``, a file without that
    table is the section itself and is not checked here. A file that cannot be read or parsed is
    left to the loader, which reports it.

    Raises
    ------
    ConfigError
        Naming the table, the file and where it belongs.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return
    if section is not None and section not in data:
        return
    for key, value in data.items():
        if key in homes:
            continue
        shown = f"[{key}]" if isinstance(value, dict) else key
        for table, cls in homes.items():
            if cls is not None and key in {f.name for f in dataclasses.fields(cls)}:
                place = f"[{table}.{key}]" if isinstance(value, dict) else f"[{table}]"
                raise ConfigError(f"{path}: {shown} belongs under {place} ({what})")
        known = ", ".join(f"[{t}]" for t in homes)
        raise ConfigError(f"{path}: unknown top-level {shown}; a {what} has {known}")


@dataclass(frozen=True)
class Variation:
    """What makes one chip differ from another, and from the ideal one (``[mapping.variation]``).

    A chip is drawn once per ``seed`` (programming errors, stuck cells, threshold shifts: see
    :mod:`neatxbar.mapping.variation`); read noise is drawn again at every forward.

    Attributes
    ----------
    programming_sigma
        Relative sigma (fraction, in [0, 1]) of every programmed conductance, G+ and G- each:
        G' = G (1 + sigma z) (``"gaussian"``) or G exp(sigma z) (``"lognormal"``, median G), z a
        standard normal, clipped to [G_min, G_on] (S).
    distribution
        ``"gaussian"`` or ``"lognormal"``.
    read_noise_sigma
        Relative sigma (fraction, in [0, 1]) of every cell current, per read: each column current
        gets Gaussian noise of std ``read_noise_sigma * sqrt(sum_i I_ij^2)`` (A).
    stuck_on, stuck_off
        Fractions of cells (in [0, 1], summing to <= 1) stuck at G_on and at G_min.
    mismatch
        Threshold-voltage shift sigma of every access transistor, in multiples of the LUT's card
        mismatch ``sigma_vt_v`` (1.0 = the card's Pelgrom A_Vt / sqrt(W L)); shifts are clipped to
        the LUT's delvto grid. In [0, 10].
    seed
        The chip (an integer in [0, 2**63)).
    """

    programming_sigma: float = 0.0
    distribution: str = "gaussian"
    read_noise_sigma: float = 0.0
    stuck_on: float = 0.0
    stuck_off: float = 0.0
    mismatch: float = 0.0
    seed: int = 0

    @property
    def any(self) -> bool:
        """True when any effect is on (the seed alone changes nothing)."""
        return self.per_chip or self.read_noise_sigma > 0

    @property
    def per_chip(self) -> bool:
        """True when the chip's own draws matter: programming variation, stuck cells, mismatch."""
        return self.conductances or self.mismatch > 0

    @property
    def conductances(self) -> bool:
        """True when the programmed conductances change: programming variation or stuck cells."""
        return self.programming_sigma > 0 or self.stuck_on > 0 or self.stuck_off > 0

    def validate(self) -> Variation:
        """Raise ConfigError naming the first bad field (one line); return self."""
        check_config_numbers(self, "variation")
        for name in ("programming_sigma", "read_noise_sigma"):
            value = getattr(self, name)
            if not 0 <= value <= SIGMA_MAX:
                raise ConfigError(
                    f"variation.{name} must be a relative sigma in [0, {SIGMA_MAX:g}], got {value}"
                )
        if self.distribution not in DISTRIBUTIONS:
            raise ConfigError(
                f"variation.distribution must be one of {', '.join(DISTRIBUTIONS)}, "
                f"got {self.distribution!r}"
            )
        for name in ("stuck_on", "stuck_off"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ConfigError(f"variation.{name} must be a fraction in [0, 1], got {value}")
        if self.stuck_on + self.stuck_off > 1:
            raise ConfigError(
                f"variation.stuck_on + stuck_off must be <= 1, got "
                f"{self.stuck_on} + {self.stuck_off}"
            )
        if not 0 <= self.mismatch <= MISMATCH_MAX:
            raise ConfigError(
                f"variation.mismatch must be in [0, {MISMATCH_MAX:g}] (multiples of the LUT's "
                f"sigma_vt_v), got {self.mismatch}"
            )
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"variation.seed must be an integer in [0, 2**63), got {self.seed}")
        return self


@dataclass(frozen=True)
class MappingConfig:
    """Mapping of a layer onto 1T-1R crossbars.

    Weights: a differential pair per weight; the weight fraction f = w / w_scale in [-1, 1] is
    programmed as G+ = G_min + f+ (G_max - G_min) and G- = G_min + f- (G_max - G_min), with
    [G_min, G_max] the LUT's conductance range. Inputs: x / x_scale in [-1, 1] per sample, applied
    as voltages |x| / x_scale * V_max in two phases (positive and negative parts; a layer whose
    inputs are all >= 0 needs only one). Outputs are rescaled back to the layer's units.

    Attributes
    ----------
    rows, cols
        Tile size: rows (inputs) x physical columns (two per output with the differential pair).
    v_gate
        Default gate voltage (V) of every layer; must lie on the LUT's gate grid.
    w_cut
        Weight scale as a number: weights are clipped to [-w_cut, w_cut] (NEAT's W_cut, in the
        layer's weight units). None: each layer's max |w|.
    conductance_bits
        Programmable conductance levels per device: 2**bits levels over [G_min, G_max]; None:
        continuous.
    dac_bits
        Input DAC resolution: |x| / x_scale quantized to 2**bits - 1 steps; None: ideal.
    adc_bits
        ADC on each tile's differential column current (per phase), 2**bits levels over
        +-adc_range * (tile full scale = tile rows * (G_max - G_min) * V_max); None: off.
    adc_range
        ADC full scale as a fraction of the tile's full-scale current.
    path
        ``"fast"`` (separable form, K matrix products; with wires the wired fast path) or
        ``"exact"`` (cell by cell, reference; with wires the circuit solver).
    error_budget
        Fast path: largest cell error against the LUT, fraction of G_ON * V_max.
    interpolation
        Exact path: ``"linear"`` or ``"pchip"`` (monotone cubic in V_in).
    exact_chunk_elements
        Exact path: cells evaluated at once (bounds its memory).
    wires
        Wire resistances of every tile in ohm, a :class:`~neatxbar.spice.params.Wires`
        (``[mapping.wires]`` in TOML: ``r_row``, ``r_col``, ``r_driver``, ``r_sense``). Any above 0
        maps each layer onto physical tiles with IR drop, both phases as separate reads: with
        ``path = "fast"`` on the wired fast path (:mod:`neatxbar.mapping.wired_fast`, a reduced
        circuit computed once per weights, then matrix products), with ``path = "exact"`` on the
        reference circuit solver (:mod:`neatxbar.mapping.circuit`, every tile and input solved).
    variation
        Device variation, faults, read noise and transistor mismatch, a :class:`Variation`
        (``[mapping.variation]`` in TOML); off by default. Mismatch with wires is not modelled.
    """

    rows: int = 64
    cols: int = 64
    v_gate: float = 1.0
    w_cut: float | None = None
    conductance_bits: int | None = None
    dac_bits: int | None = None
    adc_bits: int | None = None
    adc_range: float = 1.0
    path: str = "fast"
    error_budget: float = 1e-3
    interpolation: str = "linear"
    exact_chunk_elements: int = 1 << 22
    wires: Wires = field(default_factory=Wires)
    variation: Variation = field(default_factory=Variation)

    def adc_full_scale(self, rows: int, span_s: float, v_max: float) -> float:
        """The ADC's full scale (A): ``adc_range`` times the tile's full-scale current, ``rows``
        cells of conductance span ``span_s`` (S, G_max - G_min) at ``v_max`` (V)."""
        return rows * span_s * v_max * self.adc_range

    def validate(self) -> MappingConfig:
        """Raise ConfigError naming the first bad field; return self."""
        check_config_numbers(self)
        if self.rows < 1:
            raise ConfigError(f"rows must be >= 1, got {self.rows}")
        if self.cols < 2 or self.cols % 2:
            raise ConfigError(f"cols must be even and >= 2 (differential pairs), got {self.cols}")
        check_v_gate("v_gate", self.v_gate)
        if self.w_cut is not None and self.w_cut <= 0:
            raise ConfigError(f"w_cut must be > 0, got {self.w_cut}")
        for name in ("conductance_bits", "dac_bits", "adc_bits"):
            bits = getattr(self, name)
            if bits is not None and not 1 <= bits <= 24:
                raise ConfigError(f"{name} must be between 1 and 24 (or unset), got {bits}")
        if self.adc_range <= 0:
            raise ConfigError(f"adc_range must be > 0, got {self.adc_range}")
        if self.path not in PATHS:
            raise ConfigError(f"path must be one of {', '.join(PATHS)}, got {self.path!r}")
        if not 0 < self.error_budget < 1:
            raise ConfigError(f"error_budget must be a fraction in (0, 1), got {self.error_budget}")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(
                f"interpolation must be one of {', '.join(INTERPOLATIONS)}, "
                f"got {self.interpolation!r}"
            )
        if self.exact_chunk_elements < 1:
            raise ConfigError("exact_chunk_elements must be >= 1")
        if not isinstance(self.wires, Wires):
            raise ConfigError(
                f"wires must be a neatxbar.spice.params.Wires, got {type(self.wires).__name__}"
            )
        self.wires.validate()
        if not isinstance(self.variation, Variation):
            raise ConfigError(
                "variation must be a neatxbar.mapping.config.Variation, got "
                f"{type(self.variation).__name__}"
            )
        self.variation.validate()
        if self.variation.mismatch > 0 and self.wires.any:
            raise ConfigError("mismatch with wires is not modelled (set variation.mismatch = 0)")
        return self

    @classmethod
    def from_toml(cls, path: Path | str) -> MappingConfig:
        """Load ``[mapping]`` (or the whole file) from a TOML file, validated.

        Next to a ``[mapping]`` table, a file may hold an experiment's other tables
        (``[experiment]``, ``[train]``, ``[neat]``, ``[energy]``); any other top-level table is
        refused, saying where it belongs (``[wires]`` -> ``[mapping.wires]``).
        """
        homes = dict.fromkeys(("experiment", "train", "neat", "energy"))
        check_tables(path, {"mapping": cls, **homes}, "mapping config", section="mapping")
        return from_toml_file(cls, path, "mapping")
