"""The HDF5 cell look-up table, schema ``neat-lut/1`` (docs/lut-format.md): create, fill, check.

Plain h5py and numpy only (no torch), so the characterization stage can write files without
importing the emulation. Layout::

    /                    attrs: schema, created, ngspice_version, package_version, spec,
                                spec_sha256, cell_netlist, transistor (JSON), tolerance
    /grid/conductance    (n_g,)  S, strictly increasing     attr units = "S"
    /grid/v_in           (n_v,)  V                          attr units = "V"
    /grid/v_gate         (n_vg,) V                          attr units = "V"
    /grid/v_gate_offered (n_off,) V, optional: the gate voltages offered for mapping, a sorted
                         subset of grid/v_gate (absent: all of them)   attr units = "V"
    /current             (n_g, n_v, n_vg) float64, A
    /status              (n_g, n_v, n_vg) uint8: 0 solved, 1 not yet run, 2 failed
    /linear_region/g_max (n_vg,) S;  /linear_region/w_max (n_vg,) fraction of the weight range
    /energy/read_energy  (n_g, n_v, n_vg) J per cell per read (optional)

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

SCHEMA = "neat-lut/1"
SOLVED, PENDING, FAILED = 0, 1, 2
GRID_UNITS = {"conductance": "S", "v_in": "V", "v_gate": "V"}
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
#: Most objects (groups and datasets) a LUT file may hold; the schema has 14.
MAX_OBJECTS = 256
#: A current below ``-CURRENT_SLACK * G_max * V_max`` is negative, not solver noise (A/A).
CURRENT_SLACK = 1e-9
METRICS = ("ideal", "fit")


@dataclass(frozen=True)
class Grids:
    """The three axes of a LUT: conductance (S), input voltage (V), gate voltage (V)."""

    conductance: np.ndarray
    v_in: np.ndarray
    v_gate: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.conductance.size, self.v_in.size, self.v_gate.size)


@dataclass(frozen=True)
class Region:
    """The ``linear_region/`` group of a file, checked.

    Attributes
    ----------
    g_max, w_max
        Shape ``(n_vg,)``: conductance bound (S, 0 = none) and weight bound (fraction in [0, 1]).
    crossing, max_deviation
        Shapes ``(n_vg,)`` (S; inf = no cut-off) and ``(n_g, n_vg)`` (fraction), if present.
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
        The three axes (S, V, V).
    current
        Cell currents in A, shape ``grids.shape``, float64, finite, >= 0 (up to solver noise).
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


def create(
    path: Path,
    grids: Grids,
    attrs: Mapping[str, object],
    v_gate_offered: np.ndarray | None = None,
) -> None:
    """Create a LUT file whose every point is pending (status 1, current NaN).

    ``attrs`` must give every root attribute of the schema except ``schema`` and ``created``.
    ``v_gate_offered`` (V, values of ``grids.v_gate``) is written as ``grid/v_gate_offered``;
    None writes nothing (every grid gate voltage is offered).
    """
    missing = set(ROOT_ATTRS) - {"schema", "created"} - set(attrs)
    if missing:
        raise ValueError(f"LUT attributes missing: {', '.join(sorted(missing))}")
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = SCHEMA
        f.attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        for key, value in attrs.items():
            f.attrs[key] = str(value) if isinstance(value, str) else value
        for name, units in GRID_UNITS.items():
            data = f.create_dataset(f"grid/{name}", data=np.asarray(getattr(grids, name), float))
            data.attrs["units"] = units
        current = f.create_dataset("current", shape=grids.shape, dtype="f8", fillvalue=np.nan)
        current.attrs["units"] = "A"
        f.create_dataset("status", shape=grids.shape, dtype="u1", fillvalue=PENDING)
        if v_gate_offered is not None:
            offered = f.create_dataset(OFFERED, data=np.asarray(v_gate_offered, np.float64))
            offered.attrs["units"] = "V"


def write_block(f: h5py.File, g_slice: slice, current: np.ndarray, status: np.ndarray) -> None:
    """Write the results of the conductances ``g_slice`` (all V_in, all V_gate) and flush.

    The current goes in before the status, so a crash between the two leaves the block pending.
    """
    f["current"][g_slice] = current
    f["status"][g_slice] = status
    f.flush()


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
                raise LUTError(f"{path}: more than {MAX_OBJECTS} objects; not a neat-lut/1 file")
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
    params = value.get("model_params", {})
    if not isinstance(params, dict):
        raise LUTError(f"{path}: transistor model_params must be a JSON object")
    for key, number in params.items():
        _number(number, f"transistor model_params {key}", path)
    return value


def check_attrs_and_grids(f: h5py.File, path: Path, min_points: int = 1) -> Grids:
    """Check the schema attribute, the root attributes, the grids and the shapes and types of
    ``current`` and ``status``; return the grids. Only the grids are read.

    Parameters
    ----------
    min_points
        Fewest points each grid must have (a complete LUT needs 2 to interpolate).
    """
    schema = f.attrs.get("schema")
    if schema != SCHEMA:
        raise LUTError(f"{path}: schema is {schema!r}, expected {SCHEMA!r}")
    missing = [key for key in ROOT_ATTRS if key not in f.attrs]
    if missing:
        raise LUTError(f"{path}: root attributes missing: {', '.join(missing)}")
    for key in TEXT_ATTRS:
        _text(f, key, path)
    sizes = {}
    for name in GRID_UNITS:
        data = _float64(f, f"grid/{name}", path)
        if data.ndim != 1 or not min_points <= data.size <= MAX_POINTS:
            raise LUTError(
                f"{path}: grid/{name} must be a 1-D grid of at least {min_points} points, "
                f"has shape {data.shape}"
            )
        sizes[name] = data.size
    points = math.prod(sizes.values())
    if points > MAX_POINTS:
        raise LUTError(f"{path}: {points} grid points, more than the limit of {MAX_POINTS}")
    axes = {}
    for name in GRID_UNITS:
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
    grids = Grids(**axes)
    _float64(f, "current", path, grids.shape)
    status = _dataset(f, "status", path)
    if status.dtype != np.uint8 or status.shape != grids.shape:
        raise LUTError(
            f"{path}: status must be uint8 of shape {grids.shape}, "
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
    g_max = _read(_float64(f, "linear_region/g_max", path, (n_vg,)))
    w_max = _read(_float64(f, "linear_region/w_max", path, (n_vg,)))
    g_top = grids.conductance[-1] * (1 + 1e-9)
    if not (np.all(np.isfinite(g_max)) and np.all(g_max >= 0) and np.all(g_max <= g_top)):
        raise LUTError(f"{path}: linear_region/g_max must be finite, in [0, {g_top:.6g}] S")
    if not (np.all(np.isfinite(w_max)) and np.all(w_max >= 0) and np.all(w_max <= 1)):
        raise LUTError(f"{path}: linear_region/w_max must be finite fractions in [0, 1]")
    optional = {}
    for name, shape in (("crossing", (n_vg,)), ("max_deviation", (n_g, n_vg))):
        optional[name] = None
        if name in group:
            values = _read(_float64(f, f"linear_region/{name}", path, shape))
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
    data = _float64(f, "energy/read_energy", path, grids.shape)
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
        current = _read(f["current"])
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
        )


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
