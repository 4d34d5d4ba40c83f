"""Render the netlists of ``neatxbar.netlists`` from typed parameters.

Every function returns a :class:`Netlist`: the SPICE text (ending in ``.end``, ready for
ngspice) and the names of the vectors that hold its results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from neatxbar.core.errors import ConfigError
from neatxbar.spice.params import (
    Transistor,
    Wires,
    check_delvto,
    check_number,
    check_options,
    check_temperature,
    read_card_file,
)
from neatxbar.spice.templates import (
    SpiceText,
    fill,
    fill_fragment,
    join_lines,
    model_card,
    read_template,
)


@dataclass(frozen=True)
class Netlist:
    """A rendered netlist.

    Attributes
    ----------
    text
        SPICE text, model card included, ending in ``.end``.
    probes
        Names of the ammeter sources whose branch currents (A) are the results, in order.
    """

    text: str
    probes: tuple[str, ...]


def _resistance_ohm(name: str, g_siemens: float) -> float:
    return 1.0 / check_number(name, g_siemens, positive=True)


def _instance(cell_id: str, delvto: float, transistor: Transistor | None) -> SpiceText:
    """The MOSFET's extra instance parameters: `` delvto=<V>`` for a non-zero threshold shift,
    nothing otherwise (so netlists without shifts stay as they were)."""
    delvto = check_delvto(f"delvto of cell {cell_id} (V)", delvto)
    if delvto == 0:
        return SpiceText("")
    if transistor is None:
        raise ConfigError(
            f"cell {cell_id}: a threshold shift (delvto) needs a transistor; got {delvto!r} V"
        )
    return fill(" delvto=${delvto}", {"delvto": delvto})


def _cell(
    cell_id: str,
    row: str,
    col: str,
    gate: str,
    g_siemens: float,
    transistor: Transistor | None,
    delvto: float = 0.0,
) -> SpiceText:
    """One cell's lines; ``delvto`` (V) shifts its transistor's threshold (ngspice's instance
    parameter, added to the model's vth0)."""
    instance = _instance(cell_id, delvto, transistor)
    values: dict[str, object] = {
        "id": cell_id,
        "row": row,
        "col": col,
        "gate": gate,
        "r_ohm": _resistance_ohm(f"conductance of cell {cell_id} (S)", g_siemens),
    }
    if transistor is None:
        return fill_fragment("cell_short", values)
    values |= {
        "model": transistor.model,
        "w_m": transistor.w_m,
        "l_m": transistor.l_m,
        "instance": instance,
    }
    return fill_fragment("cell_transistor", values)


def _card(transistor: Transistor | None) -> SpiceText:
    """The transistor's model card with its parameter overrides appended (later values win)."""
    if transistor is None:
        return SpiceText("* no transistor: every access device is a 0-ohm short")
    transistor.validate()
    if transistor.card_text is not None:
        card = SpiceText(transistor.card_text.strip("\n"))  # checked by validate()
    elif transistor.card_file is None:
        card = model_card(transistor.model)
    else:
        card = SpiceText(read_card_file(transistor.card_file, transistor.model).strip("\n"))
    overrides = [
        fill("+ ${name}=${value}", {"name": name, "value": value})
        for name, value in transistor.model_params
    ]
    return join_lines([card, *overrides]) if overrides else card


def _options(options: dict[str, float] | None, temperature_c: float | None = None) -> SpiceText:
    """The ``.options`` line: the checked ngspice options, and ``temp=<degC>`` when a
    temperature is given (None: ngspice's default, 27 degC); empty when there is neither."""
    checked = check_options(options)
    if temperature_c is not None:
        checked["temp"] = check_temperature("temperature (degC)", temperature_c)
    if not checked:
        return SpiceText("")
    pairs = [fill("${n}=${v}", {"n": name, "v": value}) for name, value in checked.items()]
    return SpiceText(".options " + " ".join(pairs))


def render_cell(
    g_siemens: float,
    v_in: float,
    v_gate: float,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
    *,
    delvto: float = 0.0,
    temperature_c: float | None = None,
) -> Netlist:
    """One 1T-1R cell at one operating point.

    Parameters
    ----------
    g_siemens
        Memristor conductance in S (> 0); the memristor is a resistor of 1/G ohm.
    v_in
        Input-line voltage in V.
    v_gate
        Gate voltage in V.
    transistor
        The access transistor, or None for an ideal 0-ohm short in its place.
    options
        ngspice options (names in :data:`neatxbar.spice.params.SPICE_OPTIONS`).
    delvto
        Threshold shift of the transistor in V (ngspice's ``delvto``); 0 writes none.
    temperature_c
        Simulation temperature in degC (``.options temp=``); None: ngspice's default, 27 degC.

    Returns
    -------
    Netlist
        Probe ``vcol``: the cell current in A, from the input line into the column.
    """
    text = fill(
        read_template("cell.cir"),
        {
            "model_card": _card(transistor),
            "v_in": check_number("v_in (V)", v_in),
            "v_gate": check_number("v_gate (V)", v_gate),
            "cell": _cell("0", "in", "col", "gate", g_siemens, transistor, delvto),
            "options": _options(options, temperature_c),
            "analysis": fill_fragment("op", {}),
        },
    )
    return Netlist(text=text, probes=("vcol",))


def uniform_step(name: str, grid: Sequence[float] | np.ndarray) -> tuple[float, float, int]:
    """Check that ``grid`` is strictly increasing and evenly spaced; return (start, step, n).

    ngspice's ``.dc`` only sweeps evenly spaced values, so sweep grids must be uniform.
    A grid of one value has step 0.
    """
    values = np.asarray(grid, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ConfigError(f"{name} must be a non-empty 1-D grid")
    for i, value in enumerate(values):
        check_number(f"{name}[{i}]", value)
    if values.size == 1:
        return float(values[0]), 0.0, 1
    steps = np.diff(values)
    if np.any(steps <= 0):
        raise ConfigError(f"{name} must be strictly increasing")
    step = (values[-1] - values[0]) / (values.size - 1)
    if not np.allclose(steps, step, rtol=1e-9, atol=0.0):
        raise ConfigError(f"{name} must be evenly spaced for a DC sweep")
    return float(values[0]), float(step), int(values.size)


def _sweep_bounds(name: str, grid: Sequence[float] | np.ndarray) -> dict[str, float]:
    start, step, n = uniform_step(name, grid)
    if n == 1:
        # A one-point sweep: any positive step with stop == start gives exactly one point.
        return {"start": start, "stop": start, "step": 1.0}
    # Pad the stop by half a step so rounding in ngspice never drops the last point.
    return {"start": start, "stop": start + (n - 1) * step + 0.5 * step, "step": step}


def render_cell_sweep(
    g_siemens: Sequence[float] | np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: Sequence[float] | np.ndarray,
    transistor: Transistor | None,
    options: dict[str, float] | None = None,
    *,
    delvto: Sequence[float] | np.ndarray | None = None,
    temperature_c: float | None = None,
) -> Netlist:
    """Many independent cells swept over every (V_in, V_gate) pair in one nested ``.dc``.

    Parameters
    ----------
    g_siemens
        One conductance in S per cell.
    v_in, v_gate
        Evenly spaced, strictly increasing grids in V.
    transistor
        The access transistor, or None for ideal shorts.
    options
        ngspice options (names in :data:`neatxbar.spice.params.SPICE_OPTIONS`).
    delvto
        One threshold shift in V per cell (ngspice's ``delvto``), or None for none. Cells are
        independent, so cells of different shifts share the sweep.
    temperature_c
        Simulation temperature in degC; None: ngspice's default, 27 degC.

    Returns
    -------
    Netlist
        Probes ``vam<k>``, one per cell, each a vector of ``len(v_in) * len(v_gate)`` currents in
        A with V_in varying fastest.
    """
    conductances = np.atleast_1d(np.asarray(g_siemens, dtype=float))
    if conductances.ndim != 1 or conductances.size == 0:
        raise ConfigError("g_siemens must be a non-empty 1-D sequence of conductances (S)")
    shifts = _per_cell(delvto, conductances.shape, "delvto")
    cells = []
    for k, g in enumerate(conductances):
        block = _cell(str(k), "in", f"c{k}", "gate", g, transistor, shifts[k])
        ammeter = fill_fragment("voltage_source", {"name": f"vam{k}", "plus": f"c{k}", "volts": 0})
        cells += [block, ammeter]
    vin = _sweep_bounds("v_in (V)", v_in)
    vg = _sweep_bounds("v_gate (V)", v_gate)
    text = fill(
        read_template("cell_sweep.cir"),
        {
            "n_cells": conductances.size,
            "model_card": _card(transistor),
            "cells": join_lines(cells),
            "options": _options(options, temperature_c),
            "v_in_start": vin["start"],
            "v_in_stop": vin["stop"],
            "v_in_step": vin["step"],
            "v_gate_start": vg["start"],
            "v_gate_stop": vg["stop"],
            "v_gate_step": vg["step"],
        },
    )
    return Netlist(text=text, probes=tuple(f"vam{k}" for k in range(conductances.size)))


def _per_cell(
    delvto: Sequence[float] | np.ndarray | None, shape: tuple[int, ...], name: str
) -> np.ndarray:
    """Threshold shifts (V) of ``shape`` cells; zeros for None (values checked per cell)."""
    if delvto is None:
        return np.zeros(shape)
    shifts = np.asarray(delvto, dtype=float)
    if shifts.shape != shape:
        raise ConfigError(
            f"{name} must have shape {shape}, one threshold shift (V) per cell; got {shifts.shape}"
        )
    return shifts


def _row_node(i: int, j: int, wires: Wires) -> str:
    return f"r{i}_{j}" if wires.r_row > 0 else f"r{i}"


def _col_node(i: int, j: int, wires: Wires) -> str:
    return f"c{i}_{j}" if wires.r_col > 0 else f"c{j}"


def _crossbar_wires(rows: int, cols: int, wires: Wires) -> list[SpiceText]:
    """Driver, segment and sense resistors; ideal wires (0 ohm) merge nodes instead."""
    lines = []

    def resistor(name: str, a: str, b: str, r_ohm: float) -> None:
        lines.append(fill_fragment("resistor", {"name": name, "a": a, "b": b, "r_ohm": r_ohm}))

    for i in range(rows):
        if wires.r_driver > 0:
            resistor(f"rdrv{i}", f"in{i}", _row_node(i, 0, wires), wires.r_driver)
        if wires.r_row > 0:
            for j in range(cols - 1):
                resistor(
                    f"rrow{i}_{j}", _row_node(i, j, wires), _row_node(i, j + 1, wires), wires.r_row
                )
    for j in range(cols):
        if wires.r_col > 0:
            for i in range(rows - 1):
                resistor(
                    f"rcol{i}_{j}", _col_node(i, j, wires), _col_node(i + 1, j, wires), wires.r_col
                )
        if wires.r_sense > 0:
            resistor(f"rsns{j}", _col_node(rows - 1, j, wires), f"out{j}", wires.r_sense)
    return lines


def _conductance_matrix(g_siemens: np.ndarray) -> np.ndarray:
    g = np.asarray(g_siemens, dtype=float)
    if g.ndim != 2 or g.size == 0:
        raise ConfigError(f"g_siemens must be a (rows, cols) matrix, got shape {g.shape}")
    return g


def _driven_node(i: int, wires: Wires) -> str:
    """The node a row's driver sets: before the driver resistance, or the row's first cell."""
    return f"in{i}" if wires.r_driver > 0 else _row_node(i, 0, wires)


def _crossbar_values(
    g: np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires,
    options: dict[str, float] | None,
    delvto: np.ndarray | None = None,
    temperature_c: float | None = None,
) -> dict[str, object]:
    """Everything of a crossbar netlist but its row drivers and analysis."""
    rows, cols = g.shape
    shifts = _per_cell(delvto, g.shape, "delvto")
    cells = [
        _cell(
            f"{i}_{j}",
            _row_node(i, j, wires),
            _col_node(i, j, wires),
            "gate",
            g[i, j],
            transistor,
            shifts[i, j],
        )
        for i in range(rows)
        for j in range(cols)
    ]
    ammeters = [
        fill_fragment(
            "voltage_source",
            {
                "name": f"vc{j}",
                "plus": f"out{j}" if wires.r_sense > 0 else _col_node(rows - 1, j, wires),
                "volts": 0,
            },
        )
        for j in range(cols)
    ]
    return {
        "rows": rows,
        "cols": cols,
        "model_card": _card(transistor),
        "v_gate": check_number("v_gate (V)", v_gate),
        "wires": join_lines(_crossbar_wires(rows, cols, wires)),
        "cells": join_lines(cells),
        "column_ammeters": join_lines(ammeters),
        "options": _options(options, temperature_c),
    }


def render_crossbar(
    g_siemens: np.ndarray,
    v_in: Sequence[float] | np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires | None = None,
    options: dict[str, float] | None = None,
    *,
    delvto: np.ndarray | None = None,
    temperature_c: float | None = None,
) -> Netlist:
    """An R x C crossbar at one operating point.

    Parameters
    ----------
    g_siemens
        Conductances in S, shape ``(rows, cols)``; cell (i, j) joins row i and column j.
    v_in
        Row voltages in V, shape ``(rows,)``.
    v_gate
        The gate voltage of every cell, in V.
    transistor
        The access transistor, or None for ideal shorts (a resistive crossbar).
    wires
        Wire resistances; None means ideal wires.
    delvto
        Threshold shift of each cell's transistor in V, shape ``(rows, cols)`` (ngspice's
        ``delvto``); None: no shifts (the netlist is then as without the argument).
    temperature_c
        Simulation temperature in degC (``.options temp=``); None: ngspice's default, 27 degC.

    Returns
    -------
    Netlist
        Probes ``vc<j>``: the column currents in A into each column's 0 V ammeter.
    """
    g = _conductance_matrix(g_siemens)
    rows, cols = g.shape
    v = np.asarray(v_in, dtype=float)
    if v.shape != (rows,):
        raise ConfigError(f"v_in must have shape ({rows},), one voltage per row; got {v.shape}")
    wires = wires or Wires()
    wires.validate()
    drivers = [
        fill_fragment(
            "voltage_source",
            {
                "name": f"vr{i}",
                "plus": _driven_node(i, wires),
                "volts": check_number(f"v_in[{i}] (V)", v[i]),
            },
        )
        for i in range(rows)
    ]
    values = _crossbar_values(g, v_gate, transistor, wires, options, delvto, temperature_c)
    values |= {"row_drivers": join_lines(drivers), "analysis": fill_fragment("op", {})}
    text = fill(read_template("crossbar.cir"), values)
    return Netlist(text=text, probes=tuple(f"vc{j}" for j in range(cols)))


_PWL_PAIRS_PER_LINE = 4


def _pwl_points(voltages: list[float]) -> SpiceText:
    """``+`` continuation lines of the ``pwl`` points ``k, voltages[k]``, k = 0, 1, ...

    A single voltage is written twice (at 0 and 1) since a ``pwl`` needs two points. The
    function is linear between neighbouring vectors, not a staircase: the first Newton step
    from vector k - 1 then already drives vector k's exact voltages (with flat steps, ngspice's
    convergence test can keep the previous vector's voltage when the two differ by less than
    its tolerance).
    """
    if len(voltages) == 1:
        voltages = voltages * 2
    pairs = [fill("${x}, ${v}", {"x": k, "v": value}) for k, value in enumerate(voltages)]
    lines = [
        SpiceText("+ " + ", ".join(pairs[start : start + _PWL_PAIRS_PER_LINE]))
        for start in range(0, len(pairs), _PWL_PAIRS_PER_LINE)
    ]
    return SpiceText(",\n".join(lines))


def render_crossbar_batch(
    g_siemens: np.ndarray,
    v_in: np.ndarray,
    v_gate: float,
    transistor: Transistor | None,
    wires: Wires | None = None,
    options: dict[str, float] | None = None,
    *,
    delvto: np.ndarray | None = None,
    temperature_c: float | None = None,
) -> Netlist:
    """An R x C crossbar solved for many input vectors in one DC sweep.

    Row i is driven by a behavioural source ``brow<i>`` whose voltage is a piecewise-linear
    function of the index node ``idx`` through the row voltages of all vectors (vector k at
    ``V(idx) = k``); ``.dc vidx`` steps the index over 0, 1, ..., n_vectors - 1. ngspice then
    orders the sparse matrix once for all vectors, and each vector's Newton iteration starts
    from the previous vector's solution. Nodes, cells and wires are those of
    :func:`render_crossbar`.

    Parameters
    ----------
    g_siemens
        Conductances in S, shape ``(rows, cols)``; cell (i, j) joins row i and column j.
    v_in
        Row voltages in V, shape ``(n_vectors, rows)``: one input vector per row of the array.
    v_gate
        The gate voltage of every cell, in V.
    transistor
        The access transistor, or None for ideal shorts (a resistive crossbar).
    wires
        Wire resistances; None means ideal wires.
    options
        ngspice options (names in :data:`neatxbar.spice.params.SPICE_OPTIONS`).
    delvto, temperature_c
        Per-cell threshold shifts (V, shape ``(rows, cols)``) and the temperature (degC), as
        for :func:`render_crossbar`.

    Returns
    -------
    Netlist
        Probes ``vc<j>``: the column currents in A into each column's 0 V ammeter, each a
        vector of ``n_vectors`` points in the order of ``v_in``.
    """
    g = _conductance_matrix(g_siemens)
    rows, cols = g.shape
    v = np.asarray(v_in, dtype=float)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] != rows:
        raise ConfigError(
            f"v_in must have shape (n_vectors, {rows}), one voltage per row for each input "
            f"vector; got {v.shape}"
        )
    n_vectors = v.shape[0]
    wires = wires or Wires()
    wires.validate()
    drivers = [
        fill_fragment(
            "pwl_row_driver",
            {
                "name": f"brow{i}",
                "plus": _driven_node(i, wires),
                "index": "idx",
                "points": _pwl_points(
                    [check_number(f"v_in[{k}, {i}] (V)", v[k, i]) for k in range(n_vectors)]
                ),
            },
        )
        for i in range(rows)
    ]
    values = _crossbar_values(g, v_gate, transistor, wires, options, delvto, temperature_c)
    values |= {
        "n_vectors": n_vectors,
        "row_drivers": join_lines(drivers),
        # Pad the stop by half a step so rounding in ngspice never drops the last vector.
        "index_stop": n_vectors - 0.5,
    }
    text = fill(read_template("crossbar_batch.cir"), values)
    return Netlist(text=text, probes=tuple(f"vc{j}" for j in range(cols)))
