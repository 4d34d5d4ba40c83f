"""The HDF5 cell look-up table, schema ``neat-lut/2`` (docs/lut-format.md): create, fill, check.

Plain h5py and numpy only (no torch), so the characterization stage can write files without
importing the emulation. Layout (``n_t`` temperatures, ``n_d`` threshold shifts)::

    /                    attrs: schema, created, ngspice_version, package_version, spec,
                                spec_sha256, cell_netlist, transistor (JSON), tolerance,
                                sigma_vt_v (V; 0 when unknown)
    /grid/temperature_c  (n_t,)  degC, strictly increasing  attr units = "degC"
    /grid/delvto         (n_d,)  V, strictly increasing, holds 0 V   attr units = "V"
    /grid/conductance    (n_g,)  S, strictly increasing     attr units = "S"
    /grid/v_in           (n_v,)  V                          attr units = "V"
    /grid/v_gate         (n_vg,) V                          attr units = "V"
    /grid/v_gate_offered (n_off,) V, optional: the gate voltages offered for mapping, a sorted
                         subset of grid/v_gate (absent: all of them)   attr units = "V"
    /current             (n_t, n_d, n_g, n_v, n_vg) float64, A
    /status              (n_t, n_d, n_g, n_v, n_vg) uint8: 0 solved, 1 not yet run, 2 failed
    /linear_region/g_max (n_t, n_vg) S;  /linear_region/w_max (n_t, n_vg) fraction of the weight
                         range; crossing (n_t, n_vg) S; max_deviation (n_t, n_g, n_vg) (at 0 V)
    /energy/read_energy  (n_t, n_d, n_g, n_v, n_vg) J per cell per read (optional)

Files of the older schema ``neat-lut/1`` (no temperature or shift axis: ``current`` and
``status`` of shape (n_g, n_v, n_vg), bounds of shape (n_vg,)) still read, as one temperature
(27 degC) and one shift (0 V); new files are always written as ``neat-lut/2``.

:func:`read_lut` is the one reader of a whole file: it returns the grids, the table and every
attribute a caller needs (:class:`LUTContents`: spec, cell netlist, transistor, tolerance, read
time, provenance), so no caller reopens the file. A LUT travels between people, so a file is
untrusted: :func:`open_lut` refuses data stored
outside the file (external storage, virtual datasets, external or soft links), and
:func:`read_lut` checks every dataset's type and shape *before* reading it (never allocating more
than the declared grids imply, and at most :data:`MAX_POINTS` points), then every value: finite,
strictly increasing grids, positive conductances, non-negative currents, bounds in range, the
offered gate voltages (on the gate grid, sorted) and the attributes used downstream (tolerance,
transistor JSON, read time).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from neatxbar.core.checks import check_number
from neatxbar.core.jsonout import dumps_strict
from neatxbar.lut.errors import LUTError

SCHEMA = "neat-lut/2"
#: The older schema, still read (see the module docstring).
SCHEMA_V1 = "neat-lut/1"
SCHEMAS = (SCHEMA_V1, SCHEMA)
SOLVED, PENDING, FAILED = 0, 1, 2
GRID_UNITS = {"conductance": "S", "v_in": "V", "v_gate": "V"}
#: The axes ``neat-lut/2`` adds in front of the cell's three: temperature and threshold shift.
AXIS_UNITS = {"temperature_c": "degC", "delvto": "V"}
#: The temperature (degC) of a ``neat-lut/1`` file, and the one selected by default.
NOMINAL_TEMPERATURE_C = 27.0
#: How far (V) the delvto grid's zero may lie from 0 V.
ZERO_SHIFT_TOLERANCE_V = 1e-12
#: How far (degC) a requested temperature may lie from a grid temperature.
TEMPERATURE_TOLERANCE_C = 1e-6
#: Accepted ranges of the new axes: temperatures (degC, above absolute zero) and shifts (V).
TEMPERATURE_RANGE_C = (-273.15, 1000.0)
DELVTO_LIMIT_V = 1.0
#: The optional dataset of the gate voltages offered for mapping (a subset of ``grid/v_gate``).
OFFERED = "grid/v_gate_offered"
#: How far (V) an offered gate voltage may lie from its grid point.
OFFERED_TOLERANCE_V = 1e-9
ROOT_ATTRS = (
    "schema",
    "created",
    "ngspice_version",
    "package_version",
    "spec",
    "spec_sha256",
    "cell_netlist",
    "transistor",
    "tolerance",
)
TEXT_ATTRS = tuple(key for key in ROOT_ATTRS if key != "tolerance")
#: The root attributes that say where a file comes from (:class:`Provenance`).
PROVENANCE_ATTRS = ("created", "ngspice_version", "package_version", "spec_sha256")
#: Largest LUT accepted, in (G, V_in, V_gate) points: 512 MiB of float64 currents.
MAX_POINTS = 1 << 26
#: Most objects (groups and datasets) a LUT file may hold; the schema has 17.
MAX_OBJECTS = 256
#: A current below ``-CURRENT_SLACK * G_max * V_max`` is negative, not solver noise (A/A).
CURRENT_SLACK = 1e-9
METRICS = ("ideal", "fit")


def _nominal() -> np.ndarray:
    return np.array([NOMINAL_TEMPERATURE_C])


def _no_shift() -> np.ndarray:
    return np.zeros(1)


@dataclass(frozen=True)
class Grids:
    """The axes of a LUT: conductance (S), input voltage (V), gate voltage (V), and in front of
    them temperature (degC) and threshold shift ``delvto`` (V), one point each by default."""

    conductance: np.ndarray
    v_in: np.ndarray
    v_gate: np.ndarray
    temperature_c: np.ndarray = field(default_factory=_nominal)
    delvto: np.ndarray = field(default_factory=_no_shift)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The cell's axes (n_g, n_v, n_vg): the shape of one (temperature, shift) table."""
        return (self.conductance.size, self.v_in.size, self.v_gate.size)

    @property
    def full_shape(self) -> tuple[int, int, int, int, int]:
        """(n_t, n_d, n_g, n_v, n_vg): the shape of a ``neat-lut/2`` file's ``current``."""
        return (self.temperature_c.size, self.delvto.size, *self.shape)

    @property
    def zero_shift(self) -> int:
        """Index of the 0 V threshold shift on ``delvto``."""
        return int(np.argmin(np.abs(self.delvto)))


