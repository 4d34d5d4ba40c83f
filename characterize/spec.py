"""Sweep specifications: what to characterize, loaded from TOML and validated.

A spec names the grids of conductance (S), input voltage (V) and gate voltage (V), the
temperatures (degC) and the transistor's threshold shifts (``delvto``, V; a multiple of its
Pelgrom mismatch sigma), the access transistor, the memristor's range, the linear-region
tolerance, the read time for energy and the ngspice options. Presets live in ``configs/``
(installed as ``neatxbar.configs``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib.resources import files
from pathlib import Path

import numpy as np

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.config import ConfigError, from_mapping, to_plain
from neatxbar.lut.schema import OFFERED_TOLERANCE_V
from neatxbar.spice import Transistor
from neatxbar.spice.params import DELVTO_LIMIT_V, check_options, check_temperature
from neatxbar.spice.render import uniform_step
from neatxbar.spice.templates import read_template

METRICS = ("ideal", "fit")

#: Physical ranges the spec's numbers must lie in (checked where a spec enters, in
#: :meth:`SweepSpec.validate`): voltages (V), memristor resistances (ohm), read time (s).
VOLTAGE_LIMIT_V = 5.0
RESISTANCE_RANGE_OHM = (1.0, 1e12)
READ_TIME_RANGE_S = (1e-15, 1.0)
#: Points per grid axis, chunk size (conductances per ngspice run).
MAX_AXIS_POINTS = 100_000
MAX_CHUNK_SIZE = 4096
#: The most points in one LUT: its ``current`` and ``status`` take 9 bytes per point on disk
#: (about 180 MB here) and fitting and the read energy hold a few float64 copies in memory.
MAX_POINTS = 20_000_000
#: The most points in one ngspice run (chunk_size x n_v_in x n_v_gate): ngspice keeps every
#: node's vector in memory.
MAX_CHUNK_POINTS = 4_000_000
#: The nominal temperature (degC): ngspice's default TEMP (and the cards' TNOM).
NOMINAL_TEMPERATURE_C = 27.0
#: The most temperatures and threshold shifts of one spec.
MAX_TEMPERATURES = 32
MAX_SHIFTS = 101
#: The widest threshold-shift span, in mismatch sigmas.
SPAN_SIGMA_LIMIT = 10.0
#: Plausible Pelgrom coefficients A_Vt (mV*um): from about 0.5 (thin oxides) to tens (old nodes).
A_VT_RANGE_MV_UM = (0.01, 100.0)
#: The longest ``transistor.a_vt_source`` text (characters).
MAX_SOURCE_CHARS = 2000


@dataclass(frozen=True)
class Memristor:
    """The memristor: a linear resistor programmable between r_on_ohm and r_off_ohm (ohm)."""

    r_on_ohm: float = 30e3
    r_off_ohm: float = 300e3


@dataclass(frozen=True)
class ConductanceGrid:
    """``num`` conductances spanning the memristor's range [1/r_off, 1/r_on] (S)."""

    num: int = 32
    spacing: str = "linear"  # "linear" or "log"


@dataclass(frozen=True)
class VoltageGrid:
    """``num`` evenly spaced voltages from ``start_v`` to ``stop_v`` (V), both included."""

    start_v: float = 0.0
    stop_v: float = 0.5
    num: int = 51

    def values(self) -> np.ndarray:
        return np.linspace(self.start_v, self.stop_v, self.num)


@dataclass(frozen=True)
class GateGrid(VoltageGrid):
    """The gate-voltage grid (V), and the gate voltages offered for mapping.

    ``offered_v``: the grid values (V, sorted, no repeats) offered wherever a gate voltage is
    *chosen* for a layer (the data-free and data-driven selections, ``neat map``'s sweeps and
    ``auto``); None (the key absent): every grid value. A grid finer than the offered set makes
    the interpolation accurate where a cell's V_gs falls between offered values (wire resistance
    lowers it below its layer's V_gate), without multiplying the choices. Stored in the LUT as
    ``grid/v_gate_offered``.
    """

    offered_v: list[float] | None = None

    def __post_init__(self) -> None:
        # numbers as floats, as the other keys (so `1` and `1.0` hash alike); anything else is
        # left for the validation to name
        values = self.offered_v
        if isinstance(values, list | tuple) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            object.__setattr__(self, "offered_v", [float(v) for v in values])

    def offered(self) -> np.ndarray:
        """The offered gate voltages (V) as grid values (every grid value when none are set);
        call on a validated spec."""
        grid = self.values()
        if self.offered_v is None:
            return grid
        return grid[offered_indices(self)]


