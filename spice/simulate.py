"""High-level simulations: render a netlist, run it in this process's ngspice, shape the result."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neatxbar.spice.errors import SpiceError
from neatxbar.spice.params import Transistor, Wires
from neatxbar.spice.render import (
    render_cell,
    render_cell_sweep,
    render_crossbar,
    render_crossbar_batch,
)
from neatxbar.spice.session import session


def cell_current(
    g_siemens: float,
    v_in: float,
    v_gate: float,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
    *,
    delvto: float = 0.0,
    temperature_c: float | None = None,
) -> float:
    """Current (A) of one 1T-1R cell from its input line into the 0 V column.

    See :func:`neatxbar.spice.render.render_cell` for the parameters (``delvto`` in V,
    ``temperature_c`` in degC).
    """
    netlist = render_cell(
        g_siemens, v_in, v_gate, transistor, options, delvto=delvto, temperature_c=temperature_c
    )
    return float(session().run(netlist).currents(netlist)[0, 0])


def sweep_cells(
    g_siemens: Sequence[float] | np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: Sequence[float] | np.ndarray,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
    *,
    delvto: Sequence[float] | np.ndarray | None = None,
    temperature_c: float | None = None,
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
    delvto
        One threshold shift in V per cell (ngspice's ``delvto``), or None for none.
    temperature_c
        Simulation temperature in degC; None: ngspice's default, 27 degC.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(g_siemens), len(v_in), len(v_gate))``, in A.
    """
    netlist = render_cell_sweep(
        g_siemens, v_in, v_gate, transistor, options, delvto=delvto, temperature_c=temperature_c
    )
    result = session().run(netlist)
    n_vin, n_vg = np.size(v_in), np.size(v_gate)
    currents = result.currents(netlist)
    if currents.shape[1] != n_vin * n_vg:
        raise SpiceError(
            f"ngspice returned {currents.shape[1]} sweep points, expected {n_vin * n_vg}"
        )
    swept_vin = result.vectors.get("v-sweep", result.vectors.get("vin"))
    if swept_vin is not None and not np.allclose(
        swept_vin[:n_vin], np.asarray(v_in, dtype=float), rtol=0, atol=1e-9
    ):
        raise SpiceError("ngspice swept other input voltages than the grid asked for")
    # ngspice's nested .dc varies the first source (V_in) fastest.
    return currents.reshape(len(netlist.probes), n_vg, n_vin).transpose(0, 2, 1).copy()


def crossbar_column_currents(
    g_siemens: np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires | None = None,
    options: dict[str, float] | None = None,
    *,
    delvto: np.ndarray | None = None,
    temperature_c: float | None = None,
) -> np.ndarray:
    """Column currents (A) of an R x C crossbar at one operating point, shape ``(cols,)``.

    See :func:`neatxbar.spice.render.render_crossbar` for the parameters (``delvto``: per-cell
    threshold shifts in V, shape ``(rows, cols)``; ``temperature_c`` in degC).
    """
    netlist = render_crossbar(
        g_siemens,
        v_in,
        v_gate,
        transistor,
        wires,
        options,
        delvto=delvto,
        temperature_c=temperature_c,
    )
    return session().run(netlist).currents(netlist)[:, 0]


def crossbar_column_currents_batch(
    g_siemens: np.ndarray,
    v_in: np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires | None = None,
    options: dict[str, float] | None = None,
    *,
    delvto: np.ndarray | None = None,
    temperature_c: float | None = None,
) -> np.ndarray:
    """Column currents (A) of an R x C crossbar for many input vectors, in one ngspice run.

    One DC sweep over an index source drives the rows with each vector in turn (see
    :func:`neatxbar.spice.render.render_crossbar_batch`), so the sparse matrix is ordered once
    for all vectors instead of once per :func:`crossbar_column_currents` call.

    Each vector's Newton iteration starts from the previous vector's solution and stops at
    ngspice's tolerances, so with the default ``reltol`` and ``vntol`` the currents of a
    crossbar with transistors can differ from a fresh operating point by about 1e-6 relative;
    ``options={"reltol": 1e-6, "vntol": 1e-9}`` brings that to about 1e-11 for about 10-15 %
    more time.

    Parameters
    ----------
    g_siemens
        Conductances in S, shape ``(rows, cols)``.
    v_in
        Row voltages in V, shape ``(n_vectors, rows)``.
    v_gate, transistor, wires, options
        As for :func:`crossbar_column_currents`.
    delvto
        Threshold shift of each cell's transistor in V, shape ``(rows, cols)``; None: none.
    temperature_c
        Simulation temperature in degC; None: ngspice's default, 27 degC.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_vectors, cols)``, in A; row k holds the column currents for ``v_in[k]``.
    """
    netlist = render_crossbar_batch(
        g_siemens,
        v_in,
        v_gate,
        transistor,
        wires,
        options,
        delvto=delvto,
        temperature_c=temperature_c,
    )
    result = session().run(netlist)
    n_vectors = np.shape(v_in)[0]
    currents = result.currents(netlist)
    if currents.shape[1] != n_vectors:
        raise SpiceError(
            f"ngspice returned {currents.shape[1]} sweep points, expected {n_vectors} vectors"
        )
    index = result.vectors.get("v-sweep", result.vectors.get("vidx"))
    if index is not None and not np.array_equal(index, np.arange(n_vectors, dtype=float)):
        raise SpiceError("ngspice swept other index values than 0, 1, ..., n_vectors - 1")
    return currents.T.copy()