@dataclass(frozen=True)
class Region:
    """The ``linear_region/`` group of a file, checked; one row per temperature (a
    ``neat-lut/1`` file's bounds read as one row).

    Attributes
    ----------
    g_max, w_max
        Shape ``(n_t, n_vg)``: conductance bound (S, 0 = none) and weight bound (fraction in
        [0, 1]).
    crossing, max_deviation
        Shapes ``(n_t, n_vg)`` (S; inf = no cut-off) and ``(n_t, n_g, n_vg)`` (fraction), if
        present.
    metric, tolerance
        The fit's metric and tolerance (fraction), if the group records them.
    """

    g_max: np.ndarray
    w_max: np.ndarray
    crossing: np.ndarray | None
    max_deviation: np.ndarray | None
    metric: str | None
    tolerance: float | None


@dataclass(frozen=True)
class Provenance:
    """Where a LUT file comes from: its root attributes of that name, as text.

    Attributes
    ----------
    created
        When the file was created (ISO 8601).
    ngspice_version, package_version
        The ngspice and neat-xbar versions that made it.
    spec_sha256
        SHA-256 (hex) of the sweep specification (the ``spec`` attribute) it was made from.
    """

    created: str = ""
    ngspice_version: str = ""
    package_version: str = ""
    spec_sha256: str = ""


