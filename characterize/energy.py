"""Read energy of a cell from its LUT current: E = t_read * V_in * I (J per cell per read).

Modelled: the energy the input source delivers through the cell during one read of duration
t_read at a constant V_in. Not modelled: charging the lines' capacitance, the gate (word-line)
energy, drivers, ADCs (those belong to the mapping stage's energy model).
"""

from __future__ import annotations

import h5py
import numpy as np

from neatxbar.core.checks import check_number


def read_energy(current: np.ndarray, v_in: np.ndarray, read_time_s: float) -> np.ndarray:
    """Energy per cell per read in J, same shape as ``current`` (A), whose last two axes are
    (n_v, n_vg): (n_g, n_v, n_vg), or with temperature and shift axes in front."""
    read_time_s = check_number("read_time_s (s)", read_time_s, positive=True)
    return read_time_s * np.asarray(v_in)[:, None] * current


def write_read_energy(f: h5py.File, read_time_s: float) -> None:
    """Write ``energy/read_energy`` (J) computed from the file's current and V_in grid, one
    temperature (the first axis of a ``neat-lut/2`` file) at a time."""
    current = f["current"]
    v_in = f["grid/v_in"][()]
    if "energy" in f:
        del f["energy"]
    data = f.create_dataset("energy/read_energy", shape=current.shape, dtype="f8")
    for t in range(current.shape[0]):
        data[t] = read_energy(current[t], v_in, read_time_s)
    data.attrs["units"] = "J"
    data.attrs["read_time_s"] = read_time_s
