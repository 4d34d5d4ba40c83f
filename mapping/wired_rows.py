"""The rows of wired tiles, solved with their cells: the first step of the wired fast path's
once-per-weights reduction (:mod:`neatxbar.mapping.wired_fast`).

Every row wire is solved with its cells with the column nodes held at 0 V, on a grid of row
voltages: each row depends on its own input only, so this gives each cell's current with its
row's IR drop exactly (up to :data:`ROW_TOLERANCE_V`), the current it loses per volt its column
node rises (a secant over a typical rise, :data:`SECANT_SCALE`) and its slope dI/dV_cell.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import interval, uniform_step
from neatxbar.mapping.circuit import CircuitConvergenceError
from neatxbar.spice.params import Wires

#: The secant of s is taken over the column rise of all rows at this fraction of V_max.
SECANT_SCALE = 0.5

#: Row-solve iterations at most, and the tolerance on the row node voltages (V).
ROW_ITERATIONS = 60
ROW_TOLERANCE_V = 1e-5


def row_drop(currents: torch.Tensor, wires: Wires) -> torch.Tensor:
    """IR drop (V) from a row's source to each of its cells, for cell currents (..., cols) (A):
    the driver carries the whole row's current, the segment before cell j all of cells j.."""
    running = currents.cumsum(-1)
    through = running[..., -1:] - running + currents  # through the segment before cell j
    first = through[..., :1]
    return through.cumsum(-1).sub_(first).mul_(wires.r_row).add_(first * wires.r_driver)


class RowCells:
    """The cells of a set of tiles as functions of V_cell at a fixed V_gs (conductance, V_gs and
    V_in interpolated as the trilinear LUT does, with linear extrapolation below the gate grid
    as the circuit solver). With the column nodes at 0 V, V_gs = V_gate: a lookup is a grid
    index and four gathers from the LUT's (G, V_in) slice at V_gate, small enough to stay in
    the processor's cache."""

    def __init__(self, lut: CellLUT, g: torch.Tensor, v_gate: float) -> None:
        lut.gate_index(v_gate)  # on the grid
        if uniform_step(lut.v_grid) is None:
            raise LUTError("the wired fast path needs a LUT with a constant-step V_in grid")
        # (n_g, n_m, n_v): each (conductance, gate) pair's currents contiguous along V_in
        self.table = lut.table.to(g).permute(0, 2, 1).contiguous()
        self.vg_grid = lut.vg_grid.to(g)
        self.ig, tg = interval(lut.g_grid.to(g), g.clamp(lut.g_min_s, lut.g_on_s))
        self.tg = tg.unsqueeze(-1)
        self.v_gate = float(v_gate)
        self.v0, self.n_v = float(lut.v_grid[0]), lut.v_grid.numel()
        self.step = float(lut.v_grid[-1] - lut.v_grid[0]) / (self.n_v - 1)
        self.at_gate = self.table[:, lut.gate_index(v_gate)].reshape(-1)  # (n_g * n_v,)
        self.start = (self.ig * self.n_v).unsqueeze(1)  # each cell's row of at_gate
        self.dtype = g.dtype
        self.form = lut.separable(v_gate).to(g.dtype, g.device)
        self.form_weights = self.form.weights(self.form.a(g)).unsqueeze(2)  # (terms, t, 1, r, c)

    def separable(self, v: torch.Tensor) -> torch.Tensor:
        """Cell currents (A) at V_cell ``v`` >= 0 V from the LUT's separable form at V_gate (within
        its error budget of the table; no lookups)."""
        terms = self.form.terms(v / self.form.v_max)
        out = None
        for term, weight in zip(terms, self.form_weights, strict=True):
            out = term * weight if out is None else out.addcmul_(term, weight)
        return out

    def _locate(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Index of each point's V_in interval and the fraction within it; ``v`` (tiles,
        points, rows, cols) in V."""
        x = (v - self.v0) / self.step
        i = torch.floor(x.detach()).long().clamp(0, self.n_v - 2)
        return i, x - i

    def _corners(self, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The cells' currents at the four (G, V_in) grid corners around each point, and the
        fraction within the V_in interval."""
        i, t = self._locate(v)
        start = self.start + i
        table = self.at_gate
        return (
            table[start],
            table[start + 1],
            table[start + self.n_v],
            table[start + self.n_v + 1],
            t,
        )

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """Cell currents (A) at V_cell ``v`` >= 0 V (tiles, points, rows, cols), V_gs = V_gate."""
        low, low_next, high, high_next, t = self._corners(v)
        tg = self.tg.squeeze(-1).unsqueeze(1)
        return torch.lerp(torch.lerp(low, low_next, t), torch.lerp(high, high_next, t), tg)

    def lowered(self, v: torch.Tensor, rise: torch.Tensor) -> torch.Tensor:
        """Cell currents (A) with the column node raised by ``rise`` (V, per cell, shaped like g):
        V_cell = v - rise and V_gs = V_gate - rise; odd in V_cell, as the circuit solver.

        Linear in G (at the cell's conductance), V_gs (extrapolated linearly below the gate grid,
        clamped above it) and V_in, as :meth:`__call__`: eight gathers per point from the
        (G, V_gs, V_in) table."""
        vg_grid = self.vg_grid
        k, tk = interval(vg_grid, (self.v_gate - rise).clamp(max=float(vg_grid[-1])), clamp=False)
        cell = v - rise.unsqueeze(1)
        sign = torch.where(cell < 0, -1.0, 1.0).to(cell.dtype)
        i, t = self._locate(cell.abs())  # (tiles, points, rows, cols)
        n_m, n_v = self.table.shape[1:]
        flat = self.table.reshape(-1)
        corner = ((self.ig * n_m + k) * n_v).unsqueeze(1) + i  # G low, V_gs low, V_in low
        tk, tg = tk.unsqueeze(1), self.tg.squeeze(-1).unsqueeze(1)

        def along_v(start: torch.Tensor) -> torch.Tensor:
            return torch.lerp(flat[start], flat[start + 1], t)

        def at_g(start: torch.Tensor) -> torch.Tensor:
            return torch.lerp(along_v(start), along_v(start + n_v), tk)

        return sign * torch.lerp(at_g(corner), at_g(corner + n_m * n_v), tg)

    def slope_v(self, v: torch.Tensor) -> torch.Tensor:
        """dI/dV_cell (A/V) at ``v``, V_gs = V_gate: the slope of the V_in interval."""
        low, low_next, high, high_next, _ = self._corners(v)
        tg = self.tg.squeeze(-1).unsqueeze(1)
        return torch.lerp(low_next - low, high_next - high, tg) / self.step