def offered_indices(grid: GateGrid) -> np.ndarray:
    """Grid indices of ``grid.offered_v``, checked: a non-empty list of numbers (V), each within
    :data:`OFFERED_TOLERANCE_V` of a grid value, strictly increasing (sorted, no repeats).

    Raises
    ------
    ConfigError
        Naming ``v_gate.offered_v`` and the first bad value.
    """
    key = "v_gate.offered_v"
    values = grid.offered_v
    if not isinstance(values, list | tuple) or not values:
        raise ConfigError(
            f"{key} must be a non-empty list of gate voltages (V) on the v_gate grid, "
            f"got {values!r}"
        )
    if len(values) > grid.num:
        raise ConfigError(
            f"{key} lists {len(values)} gate voltages, more than the {grid.num} of the grid"
        )
    volts = np.array([check_number(f"{key}[{i}] (V)", v) for i, v in enumerate(values)])
    points = grid.values()
    step = (grid.stop_v - grid.start_v) / (grid.num - 1)
    index = np.clip(np.rint((volts - grid.start_v) / step), 0, grid.num - 1).astype(np.int64)
    off = np.abs(points[index] - volts) > OFFERED_TOLERANCE_V
    if np.any(off):
        bad = float(volts[np.argmax(off)])
        raise ConfigError(
            f"{key}: {bad:g} V is not on the v_gate grid ({grid.start_v:g} to {grid.stop_v:g} V "
            f"in {step:.6g} V steps); offer grid values only"
        )
    if np.any(np.diff(index) <= 0):
        raise ConfigError(f"{key} must be sorted in increasing order, without repeats")
    return index


@dataclass(frozen=True)
class TemperatureGrid:
    """The temperatures to characterize (degC, strictly increasing); one netlist per temperature
    (``.options temp=``). The default, one temperature of 27 degC, is ngspice's own."""

    values_c: list[float] = field(default_factory=lambda: [NOMINAL_TEMPERATURE_C])

    def __post_init__(self) -> None:
        values = self.values_c
        if isinstance(values, list | tuple) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            object.__setattr__(self, "values_c", [float(v) for v in values])


@dataclass(frozen=True)
class MismatchGrid:
    """The threshold shifts (``delvto``, V) to characterize: ``num`` (odd, so 0 V is on the
    grid) evenly spaced shifts from ``-span_sigma`` to ``+span_sigma`` times the transistor's
    Pelgrom sigma (:attr:`SweepSpec.sigma_vt_v`). The default, one shift of 0 V, is no axis."""

    num: int = 1
    span_sigma: float = 0.0


@dataclass(frozen=True)
class TransistorSpec:
    """The access transistor as written in TOML (see :class:`neatxbar.spice.Transistor`).

    ``a_vt_mv_um``: Pelgrom's matching coefficient A_Vt (mV*um) of the transistor's threshold,
    sigma(V_t) = A_Vt / sqrt(W L); None when unknown. ``a_vt_source``: where the value comes
    from (required with it: a model card does not state it, so the spec must say).
    """

    model: str = "nmos45_bsim4"
    w_m: float = 450e-9
    l_m: float = 45e-9
    model_params: dict[str, float] = field(default_factory=dict)
    card_file: str | None = None
    a_vt_mv_um: float | None = None
    a_vt_source: str = ""

    def to_transistor(
        self, base_dir: Path | None = None, card_text: str | None = None
    ) -> Transistor:
        card = self.card_file
        if card_text is not None:
            card = None  # a stored card replaces the file the spec names
        elif card is not None and base_dir is not None and not Path(card).is_absolute():
            card = str(base_dir / card)
        return Transistor(
            model=self.model,
            w_m=self.w_m,
            l_m=self.l_m,
            model_params=tuple(sorted(self.model_params.items())),
            card_file=card,
            card_text=card_text,
        )


