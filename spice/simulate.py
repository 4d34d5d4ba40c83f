"""High-level simulations: render a netlist, run it in this process's ngspice, shape the result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neatxbar.spice.params import Transistor, Wires
from neatxbar.spice.render import render_cell, render_cell_sweep, render_crossbar
from neatxbar.spice.session import session


def cell_current(
    g_siemens: float,
    v_in: float,
    v_gate: float,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
) -> float:
    """Current (A) of one 1T-1R cell from its input line into the 0 V column.

    See :func:`neatxbar.spice.render.render_cell` for the parameters.
    """
    netlist = render_cell(g_siemens, v_in, v_gate, transistor, options)
    return float(session().run(netlist).currents(netlist)[0, 0])


def sweep_cells(
    g_siemens: Sequence[float] | np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: Sequence[float] | np.ndarray,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
) -> np.ndarray:
    """Currents (A) of independent cells over a (V_in, V_gate) grid, in one ngspice run.

    Parameters
    ----------
    g_siemens
        Conductances in S, one per cell.
    v_in, v_gate
        Evenly spaced, strictly increasing grids in V.
    transistor
        The access transistor, or None for ideal shorts.
    options
        ngspice options (names in :data:`neatxbar.spice.params.SPICE_OPTIONS`).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(g_siemens), len(v_in), len(v_gate))``, in A.
    """
    netlist = render_cell_sweep(g_siemens, v_in, v_gate, transistor, options)
    result = session().run(netlist)
    n_vin, n_vg = np.size(v_in), np.size(v_gate)
    currents = result.currents(netlist)
    if currents.shape[1] != n_vin * n_vg:
        raise RuntimeError(
            f"ngspice returned {currents.shape[1]} sweep points, expected {n_vin * n_vg}"
        )
    swept_vin = result.vectors.get("v-sweep", result.vectors.get("vin"))
    if swept_vin is not None and not np.allclose(
        swept_vin[:n_vin], np.asarray(v_in, dtype=float), rtol=0, atol=1e-9
    ):
        raise RuntimeError("ngspice swept other input voltages than the grid asked for")
    # ngspice's nested .dc varies the first source (V_in) fastest.
    return currents.reshape(len(netlist.probes), n_vg, n_vin).transpose(0, 2, 1).copy()


def crossbar_column_currents(
    g_siemens: np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires | None = None,
    options: dict[str, float] | None = None,
) -> np.ndarray:
    """Column currents (A) of an R x C crossbar at one operating point, shape ``(cols,)``.

    See :func:`neatxbar.spice.render.render_crossbar` for the parameters.
    """
    netlist = render_crossbar(g_siemens, v_in, v_gate, transistor, wires, options)
    return session().run(netlist).currents(netlist)[:, 0]
