"""Tiny LUT files for tests, written through the real schema code (no ngspice needed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from neatxbar.lut.schema import Grids, create

ATTRS = {
    "ngspice_version": "test",
    "package_version": "test",
    "spec": "name = 'test'",
    "spec_sha256": "0" * 64,
    "cell_netlist": "* none\n.end",
    "transistor": "{}",
    "tolerance": 0.025,
}


def write_lut(
    path: Path,
    current: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    g: np.ndarray | None = None,
    v: np.ndarray | None = None,
    vg: np.ndarray | None = None,
    status: int = 0,
) -> Path:
    """A complete LUT whose table is ``current(G, V, VG)`` on the (broadcast) grids."""
    g = np.linspace(1 / 300e3, 1 / 30e3, 9) if g is None else g
    v = np.linspace(0.0, 0.5, 11) if v is None else v
    vg = np.linspace(0.7, 1.3, 13) if vg is None else vg
    create(path, Grids(g, v, vg), ATTRS)
    with h5py.File(path, "r+") as f:
        f["current"][...] = current(g[:, None, None], v[None, :, None], vg[None, None, :])
        f["status"][...] = status
        f.create_dataset("linear_region/g_max", data=np.full(vg.size, g[-1]))
        f.create_dataset("linear_region/w_max", data=np.ones(vg.size))
    return path


def ideal(g: np.ndarray, v: np.ndarray, vg: np.ndarray) -> np.ndarray:
    """An ideal memristor: I = G * V at every gate voltage."""
    return g * v + 0 * vg