@dataclass(frozen=True)
class SweepSpec:
    """A characterization: grids, cell, tolerance and run settings.

    Attributes
    ----------
    name, description
        Free text that names the spec in files and reports.
    tolerance
        Linear-region tolerance, a fraction (0.025 for 2.5 %).
    metric
        ``"ideal"``: deviation from G*V_in (default); ``"fit"``: deviation from the cell's own
        least-squares line through the origin. See :mod:`neatxbar.characterize.fit`.
    read_time_s
        Duration of one read, for the read energy (s).
    chunk_size
        Conductances per ngspice run (one netlist of that many cells, one nested sweep).
    notes
        Free text: where the transistor's values come from (e.g. a calibration).
    """

    name: str = "custom"
    description: str = ""
    tolerance: float = 0.025
    metric: str = "ideal"
    read_time_s: float = 10e-9
    chunk_size: int = 16
    notes: str = ""
    memristor: Memristor = field(default_factory=Memristor)
    conductance: ConductanceGrid = field(default_factory=ConductanceGrid)
    v_in: VoltageGrid = field(default_factory=VoltageGrid)
    v_gate: GateGrid = field(default_factory=lambda: GateGrid(0.7, 1.3, 13))
    transistor: TransistorSpec = field(default_factory=TransistorSpec)
    temperature: TemperatureGrid = field(default_factory=TemperatureGrid)
    mismatch: MismatchGrid = field(default_factory=MismatchGrid)
    ngspice: dict[str, float] = field(default_factory=dict)
    base_dir: str | None = field(default=None, compare=False, repr=False)
    card_text: str | None = field(default=None, compare=False, repr=False)

    def validate(self) -> SweepSpec:
        """Raise :class:`ConfigError` naming the first bad key; return self."""
        try:
            self._validate()
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(str(error)) from None
        return self

    def _validate(self) -> None:
        """Check every number (finite, in its physical range) and the sizes, before any file."""
        check_number("tolerance", self.tolerance, positive=True)
        if not self.tolerance < 1:
            raise ConfigError(f"tolerance must be a fraction in (0, 1), got {self.tolerance}")
        if self.metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        low, high = READ_TIME_RANGE_S
        check_number("read_time_s (s)", self.read_time_s, low=low, high=high)
        check_integer("chunk_size", self.chunk_size, low=1, high=MAX_CHUNK_SIZE)
        m = self.memristor
        low, high = RESISTANCE_RANGE_OHM
        check_number("memristor.r_on_ohm (ohm)", m.r_on_ohm, low=low, high=high)
        check_number("memristor.r_off_ohm (ohm)", m.r_off_ohm, low=low, high=high)
        if not m.r_on_ohm < m.r_off_ohm:
            raise ConfigError(
                "memristor.r_on_ohm and memristor.r_off_ohm must satisfy 0 < r_on_ohm < r_off_ohm"
            )
        check_integer("conductance.num", self.conductance.num, low=2, high=MAX_AXIS_POINTS)
        if self.conductance.spacing not in ("linear", "log"):
            raise ConfigError(
                f"conductance.spacing must be 'linear' or 'log', got {self.conductance.spacing!r}"
            )
        for key in ("v_in", "v_gate"):
            grid: VoltageGrid = getattr(self, key)
            # Two points at least: the LUT's interpolation and the linear-region fit need them.
            check_integer(f"{key}.num", grid.num, low=2, high=MAX_AXIS_POINTS)
            check_number(f"{key}.start_v (V)", grid.start_v, low=0.0, high=VOLTAGE_LIMIT_V)
            check_number(f"{key}.stop_v (V)", grid.stop_v, low=0.0, high=VOLTAGE_LIMIT_V)
            if grid.stop_v <= grid.start_v:
                raise ConfigError(f"{key}: stop_v must exceed start_v (an increasing grid)")
            uniform_step(key, grid.values())
        if self.v_gate.offered_v is not None:
            offered_indices(self.v_gate)
        self._check_temperatures()
        self._check_mismatch()
        self._check_sizes()
        self.cell_transistor().validate()
        check_options(self.ngspice)

    def _check_temperatures(self) -> None:
        """``temperature.values_c``: 1 to :data:`MAX_TEMPERATURES` numbers (degC), in range,
        strictly increasing."""
        values = self.temperature.values_c
        key = "temperature.values_c"
        if not isinstance(values, list | tuple) or not values:
            raise ConfigError(f"{key} must be a non-empty list of temperatures (degC)")
        if len(values) > MAX_TEMPERATURES:
            raise ConfigError(
                f"{key} lists {len(values)} temperatures, more than the limit of {MAX_TEMPERATURES}"
            )
        temps = [check_temperature(f"{key}[{i}] (degC)", v) for i, v in enumerate(values)]
        if np.any(np.diff(temps) <= 0):
            raise ConfigError(f"{key} must be strictly increasing (sorted, no repeats)")

    def _check_mismatch(self) -> None:
        """``[mismatch]`` and the transistor's ``a_vt_mv_um``/``a_vt_source``."""
        m, t = self.mismatch, self.transistor
        check_integer("mismatch.num", m.num, low=1, high=MAX_SHIFTS)
        if m.num % 2 == 0:
            raise ConfigError(
                f"mismatch.num must be odd (so 0 V is on the threshold-shift grid), got {m.num}"
            )
        check_number("mismatch.span_sigma", m.span_sigma, nonnegative=True, high=SPAN_SIGMA_LIMIT)
        if (m.num > 1) != (m.span_sigma > 0):
            raise ConfigError(
                "mismatch: give num > 1 with span_sigma > 0 (a threshold-shift axis), or "
                f"num = 1 with span_sigma = 0 (none); got num {m.num}, span_sigma {m.span_sigma}"
            )
        if t.a_vt_mv_um is None:
            if m.num > 1:
                raise ConfigError(
                    "[mismatch] needs transistor.a_vt_mv_um (Pelgrom's A_Vt in mV*um) and "
                    "transistor.a_vt_source (where the value comes from)"
                )
            return
        low, high = A_VT_RANGE_MV_UM
        check_number("transistor.a_vt_mv_um (mV*um)", t.a_vt_mv_um, low=low, high=high)
        if not isinstance(t.a_vt_source, str) or not t.a_vt_source.strip():
            raise ConfigError(
                "transistor.a_vt_source must say where transistor.a_vt_mv_um comes from"
            )
        if len(t.a_vt_source) > MAX_SOURCE_CHARS:
            raise ConfigError(
                f"transistor.a_vt_source is longer than {MAX_SOURCE_CHARS} characters"
            )
        span = m.span_sigma * self.sigma_vt_v
        if span > DELVTO_LIMIT_V:
            raise ConfigError(
                f"mismatch: span_sigma x sigma_vt = {span:.3g} V, more than the "
                f"{DELVTO_LIMIT_V:g} V a threshold shift may be; lower span_sigma"
            )

    def _check_sizes(self) -> None:
        """Refuse a LUT or an ngspice run too large to hold, before anything is allocated."""
        points = (
            len(self.temperature.values_c)
            * self.mismatch.num
            * self.conductance.num
            * self.v_in.num
            * self.v_gate.num
        )
        if points > MAX_POINTS:
            raise ConfigError(
                f"the grid has {points:,} points (temperatures x shifts x conductance.num x "
                "v_in.num x v_gate.num), "
                f"more than the limit of {MAX_POINTS:,} ({9 * MAX_POINTS / 1e6:.0f} MB of "
                "current and status); use fewer points, or split the range into several specs "
                "(e.g. memristor.r_on_ohm/r_off_ohm or v_gate ranges) and characterize each"
            )
        chunk = min(self.chunk_size, self.conductance.num) * self.v_in.num * self.v_gate.num
        if chunk > MAX_CHUNK_POINTS:
            raise ConfigError(
                f"one ngspice run would solve {chunk:,} points (chunk_size x v_in.num x "
                f"v_gate.num), more than the limit of {MAX_CHUNK_POINTS:,}; lower chunk_size"
            )

    def cell_transistor(self) -> Transistor:
        base = Path(self.base_dir) if self.base_dir else None
        return self.transistor.to_transistor(base, self.card_text)

    @cached_property
    def conductances(self) -> np.ndarray:
        """The conductance grid in S, strictly increasing."""
        g_min, g_max = 1.0 / self.memristor.r_off_ohm, 1.0 / self.memristor.r_on_ohm
        if self.conductance.spacing == "log":
            return np.geomspace(g_min, g_max, self.conductance.num)
        return np.linspace(g_min, g_max, self.conductance.num)

    @property
    def temperatures_c(self) -> np.ndarray:
        """The temperature grid in degC, strictly increasing (call on a validated spec)."""
        return np.asarray(self.temperature.values_c, dtype=np.float64)

    @property
    def sigma_vt_v(self) -> float:
        """The transistor's threshold mismatch sigma in V, Pelgrom's A_Vt / sqrt(W L); 0 when
        the spec states no ``transistor.a_vt_mv_um``."""
        a_vt = self.transistor.a_vt_mv_um
        if a_vt is None:
            return 0.0
        # mV*um = 1e-3 V * 1e-6 m; W and L in m
        return float(a_vt) * 1e-9 / math.sqrt(self.transistor.w_m * self.transistor.l_m)

    @property
    def delvto_v(self) -> np.ndarray:
        """The threshold-shift grid in V: ``mismatch.num`` values evenly spaced over
        +-``span_sigma`` sigmas, exactly antisymmetric (the middle one exactly 0 V)."""
        num, span = self.mismatch.num, self.mismatch.span_sigma * self.sigma_vt_v
        grid = np.linspace(-span, span, num)
        grid = (grid - grid[::-1]) / 2
        grid[num // 2] = 0.0
        return grid

    def plain(self) -> dict:
        """The spec as plain data (no ``base_dir``, no stored card), for JSON and hashing."""
        data = to_plain(self)
        data.pop("base_dir")
        data.pop("card_text")
        # keys at their defaults are left out: the plain data (and hash) of older specs
        if data["v_gate"]["offered_v"] is None:
            del data["v_gate"]["offered_v"]
        if data["temperature"] == to_plain(TemperatureGrid()):
            del data["temperature"]
        if data["mismatch"] == to_plain(MismatchGrid()):
            del data["mismatch"]
        if data["transistor"]["a_vt_mv_um"] is None and not data["transistor"]["a_vt_source"]:
            del data["transistor"]["a_vt_mv_um"], data["transistor"]["a_vt_source"]
        return data

    def sha256(self) -> str:
        """Hash of the spec's content and of the model card it uses.

        Comments and formatting of the TOML do not change it; any value does, and so does an
        edit of the model card file.
        """
        transistor = self.cell_transistor()
        if transistor.card_text is not None:
            card = transistor.card_text
        elif transistor.card_file is None:
            card = read_template(f"{transistor.model}.lib")
        else:
            card = Path(transistor.card_file).read_text(encoding="utf-8")
        payload = json.dumps(self.plain(), sort_keys=True) + "\n" + card
        return hashlib.sha256(payload.encode()).hexdigest()


def load_spec(path: Path | str) -> tuple[SweepSpec, str]:
    """Load and validate a spec file; return the spec and the file's TOML text.

    Raises
    ------
    ConfigError
        A missing or unparsable file, an unknown key or a bad value, naming the key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read spec {path} ({error.strerror})") from None
    return parse_spec(text, base_dir=path.parent), text


def parse_spec(text: str, base_dir: Path | None = None, card_text: str | None = None) -> SweepSpec:
    """Parse TOML text into a validated :class:`SweepSpec`.

    Parameters
    ----------
    text
        The spec's TOML.
    base_dir
        Folder that relative ``transistor.card_file`` paths start from.
    card_text
        A model card to use instead of the spec's own (e.g. the card stored in a LUT, whose spec
        may name a file that is not there, or not the card): ``transistor.card_file`` is then
        ignored and never opened, and the card passes the same gate as a card file.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"spec is not valid TOML: {error}") from None
    for key in ("base_dir", "card_text"):
        if key in data:
            raise ConfigError(f"unknown key {key}")
    spec = from_mapping(SweepSpec, data)
    if base_dir is not None:
        spec = dataclasses.replace(spec, base_dir=str(base_dir))
    if card_text is not None:
        spec = dataclasses.replace(spec, card_text=card_text)
    return spec.validate()


def preset_names() -> tuple[str, ...]:
    """Names of the presets shipped in ``configs/`` (sweep specs only)."""
    root = files("neatxbar.configs")
    return tuple(
        sorted(
            p.name[: -len(".toml")]
            for p in root.iterdir()
            if p.name.endswith(".toml") and not p.name.startswith("experiment")
        )
    )


def load_preset(name: str) -> tuple[SweepSpec, str]:
    """Load the preset ``configs/<name>.toml``; return the spec and its TOML text."""
    if name not in preset_names():
        raise ConfigError(f"no preset {name!r}; choose one of {', '.join(preset_names())}")
    text = (files("neatxbar.configs") / f"{name}.toml").read_text(encoding="utf-8")
    return parse_spec(text), text
