"""Tiny LUT files for tests, written through the real schema code (no ngspice needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from neatxbar.lut.schema import SCHEMA_V1, Grids, create

ATTRS = {
    "ngspice_version": "test",
    "package_version": "test",
    "spec": "name = 'test'",
    "spec_sha256": "0" * 64,
    "cell_netlist": "* none\n.end",
    "transistor": "{}",
    "tolerance": 0.025,
}


def _grids(
    g: np.ndarray | None, v: np.ndarray | None, vg: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.linspace(1 / 300e3, 1 / 30e3, 9) if g is None else g
    v = np.linspace(0.0, 0.5, 11) if v is None else v
    vg = np.linspace(0.7, 1.3, 13) if vg is None else vg
    return g, v, vg


def write_lut(
    path: Path,
    current: Callable[..., np.ndarray],
    g: np.ndarray | None = None,
    v: np.ndarray | None = None,
    vg: np.ndarray | None = None,
    status: int = 0,
    *,
    temperature_c: np.ndarray | None = None,
    delvto: np.ndarray | None = None,
    sigma_vt_v: float = 0.0,
) -> Path:
    """A complete ``neat-lut/2`` LUT whose table is ``current(G, V, VG)`` on the (broadcast)
    grids, or ``current(T, D, G, V, VG)`` (degC, V, S, V, V) when ``temperature_c`` or
    ``delvto`` is given (defaults: 27 degC, 0 V)."""
    g, v, vg = _grids(g, v, vg)
    axes = temperature_c is not None or delvto is not None
    temps = np.array([27.0]) if temperature_c is None else np.asarray(temperature_c, float)
    shifts = np.zeros(1) if delvto is None else np.asarray(delvto, float)
    grids = Grids(g, v, vg, temps, shifts)
    create(path, grids, ATTRS | {"sigma_vt_v": sigma_vt_v})
    cells = (g[:, None, None], v[None, :, None], vg[None, None, :])
    if axes:
        table = current(temps[:, None, None, None, None], shifts[None, :, None, None, None], *cells)
    else:
        table = current(*cells)
    with h5py.File(path, "r+") as f:
        f["current"][...] = np.broadcast_to(table, grids.full_shape)
        f["status"][...] = status
        f.create_dataset("linear_region/g_max", data=np.full((temps.size, vg.size), g[-1]))
        f.create_dataset("linear_region/w_max", data=np.ones((temps.size, vg.size)))
    return path


def write_lut_v1(
    path: Path,
    current: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    g: np.ndarray | None = None,
    v: np.ndarray | None = None,
    vg: np.ndarray | None = None,
) -> Path:
    """A complete LUT in the older ``neat-lut/1`` layout (no temperature or shift axis),
    written by hand as version 1 of the package wrote it."""
    g, v, vg = _grids(g, v, vg)
    with h5py.File(path, "w") as f:
        f.attrs["schema"] = SCHEMA_V1
        f.attrs["created"] = "2024-01-01T00:00:00+00:00"
        for key, value in ATTRS.items():
            f.attrs[key] = value
        for name, grid in (("conductance", g), ("v_in", v), ("v_gate", vg)):
            f.create_dataset(f"grid/{name}", data=grid).attrs["units"] = (
                "S" if name[0] == "c" else "V"
            )
        f.create_dataset(
            "current", data=current(g[:, None, None], v[None, :, None], vg[None, None, :])
        )
        f.create_dataset("status", data=np.zeros((g.size, v.size, vg.size), np.uint8))
        f.create_dataset("linear_region/g_max", data=np.full(vg.size, g[-1]))
        f.create_dataset("linear_region/w_max", data=np.ones(vg.size))
    return path


def ideal(g: np.ndarray, v: np.ndarray, vg: np.ndarray) -> np.ndarray:
    """An ideal memristor: I = G * V at every gate voltage."""
    return g * v + 0 * vg