@dataclass(frozen=True)
class LUTContents:
    """A complete LUT file, read and checked by :func:`read_lut`.

    Attributes
    ----------
    grids
        The axes (S, V, V, degC, V).
    current
        Cell currents in A, shape ``grids.full_shape`` (n_t, n_d, n_g, n_v, n_vg), float64,
        finite, >= 0 (up to solver noise); a ``neat-lut/1`` file's table with two axes of one
        point in front.
    tolerance
        The root ``tolerance`` attribute (fraction in (0, 1)).
    transistor
        The root ``transistor`` attribute, parsed (a JSON object).
    spec, cell_netlist
        The root ``spec`` (TOML text) and ``cell_netlist`` (SPICE text) attributes, unparsed.
    region
        ``linear_region/``, or None when the file has not been fitted.
    read_time_s
        ``energy/read_energy``'s ``read_time_s`` (s), or None.
    provenance
        The file's ``created``, ``ngspice_version``, ``package_version``, ``spec_sha256``.
    v_gate_offered
        ``grid/v_gate_offered`` as values of ``grids.v_gate`` (V), or None when the file does not
        have it (every grid gate voltage is offered).
    sigma_vt_v
        The root ``sigma_vt_v`` attribute: the transistor's threshold mismatch sigma (V), 0 when
        unknown (and for ``neat-lut/1`` files).
    schema
        The file's schema, ``neat-lut/2`` or ``neat-lut/1``.
    """

    grids: Grids
    current: np.ndarray
    tolerance: float
    transistor: dict[str, Any] = field(default_factory=dict)
    spec: str = ""
    cell_netlist: str = ""
    region: Region | None = None
    read_time_s: float | None = None
    provenance: Provenance = field(default_factory=Provenance)
    v_gate_offered: np.ndarray | None = None
    sigma_vt_v: float = 0.0
    schema: str = SCHEMA

    @property
    def nominal(self) -> np.ndarray:
        """The table at 0 V shift and the default temperature (:func:`select_temperature`):
        currents in A, shape ``grids.shape`` (a view)."""
        t = select_temperature(self.grids.temperature_c, None, Path())
        return self.current[t, self.grids.zero_shift]


def create(
    path: Path,
    grids: Grids,
    attrs: Mapping[str, object],
    v_gate_offered: np.ndarray | None = None,
) -> None:
    """Create a ``neat-lut/2`` file whose every point is pending (status 1, current NaN).

    ``attrs`` must give every root attribute of the schema except ``schema``, ``created`` and
    ``sigma_vt_v`` (V; 0 when absent). ``v_gate_offered`` (V, values of ``grids.v_gate``) is
    written as ``grid/v_gate_offered``; None writes nothing (every grid gate voltage is offered).
    """
    missing = set(ROOT_ATTRS) - {"schema", "created"} - set(attrs)
    if missing:
        raise ValueError(f"LUT attributes missing: {', '.join(sorted(missing))}")
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = SCHEMA
        f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        f.attrs["sigma_vt_v"] = 0.0
        for key, value in attrs.items():
            f.attrs[key] = str(value) if isinstance(value, str) else value
        for name, units in (GRID_UNITS | AXIS_UNITS).items():
            data = f.create_dataset(f"grid/{name}", data=np.asarray(getattr(grids, name), float))
            data.attrs["units"] = units
        shape = grids.full_shape
        current = f.create_dataset("current", shape=shape, dtype="f8", fillvalue=np.nan)
        current.attrs["units"] = "A"
        f.create_dataset("status", shape=shape, dtype="u1", fillvalue=PENDING)
        if v_gate_offered is not None:
            offered = f.create_dataset(OFFERED, data=np.asarray(v_gate_offered, np.float64))
            offered.attrs["units"] = "V"


def write_block(
    f: h5py.File, where: tuple[int | slice, ...], current: np.ndarray, status: np.ndarray
) -> None:
    """Write one block of results at index ``where`` of ``current`` and ``status`` (e.g.
    ``(t, d, slice(g0, g1))``: some conductances at one temperature and shift, all V_in and
    V_gate) and flush.

    The current goes in before the status, so a crash between the two leaves the block pending.
    """
    f["current"][where] = current
    f["status"][where] = status
    f.flush()


def schema_of(f: h5py.File, path: Path) -> str:
    """The file's ``schema`` attribute, one of :data:`SCHEMAS`; LUTError otherwise."""
    schema = f.attrs.get("schema")
    if isinstance(schema, bytes):
        schema = schema.decode("utf-8", "replace")
    if schema not in SCHEMAS:
        raise LUTError(f"{path}: schema is {schema!r}, expected {SCHEMA!r} (or {SCHEMA_V1!r})")
    return schema


def stored_shape(f: h5py.File, grids: Grids) -> tuple[int, ...]:
    """The shape of the file's ``current``, ``status`` and ``read_energy``: ``grids.full_shape``,
    or ``grids.shape`` for a ``neat-lut/1`` file (call after :func:`check_attrs_and_grids`)."""
    return grids.shape if f.attrs.get("schema") == SCHEMA_V1 else grids.full_shape


