"""The HDF5 cell look-up table, schema ``neat-lut/1`` (see DESIGN.md): create, fill, check.

Plain h5py and numpy only (no torch), so the characterization stage can write files without
importing the emulation. Layout::

    /                    attrs: schema, created, ngspice_version, package_version, spec,
                                spec_sha256, cell_netlist, transistor (JSON), tolerance
    /grid/conductance    (n_g,)  S, strictly increasing     attr units = "S"
    /grid/v_in           (n_v,)  V                          attr units = "V"
    /grid/v_gate         (n_vg,) V                          attr units = "V"
    /current             (n_g, n_v, n_vg) float64, A
    /status              (n_g, n_v, n_vg) uint8: 0 solved, 1 not yet run, 2 failed
    /linear_region/g_max (n_vg,) S;  /linear_region/w_max (n_vg,) fraction of the weight range
    /energy/read_energy  (n_g, n_v, n_vg) J per cell per read (optional)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from neatxbar.lut.errors import LUTError

SCHEMA = "neat-lut/1"
SOLVED, PENDING, FAILED = 0, 1, 2
GRID_UNITS = {"conductance": "S", "v_in": "V", "v_gate": "V"}
ROOT_ATTRS = (
    "schema", "created", "ngspice_version", "package_version", "spec", "spec_sha256",
    "cell_netlist", "transistor", "tolerance",
)  # fmt: skip


@dataclass(frozen=True)
class Grids:
    """The three axes of a LUT: conductance (S), input voltage (V), gate voltage (V)."""

    conductance: np.ndarray
    v_in: np.ndarray
    v_gate: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.conductance.size, self.v_in.size, self.v_gate.size)


def create(path: Path, grids: Grids, attrs: Mapping[str, object]) -> None:
    """Create a LUT file whose every point is pending (status 1, current NaN).

    ``attrs`` must give every root attribute of the schema except ``schema`` and ``created``.
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


def write_block(f: h5py.File, g_slice: slice, current: np.ndarray, status: np.ndarray) -> None:
    """Write the results of the conductances ``g_slice`` (all V_in, all V_gate) and flush.

    The current goes in before the status, so a crash between the two leaves the block pending.
    """
    f["current"][g_slice] = current
    f["status"][g_slice] = status
    f.flush()


def check_attrs_and_grids(f: h5py.File, path: Path) -> Grids:
    """Check the schema attribute, the root attributes and the grids; return the grids."""
    schema = f.attrs.get("schema")
    if schema != SCHEMA:
        raise LUTError(f"{path}: schema is {schema!r}, expected {SCHEMA!r}")
    missing = [key for key in ROOT_ATTRS if key not in f.attrs]
    if missing:
        raise LUTError(f"{path}: root attributes missing: {', '.join(missing)}")
    axes = {}
    for name in GRID_UNITS:
        if f"grid/{name}" not in f:
            raise LUTError(f"{path}: dataset grid/{name} missing")
        axis = f[f"grid/{name}"][()]
        if axis.ndim != 1 or axis.size == 0 or np.any(np.diff(axis) <= 0):
            raise LUTError(f"{path}: grid/{name} is not a strictly increasing 1-D grid")
        axes[name] = axis
    grids = Grids(**axes)
    for name in ("current", "status"):
        if name not in f or f[name].shape != grids.shape:
            raise LUTError(f"{path}: dataset {name} missing or not of shape {grids.shape}")
    return grids


def open_lut(path: Path, mode: str = "r") -> h5py.File:
    """Open a LUT file, turning h5py's errors into one-line :class:`LUTError`."""
    path = Path(path)
    if not path.exists():
        raise LUTError(f"{path}: no such LUT file")
    try:
        return h5py.File(path, mode)
    except OSError as error:
        raise LUTError(f"{path}: not a readable HDF5 file ({error.args[0]})") from None


def check_complete(path: Path) -> Grids:
    """Check a whole LUT file: schema, grids, every status solved, no NaN in ``current``.

    Raises
    ------
    LUTError
        The first thing that is wrong, in one line.
    """
    with open_lut(path) as f:
        grids = check_attrs_and_grids(f, Path(path))
        status = f["status"][()]
        if np.any(status != SOLVED):
            counts = dict(zip(*np.unique(status, return_counts=True), strict=True))
            raise LUTError(
                f"{path}: incomplete LUT ({int(counts.get(PENDING, 0))} points not yet run, "
                f"{int(counts.get(FAILED, 0))} failed); rerun 'neat characterize' to resume"
            )
        if not np.all(np.isfinite(f["current"][()])):
            raise LUTError(f"{path}: current holds non-finite values")
        return grids


def transistor_json(description: Mapping[str, object]) -> str:
    """The ``transistor`` root attribute: JSON with sorted keys."""
    return json.dumps(dict(description), sort_keys=True)


def replace_atomically(tmp: Path, final: Path) -> None:
    """Move a finished file into place in one step (same directory, so it is a rename)."""
    os.replace(tmp, final)