def solve_rows(
    cells: RowCells,
    volts: torch.Tensor,
    wires: Wires,
    rise: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cell currents and their slopes with every column node held at 0 V.

    Parameters
    ----------
    cells
        The cells of the tiles, (tiles, rows, cols), at their layer's V_gate.
    volts
        Row source voltages (V), (points,): every row of every tile driven at each in turn.
    rise
        h -> a typical column-node rise of every cell (V, > 0), (tiles, rows, cols), from the
        cell currents h: s is the secant of the cell's current over it (V_cell and V_gs
        lowered by it); e.g. :func:`typical_rise`.

    Returns
    -------
    (h, s, p)
        Each (tiles, points, rows, cols), in the cells' dtype: the cell current (A),
        -Delta I / rise and dI/dV_cell (A/V).

    Raises
    ------
    CircuitConvergenceError
        The row iteration did not settle (wires far too resistive for the cells).
    """
    source = volts.to(cells.dtype).view(1, -1, 1, 1)
    tiles, rows, cols = cells.ig.shape
    node = source.expand(tiles, -1, rows, cols)
    update = float("inf")
    # the separable form converges the nodes cheaply (no table lookups); the table's own
    # currents then take the last steps
    for _ in range(ROW_ITERATIONS):
        new = source - row_drop(cells.separable(node), wires)
        with torch.no_grad():
            update = float((new - node).abs().max())
        node = new
        if update < ROW_TOLERANCE_V:
            break
    for _ in range(ROW_ITERATIONS):
        current = cells(node)
        new = source - row_drop(current, wires)
        with torch.no_grad():
            update = float((new - node).abs().max())
        if update < ROW_TOLERANCE_V:
            break  # current is that of node, within the tolerance of the fixed point
        node = new
    else:
        raise CircuitConvergenceError(ROW_ITERATIONS, update, ROW_TOLERANCE_V)
    typical = rise(current)
    secant = (current - cells.lowered(node, typical)) / typical.unsqueeze(1)
    return current, secant, cells.slope_v(node)


def typical_rise(points: torch.Tensor, wires: Wires) -> Callable[[torch.Tensor], torch.Tensor]:
    """h -> the column rise (V) of every cell with all rows at :data:`SECANT_SCALE` V_max,
    from the cell currents h (tiles, points, rows, cols) at ``points`` (fractions of V_max),
    interpolated linearly between the two points around it."""
    upper = int(torch.searchsorted(points, torch.tensor(SECANT_SCALE, dtype=points.dtype)))
    upper = min(max(upper, 1), len(points) - 1)
    low, high = float(points[upper - 1]), float(points[upper])
    t = (SECANT_SCALE - low) / (high - low)

    def rise(h: torch.Tensor) -> torch.Tensor:
        currents = torch.lerp(h[:, upper - 1], h[:, upper], t).detach()
        return column_rise(currents, wires).clamp_min(1e-6)

    return rise


def column_rise(currents: torch.Tensor, wires: Wires) -> torch.Tensor:
    """Column node voltages (V) over 0 V for cell currents (..., rows, cols) (A): the column
    wire carries cells 0..i below row i, and the sense resistor the whole column."""
    below = currents.cumsum(-2)  # current through the segment below row i
    rise = wires.r_col * below[..., :-1, :].flip(-2).cumsum(-2).flip(-2)
    return wires.r_sense * below[..., -1:, :] + F.pad(rise, (0, 0, 0, 1))