def select_temperature(temperatures_c: np.ndarray, temperature_c: float | None, path: Path) -> int:
    """Index of ``temperature_c`` (degC) on a file's temperature grid.

    None selects the nominal 27 degC when the grid holds it, else the grid's first temperature.

    Raises
    ------
    LUTError
        ``temperature_c`` is not a finite number on the grid (within 1e-6 degC); the message
        lists the file's temperatures.
    """
    grid = np.asarray(temperatures_c, dtype=np.float64)
    if temperature_c is None:
        near = np.abs(grid - NOMINAL_TEMPERATURE_C) <= TEMPERATURE_TOLERANCE_C
        return int(np.argmax(near)) if np.any(near) else 0
    value = check_number("temperature (degC)", temperature_c, error=LUTError)
    distance = np.abs(grid - value)
    index = int(np.argmin(distance))
    if distance[index] > TEMPERATURE_TOLERANCE_C:
        listed = ", ".join(f"{t:g}" for t in grid)
        raise LUTError(
            f"{path}: no {value:g} degC in this LUT (its temperatures: {listed} degC); "
            "characterize a spec whose [temperature] values_c holds it"
        )
    return index


# --- checks of an untrusted file -------------------------------------------------------------


def check_storage(f: h5py.File, path: Path) -> None:
    """Refuse anything that makes the file read bytes from elsewhere, or too many objects.

    External and soft links, external-storage datasets (h5py ``external=``) and virtual datasets
    are refused: they would read another file's bytes as this LUT's data.
    """
    stack: list[h5py.Group] = [f]
    count = 0
    while stack:
        group = stack.pop()
        for name in group:
            count += 1
            if count > MAX_OBJECTS:
                raise LUTError(f"{path}: more than {MAX_OBJECTS} objects; not a neat-lut file")
            where = f"{group.name.rstrip('/')}/{name}"
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                kind = "an external link" if isinstance(link, h5py.ExternalLink) else "a soft link"
                raise LUTError(f"{path}: {where} is {kind}; a LUT must hold its own data")
            item = group[name]
            if isinstance(item, h5py.Group):
                stack.append(item)
            elif isinstance(item, h5py.Dataset):
                if item.is_virtual or item.id.get_create_plist().get_external_count() > 0:
                    raise LUTError(
                        f"{path}: {where} is stored outside the file (external or virtual "
                        "dataset); a LUT must hold its own data"
                    )
            else:
                raise LUTError(f"{path}: {where} is not a group or a dataset")


def _dataset(f: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    item = f.get(name)
    if item is None:
        raise LUTError(f"{path}: dataset {name} missing")
    if not isinstance(item, h5py.Dataset):
        raise LUTError(f"{path}: {name} is not a dataset")
    return item


def _float64(
    f: h5py.Group, name: str, path: Path, shape: tuple[int, ...] | None = None
) -> h5py.Dataset:
    """The float64 dataset ``name``, of ``shape`` when given; nothing is read yet."""
    data = _dataset(f, name, path)
    if data.dtype.kind != "f" or data.dtype.itemsize != 8:
        raise LUTError(f"{path}: {name} has type {data.dtype}, expected float64")
    if shape is not None and data.shape != shape:
        raise LUTError(f"{path}: {name} has shape {data.shape}, expected {shape}")
    return data


def _read(data: h5py.Dataset) -> np.ndarray:
    """A checked dataset's values as native float64."""
    return np.asarray(data[()], dtype=np.float64)


def _text(f: h5py.File, key: str, path: Path) -> str:
    value = f.attrs[key]
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise LUTError(f"{path}: attribute {key} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise LUTError(f"{path}: attribute {key} must be text, got {type(value).__name__}")
    return value


def _number(value: object, name: str, path: Path, **bounds: Any) -> float:
    """A scalar attribute checked by :func:`check_number` (text and arrays refused)."""
    if np.ndim(value) != 0 or not isinstance(value, int | float | np.integer | np.floating):
        raise LUTError(f"{path}: {name} must be a number, got {type(value).__name__}")
    return check_number(f"{path}: {name}", value, error=LUTError, **bounds)


def _fraction(value: object, name: str, path: Path) -> float:
    number = _number(value, name, path, positive=True, high=1.0)
    if number >= 1:
        raise LUTError(f"{path}: {name} must be a fraction in (0, 1), got {number!r}")
    return number


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_transistor(text: str, path: Path) -> dict[str, Any]:
    """The ``transistor`` attribute: a JSON object whose ``w_m``, ``l_m`` (m) and
    ``model_params`` values, where present, are finite numbers (sizes > 0)."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        raise LUTError(f"{path}: attribute transistor is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise LUTError(f"{path}: attribute transistor must be a JSON object")
    for key in ("w_m", "l_m"):
        if key in value:
            _number(value[key], f"transistor {key}", path, positive=True)
    if value.get("a_vt_mv_um") is not None:
        _number(value["a_vt_mv_um"], "transistor a_vt_mv_um", path, positive=True)
    params = value.get("model_params", {})
    if not isinstance(params, dict):
        raise LUTError(f"{path}: transistor model_params must be a JSON object")
    for key, number in params.items():
        _number(number, f"transistor model_params {key}", path)
    return value


def _axis_names(schema: str) -> tuple[str, ...]:
    """The grids a file of ``schema`` stores."""
    return tuple(GRID_UNITS) + (tuple(AXIS_UNITS) if schema == SCHEMA else ())


def _check_new_axes(axes: dict[str, np.ndarray], path: Path) -> None:
    """``grid/temperature_c`` in range (degC); ``grid/delvto`` within +-1 V, holding 0 V."""
    low, high = TEMPERATURE_RANGE_C
    temps = axes["temperature_c"]
    if temps.min() <= low or temps.max() > high:
        raise LUTError(
            f"{path}: grid/temperature_c must lie in ({low:g}, {high:g}] degC, holds "
            f"{temps.min():g} to {temps.max():g}"
        )
    shifts = axes["delvto"]
    if np.abs(shifts).max() > DELVTO_LIMIT_V:
        raise LUTError(f"{path}: grid/delvto must lie within +-{DELVTO_LIMIT_V:g} V")
    if np.abs(shifts).min() > ZERO_SHIFT_TOLERANCE_V:
        raise LUTError(
            f"{path}: grid/delvto must hold 0 V (the cell without threshold shift), holds "
            f"{shifts.min():.6g} to {shifts.max():.6g} V without it"
        )


def check_attrs_and_grids(f: h5py.File, path: Path, min_points: int = 1) -> Grids:
    """Check the schema attribute, the root attributes, the grids and the shapes and types of
    ``current`` and ``status``; return the grids. Only the grids are read.

    Parameters
    ----------
    min_points
        Fewest points each cell grid (conductance, V_in, V_gate) must have (a complete LUT
        needs 2 to interpolate); the temperature and shift grids need 1.
    """
    schema = schema_of(f, path)
    missing = [key for key in ROOT_ATTRS if key not in f.attrs]
    if schema == SCHEMA and "sigma_vt_v" not in f.attrs:
        missing.append("sigma_vt_v")
    if missing:
        raise LUTError(f"{path}: root attributes missing: {', '.join(missing)}")
    for key in TEXT_ATTRS:
        _text(f, key, path)
    if schema == SCHEMA:
        _number(f.attrs["sigma_vt_v"], "sigma_vt_v (V)", path, nonnegative=True, high=1.0)
    names = _axis_names(schema)
    sizes = {}
    for name in names:
        data = _float64(f, f"grid/{name}", path)
        least = min_points if name in GRID_UNITS else 1
        if data.ndim != 1 or not least <= data.size <= MAX_POINTS:
            raise LUTError(
                f"{path}: grid/{name} must be a 1-D grid of at least {least} points, "
                f"has shape {data.shape}"
            )
        sizes[name] = data.size
    points = math.prod(sizes.values())
    if points > MAX_POINTS:
        raise LUTError(f"{path}: {points} grid points, more than the limit of {MAX_POINTS}")
    axes = {}
    for name in names:
        axis = _read(f[f"grid/{name}"])
        if not np.all(np.isfinite(axis)):
            raise LUTError(f"{path}: grid/{name} holds NaN or inf")
        if np.any(np.diff(axis) <= 0):
            raise LUTError(f"{path}: grid/{name} is not a strictly increasing 1-D grid")
        axes[name] = axis
    if axes["conductance"][0] <= 0:
        raise LUTError(
            f"{path}: grid/conductance must be > 0 S, starts at {axes['conductance'][0]}"
        )
    if axes["v_in"][0] < 0:
        raise LUTError(f"{path}: grid/v_in must be >= 0 V, starts at {axes['v_in'][0]}")
    if schema == SCHEMA:
        _check_new_axes(axes, path)
    grids = Grids(**axes)
    shape = stored_shape(f, grids)
    _float64(f, "current", path, shape)
    status = _dataset(f, "status", path)
    if status.dtype != np.uint8 or status.shape != shape:
        raise LUTError(
            f"{path}: status must be uint8 of shape {shape}, "
            f"is {status.dtype} of shape {status.shape}"
        )
    return grids


def nearest_index(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest value of the increasing ``grid`` (>= 1 point) for each of the finite
    ``values`` (O(n log m): no n x m table)."""
    if grid.size == 1:
        return np.zeros(np.shape(values), dtype=np.int64)
    right = np.clip(np.searchsorted(grid, values), 1, grid.size - 1)
    return np.where(values - grid[right - 1] < grid[right] - values, right - 1, right)


def read_offered(f: h5py.File, grids: Grids, path: Path) -> np.ndarray | None:
    """``grid/v_gate_offered``, checked, as values of ``grids.v_gate`` (V); None when absent.

    It must be a 1-D float64 dataset of 1 to n_vg finite values, each within
    :data:`OFFERED_TOLERANCE_V` of a grid gate voltage, strictly increasing (sorted, no repeats).
    Call after :func:`check_attrs_and_grids` (``grid`` is then a group).
    """
    if "v_gate_offered" not in f["grid"]:
        return None
    grid = grids.v_gate
    data = _float64(f, OFFERED, path)
    if data.ndim != 1 or not 1 <= data.size <= grid.size:
        raise LUTError(
            f"{path}: {OFFERED} must be a 1-D list of 1 to {grid.size} gate voltages, "
            f"has shape {data.shape}"
        )
    values = _read(data)
    if not np.all(np.isfinite(values)):
        raise LUTError(f"{path}: {OFFERED} holds NaN or inf")
    index = nearest_index(grid, values)
    off = np.abs(grid[index] - values) > OFFERED_TOLERANCE_V
    if np.any(off):
        bad = float(values[np.argmax(off)])
        raise LUTError(f"{path}: {OFFERED} holds {bad!r} V, not a value of grid/v_gate")
    if np.any(np.diff(index) <= 0):
        raise LUTError(f"{path}: {OFFERED} must be strictly increasing (sorted, no repeats)")
    return grid[index]


def open_lut(path: Path, mode: str = "r") -> h5py.File:
    """Open a LUT file, turning h5py's errors into one-line :class:`LUTError`; refuse a file
    that reads data from elsewhere (see :func:`check_storage`)."""
    path = Path(path)
    if not path.exists():
        raise LUTError(f"{path}: no such LUT file")
    try:
        f = h5py.File(path, mode)
    except OSError as error:
        raise LUTError(f"{path}: not a readable HDF5 file ({error.args[0]})") from None
    try:
        check_storage(f, path)
    except BaseException:
        f.close()
        raise
    return f


def _region(f: h5py.File, grids: Grids, path: Path) -> Region | None:
    if "linear_region" not in f:
        return None
    group = f["linear_region"]
    if not isinstance(group, h5py.Group):
        raise LUTError(f"{path}: linear_region is not a group")
    n_g, _, n_vg = grids.shape
    # one row per temperature; a neat-lut/1 file's bounds are one row without the axis
    rows = () if f.attrs.get("schema") == SCHEMA_V1 else (grids.temperature_c.size,)
    n_t = grids.temperature_c.size
    g_max = _read(_float64(f, "linear_region/g_max", path, (*rows, n_vg))).reshape(n_t, n_vg)
    w_max = _read(_float64(f, "linear_region/w_max", path, (*rows, n_vg))).reshape(n_t, n_vg)
    g_top = grids.conductance[-1] * (1 + 1e-9)
    if not (np.all(np.isfinite(g_max)) and np.all(g_max >= 0) and np.all(g_max <= g_top)):
        raise LUTError(f"{path}: linear_region/g_max must be finite, in [0, {g_top:.6g}] S")
    if not (np.all(np.isfinite(w_max)) and np.all(w_max >= 0) and np.all(w_max <= 1)):
        raise LUTError(f"{path}: linear_region/w_max must be finite fractions in [0, 1]")
    optional = {}
    for name, shape in (("crossing", (n_vg,)), ("max_deviation", (n_g, n_vg))):
        optional[name] = None
        if name in group:
            data = _float64(f, f"linear_region/{name}", path, (*rows, *shape))
            values = _read(data).reshape(n_t, *shape)
            if np.any(np.isnan(values)) or np.any(values < 0):
                raise LUTError(f"{path}: linear_region/{name} holds NaN or negative values")
            optional[name] = values
    metric = group.attrs.get("metric")
    if metric is not None:
        metric = metric.decode("utf-8", "replace") if isinstance(metric, bytes) else metric
        if metric not in METRICS:
            raise LUTError(f"{path}: linear_region metric must be one of {', '.join(METRICS)}")
    tolerance = group.attrs.get("tolerance")
    if tolerance is not None:
        tolerance = _fraction(tolerance, "linear_region tolerance", path)
    return Region(g_max, w_max, optional["crossing"], optional["max_deviation"], metric, tolerance)


def _read_time(f: h5py.File, grids: Grids, path: Path) -> float | None:
    if "energy" not in f:
        return None
    if not isinstance(f["energy"], h5py.Group):
        raise LUTError(f"{path}: energy is not a group")
    if "read_energy" not in f["energy"]:
        return None
    data = _float64(f, "energy/read_energy", path, stored_shape(f, grids))
    if "read_time_s" not in data.attrs:
        return None
    return _number(data.attrs["read_time_s"], "energy read_time_s", path, positive=True)


def read_lut(path: Path) -> LUTContents:
    """Read and check a whole LUT file (see the module docstring for what is checked).

    Raises
    ------
    LUTError
        The first thing that is wrong, in one line.
    """
    path = Path(path)
    with open_lut(path) as f:
        grids = check_attrs_and_grids(f, path, min_points=2)
        status = f["status"][()]
        if np.any(status != SOLVED):
            counts = dict(zip(*np.unique(status, return_counts=True), strict=True))
            raise LUTError(
                f"{path}: incomplete LUT ({int(counts.get(PENDING, 0))} points not yet run, "
                f"{int(counts.get(FAILED, 0))} failed); rerun 'neat characterize' to resume"
            )
        current = _read(f["current"]).reshape(grids.full_shape)
        if not np.all(np.isfinite(current)):
            raise LUTError(f"{path}: current holds non-finite values")
        floor = -CURRENT_SLACK * grids.conductance[-1] * grids.v_in[-1]
        if current.min() < floor:
            raise LUTError(
                f"{path}: current holds negative values (down to {current.min():.3g} A); a cell "
                "with G > 0 and V_in >= 0 conducts from the input line into the column"
            )
        return LUTContents(
            grids=grids,
            current=current,
            tolerance=_fraction(f.attrs["tolerance"], "tolerance", path),
            transistor=parse_transistor(_text(f, "transistor", path), path),
            spec=_text(f, "spec", path),
            cell_netlist=_text(f, "cell_netlist", path),
            region=_region(f, grids, path),
            read_time_s=_read_time(f, grids, path),
            provenance=Provenance(**{key: _text(f, key, path) for key in PROVENANCE_ATTRS}),
            v_gate_offered=read_offered(f, grids, path),
            sigma_vt_v=_sigma_vt(f, path),
            schema=schema_of(f, path),
        )


def _sigma_vt(f: h5py.File, path: Path) -> float:
    """The root ``sigma_vt_v`` (V; checked by :func:`check_attrs_and_grids`), 0 for v1 files."""
    if f.attrs.get("schema") == SCHEMA_V1:
        return 0.0
    return _number(f.attrs["sigma_vt_v"], "sigma_vt_v (V)", path, nonnegative=True, high=1.0)


def check_complete(path: Path) -> Grids:
    """Check a whole LUT file (see :func:`read_lut`); return its grids.

    Raises
    ------
    LUTError
        The first thing that is wrong, in one line.
    """
    return read_lut(path).grids


def transistor_json(description: Mapping[str, object]) -> str:
    """The ``transistor`` root attribute: strict JSON with sorted keys."""
    return dumps_strict(dict(description), sort_keys=True)


def replace_atomically(tmp: Path, final: Path) -> None:
    """Move a finished file into place in one step (same directory, so it is a rename)."""
    os.replace(tmp, final)
