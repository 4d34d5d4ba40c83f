"""The wired fast path: crossbar tiles with wire resistance at the cost of matrix products.

The reference (:mod:`neatxbar.mapping.wired`, ``path = "exact"``) solves every tile as a circuit
for every input vector. This path reduces each tile's circuit once per weight setting to
coefficient matrices, so that a read costs matrix products and some work per column. The
reduction, per physical tile of ``rows x cols`` cells (row drivers on the left, column sense at
the bottom, as in :mod:`neatxbar.mapping.circuit`):

1. **Rows, solved once per weights.** Each row wire with its cells is solved with the column
   nodes at 0 V, for row voltages V on a grid over [0, V_max] (:data:`FIT_POINTS`; fixed-point
   iteration on the LUT, exact up to :data:`ROW_TOLERANCE_V`). Every row depends on its own
   input only, so this gives each cell's current h_ij(V) with its row's IR drop; s_ij(V), the
   current it loses per volt its column node rises (V_cell and V_gs fall together), as the
   secant over a typical rise (that of all rows at :data:`SECANT_SCALE` V_max, which averages
   the cell's curvature); and p_ij(V) = dI/dV_cell. All are fitted by polynomials in
   v = V / V_max (h without a constant term: a row at 0 V adds no current; s with one: it still
   loads its column, the cell conducting backwards as the solver's odd extension).
2. **Columns, reduced to two modes.** The column node voltages are c = R I along each column, R
   the column wire's resistance matrix (r_sense + r_col (rows - 1 - max(i, k)) between rows i
   and k). With R ~ sum_m lambda_m phi_m phi_m^T (its :data:`COLUMN_MODES` leading eigenpairs),
   c_ij ~ sum_m phi_m(i) z_mj, and I_ij = h_ij(V_i) - s_ij(V_i) c_ij, the Galerkin condition
   z_m = lambda_m phi_m^T I gives per column the 2 x 2 system

       (1 + Lambda B) z = Lambda (A + a X_phi),   J = H - sum_m z_m S_m + a X,

   with H = sum_i h_ij, A_m = sum_i phi_m(i) h_ij, S_m = sum_i phi_m(i) s_ij and
   B_mk = sum_i phi_m(i) phi_k(i) s_ij.
3. **Rows' response to the columns.** A raised column node takes current from a row, whose drop
   then shrinks and gives some back: chi_ij = phi_1(i) p_ij sum_l R_row(j, l) s_il t_l, with t_l
   each column's share of the first mode at mid-scale inputs (so z_1l ~ a t_l), enters as
   a X = a sum_i chi_ij (and a X_phi in the modes); a, the tile's amplitude, follows from the
   mean first-mode coefficient, self-consistently.

Each family of sums over rows is a matrix product of basis functions of the inputs with
coefficient matrices fixed by the weights. The basis of a family group (:class:`FamilyGroup`) is
the fewest leading modes of the layer's own per-cell polynomials that keep every cell within its
budget (:data:`H_BUDGET`, :data:`S_BUDGET`, :data:`COUPLING_BUDGET`, :data:`CROSS_BUDGET`).

Left out: the column profile beyond two modes, the cells' curvature in c beyond the secant, the
rows' response beyond first order with one amplitude per tile. These are higher order in the
wires' relative effect, which grows as r G rows^2. Measured against the reference solver and
ngspice: ``benchmarks/wired_fast.py`` (``benchmarks/RESULTS.md``), see ``docs/emulation.md``.

Gradients flow to the weights (through the unrolled row solves and the fits; the bases are held
fixed) and to the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neatxbar.core.checks import check_integer
from neatxbar.lut.errors import LUTError
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import interval, uniform_step
from neatxbar.mapping.circuit import CircuitConvergenceError
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.quantize import quantize_symmetric
from neatxbar.mapping.wired import pair_tiles
from neatxbar.spice.params import Wires

#: The powers of v = V / V_max that h(v) (no constant: 0 V, no current) and s(v) are fitted with.
H_POWERS = range(1, 7)
S_POWERS = range(4)

#: The secant of s is taken over the column rise of all rows at this fraction of V_max.
SECANT_SCALE = 0.45

#: Modes of the column profile (1 or 2) the Galerkin condition keeps.
COLUMN_MODES = 2

#: Largest error of a cell's h(v) in the compressed basis, a fraction of G_ON * V_max; and of its
#: s(v), a fraction of the layer's largest |s|.
H_BUDGET = 2e-5
S_BUDGET = 3e-3

#: The same for the modes' self-coupling (a correction of the correction: lambda B is about the
#: wires' relative effect), and for the cross term (a fraction of its own largest value).
COUPLING_BUDGET = 3e-2
CROSS_BUDGET = 1e-2

#: Row voltages on which the rows are solved and the polynomials fitted.
FIT_POINTS = 9

#: Row-solve iterations at most, and the tolerance on the row node voltages (V).
ROW_ITERATIONS = 60
ROW_TOLERANCE_V = 1e-6

#: The row solves' floating type for layers in float32 (or lower): float32 resolves 1e-7 of a
#: 0.5 V node, far below the tolerance, at half the memory traffic of float64 (float64 layers
#: are solved in float64).
ROW_DTYPE = torch.float32

#: Cells (tiles x grid points x rows x cols) solved at once in the row solve.
ROW_CHUNK_CELLS = 1 << 21


@dataclass(frozen=True)
class FamilyGroup:
    """Per-row sums that share a basis: ``bmm(features, weights)`` gives each family's sums.

    Attributes
    ----------
    powers
        The powers of v the basis is written in.
    basis
        (len(powers), K): the basis polynomials as power coefficients.
    weights
        (t_in, K * rows, families * t_out * cols): each family's coordinates (A or A/V).
    """

    powers: range
    basis: torch.Tensor
    weights: torch.Tensor

    def sums(self, powers: torch.Tensor) -> torch.Tensor:
        """(t_in, n, families * t_out * cols): the families' sums over each tile's rows, from
        the powers v^0, v^1, ... of the row voltages (fractions of V_max), (t_in, n, p, rows)."""
        stack = powers[:, :, self.powers.start : self.powers.stop]
        features = torch.matmul(self.basis.T, stack)  # (t_in, n, K, rows)
        return torch.bmm(features.flatten(-2), self.weights)


@dataclass(frozen=True)
class WiredTiles:
    """The once-per-weights reduction of a layer's physical tiles (see the module docstring).

    Attributes
    ----------
    currents
        H = sum h, then A_m = sum phi_m h for each mode m (A).
    slopes
        S_m = sum phi_m s for each mode (A/V).
    couplings
        B_mk = sum phi_m phi_k s for m <= k (A/V): the modes' self-coupling, on a coarser basis.
    cross
        X = sum chi, then sum phi_m chi for each mode (A/V): the rows' response to the raised
        columns, on its own basis.
    lams
        The modes' eigenvalues of the column resistance matrix (ohm), phi of unit norm.
    rows, cols, t_in, t_out
        Tile size (physical cells) and the tile grid.
    """

    currents: FamilyGroup
    slopes: FamilyGroup
    couplings: FamilyGroup
    cross: FamilyGroup
    lams: tuple[float, ...]
    rows: int
    cols: int
    t_in: int
    t_out: int

    @property
    def terms(self) -> dict[str, int]:
        """Basis functions per group (the matrix products of a read are sum of terms x
        families)."""
        return {
            name: getattr(self, name).basis.shape[1]
            for name in ("currents", "slopes", "couplings", "cross")
        }


def column_modes(rows: int, wires: Wires, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(lambda, phi): the ``count`` leading eigenpairs of a column wire's resistance matrix,
    eigenvalues (count,) in ohm, largest first, and eigenvectors (rows, count) of unit norm, the
    first >= 0; float64. Row i's node sits at sum_k R_ik I_k above 0 V."""
    i = torch.arange(rows, dtype=torch.float64)
    resistance = wires.r_sense + wires.r_col * (rows - 1 - torch.maximum(i[:, None], i[None, :]))
    values, vectors = torch.linalg.eigh(resistance)
    count = min(count, rows)
    values, vectors = values.flip(0)[:count], vectors.flip(1)[:, :count]
    return values, vectors * torch.sign(vectors.sum(0) + (vectors.sum(0) == 0))


def _row_drop(currents: torch.Tensor, wires: Wires) -> torch.Tensor:
    """IR drop (V) from a row's source to each of its cells, for cell currents (..., cols) (A):
    the driver carries the whole row's current, the segment before cell j all of cells j.."""
    running = currents.cumsum(-1)
    through = running[..., -1:] - running + currents  # through the segment before cell j
    first = through[..., :1]
    return through.cumsum(-1).sub_(first).mul_(wires.r_row).add_(first * wires.r_driver)


class _RowCells:
    """The cells of a set of tiles as functions of V_cell, each tabulated along the LUT's V_in
    grid at a fixed V_gs (its conductance and V_gs interpolated as the trilinear LUT does, with
    linear extrapolation below the gate grid as the circuit solver): a lookup is a grid index
    and two gathers. With the column nodes at 0 V, V_gs = V_gate."""

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
        at_gate = self.table[:, lut.gate_index(v_gate)]  # (n_g, n_v)
        self.current = torch.lerp(at_gate[self.ig], at_gate[self.ig + 1], self.tg)
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
        """Index of each point's V_in interval and the fraction within it, each with a trailing
        axis of 1; ``v`` (tiles, points, rows, cols) in V."""
        x = (v - self.v0) / self.step
        i = torch.floor(x.detach()).long().clamp(0, self.n_v - 2)
        return i.unsqueeze(-1), (x - i).unsqueeze(-1)

    @staticmethod
    def _at(table: torch.Tensor, i: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Linear interpolation in a (tiles, rows, cols, n_v) table at :meth:`_locate`'s points."""
        table = table.unsqueeze(1).expand(-1, i.shape[1], -1, -1, -1)
        return torch.lerp(table.gather(-1, i), table.gather(-1, i + 1), t).squeeze(-1)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        """Cell currents (A) at V_cell ``v`` >= 0 V (tiles, points, rows, cols), V_gs = V_gate."""
        return self._at(self.current, *self._locate(v))

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
        i, t = self._locate(cell.abs())  # (tiles, points, rows, cols, 1)
        i, t = i.squeeze(-1), t.squeeze(-1)
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
        i, _ = self._locate(v)
        table = self.current.unsqueeze(1).expand(-1, i.shape[1], -1, -1, -1)
        return ((table.gather(-1, i + 1) - table.gather(-1, i)) / self.step).squeeze(-1)


def solve_rows(
    cells: _RowCells,
    volts: torch.Tensor,
    wires: Wires,
    rise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Cell currents and their slopes with every column node held at 0 V.

    Parameters
    ----------
    cells
        The cells of the tiles, (tiles, rows, cols), at their layer's V_gate.
    volts
        Row source voltages (V), (points,): every row of every tile driven at each in turn.
    rise
        A typical column-node rise of every cell (V, > 0), (tiles, rows, cols): s is the
        secant of the cell's current over it (V_cell and V_gs lowered by it). None: s is not
        computed (returned as None).

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
    source = volts.to(cells.current.dtype).view(1, -1, 1, 1)
    tiles, rows, cols = cells.current.shape[:3]
    node = source.expand(tiles, -1, rows, cols)
    update = float("inf")
    # the separable form converges the nodes cheaply (no table lookups); the table's own
    # currents then take the last steps
    for _ in range(ROW_ITERATIONS):
        new = source - _row_drop(cells.separable(node), wires)
        with torch.no_grad():
            update = float((new - node).abs().max())
        node = new
        if update < ROW_TOLERANCE_V:
            break
    for _ in range(ROW_ITERATIONS):
        new = source - _row_drop(cells(node), wires)
        with torch.no_grad():
            update = float((new - node).abs().max())
        node = new
        if update < ROW_TOLERANCE_V:
            break
    else:
        raise CircuitConvergenceError(ROW_ITERATIONS, update, ROW_TOLERANCE_V)
    current = cells(node)
    if rise is None:
        return current, None, cells.slope_v(node)
    secant = (current - cells.lowered(node, rise)) / rise.unsqueeze(1)
    return current, secant, cells.slope_v(node)


def _column_rise(currents: torch.Tensor, wires: Wires) -> torch.Tensor:
    """Column node voltages (V) over 0 V for cell currents (..., rows, cols) (A): the column
    wire carries cells 0..i below row i, and the sense resistor the whole column."""
    below = currents.cumsum(-2)  # current through the segment below row i
    rise = wires.r_col * below[..., :-1, :].flip(-2).cumsum(-2).flip(-2)
    return wires.r_sense * below[..., -1:, :] + F.pad(rise, (0, 0, 0, 1))


def _fit(values: torch.Tensor, points: torch.Tensor, powers: range) -> torch.Tensor:
    """Least-squares polynomial coefficients along axis 1 of ``values`` (tiles, points, ...) at
    ``points`` (v in [0, 1]); returns (len(powers), tiles, ...), lowest power first."""
    design = torch.stack([points**p for p in powers], dim=1)  # (points, n_powers)
    solve = torch.linalg.pinv(design)  # (n_powers, points)
    return torch.einsum("qp,tp...->qt...", solve, values)


def reduce_tiles(
    lut: CellLUT, config: MappingConfig, v_gate: float, gp: torch.Tensor, gn: torch.Tensor
) -> WiredTiles:
    """The once-per-weights work: the reduction of the tiles of conductance pairs ``gp``,
    ``gn`` (in, out), in S, at ``v_gate`` (V) with ``config.wires``; differentiable."""
    rows, cols = config.rows, config.cols
    n_in, n_out = gp.shape
    t_in, t_out = math.ceil(n_in / rows), math.ceil(n_out / (cols // 2))
    tiles = pair_tiles(gp, gn, rows, cols // 2, lut.g_min_s)  # (t_in * t_out, rows, cols)
    dtype = gp.dtype if gp.is_floating_point() else torch.get_default_dtype()
    return _reduce(lut, tiles, t_in, t_out, v_gate, config.wires, dtype)


def reduce_array(lut: CellLUT, g: torch.Tensor, v_gate: float, wires: Wires) -> WiredTiles:
    """The reduction of one ``rows x cols`` array of conductances ``g`` (S) at ``v_gate`` (V):
    :func:`column_currents` of it with ``v`` of shape (1, n, rows) gives (1, n, cols)."""
    g = torch.as_tensor(g)
    dtype = g.dtype if g.is_floating_point() else torch.get_default_dtype()
    wires.validate()
    return _reduce(lut, g.unsqueeze(0), 1, 1, v_gate, wires, dtype)


def _reduce(
    lut: CellLUT,
    tiles: torch.Tensor,
    t_in: int,
    t_out: int,
    v_gate: float,
    wires: Wires,
    dtype: torch.dtype,
) -> WiredTiles:
    """Row solves, fits and column-mode weighting of ``tiles`` (t_in * t_out, rows, cols)."""
    _, rows, cols = tiles.shape
    lams, phis = column_modes(rows, wires, COLUMN_MODES)
    phis = phis.to(tiles.device)
    phi = phis[:, 0]
    points = torch.linspace(0.0, 1.0, FIT_POINTS, dtype=torch.float64, device=tiles.device)
    step = max(1, ROW_CHUNK_CELLS // (FIT_POINTS * rows * cols))
    work = torch.float64 if tiles.dtype == torch.float64 else ROW_DTYPE
    h_parts, s_parts = [], []
    for start in range(0, tiles.shape[0], step):
        cells = _RowCells(lut, tiles[start : start + step].to(work), v_gate)
        mid = solve_rows(cells, points[-1:] * SECANT_SCALE * lut.v_max, wires)[0]
        rise = _column_rise(mid[:, 0].detach(), wires).clamp_min(1e-6)
        h, s, p = solve_rows(cells, points * lut.v_max, wires, rise)
        # each column's expected mode current at mid-scale inputs: the shape of z over a tile
        typical = (phi.view(1, rows, 1) * h[:, FIT_POINTS // 2]).sum(1, keepdim=True)
        typical = typical / typical.mean(-1, keepdim=True)  # (tiles, 1, cols)
        cross = phi.view(1, 1, rows, 1) * p * _row_drop(s * typical.unsqueeze(1), wires)
        h_parts.append(_fit(h.double(), points, H_POWERS))
        s_parts.append(_fit(torch.stack([s, cross], dim=2).double(), points, S_POWERS))
    h_coef = torch.cat(h_parts, dim=1)  # (powers, tiles, rows, cols)
    s_coef, x_coef = torch.cat(s_parts, dim=1).unbind(2)
    modes = [phis[:, m].view(1, 1, rows, 1) for m in range(phis.shape[1])]
    pairs = [modes[m] * modes[k] for m in range(len(modes)) for k in range(m, len(modes))]
    s_largest = float(s_coef.detach().abs().max())
    x_largest = float(x_coef.detach().abs().max())

    def group(powers: range, coef: torch.Tensor, tol: float, weights: list) -> FamilyGroup:
        basis, coords = _compress(powers, coef, tol)
        stacked = torch.stack([coords * w for w in weights])
        return FamilyGroup(powers, basis.to(dtype), _arrange(stacked, t_in, t_out).to(dtype))

    return WiredTiles(
        group(H_POWERS, h_coef, H_BUDGET * lut.g_on_s * lut.v_max, [1.0, *modes]),
        group(S_POWERS, s_coef, S_BUDGET * s_largest, modes),
        group(S_POWERS, s_coef, COUPLING_BUDGET * s_largest, pairs),
        group(S_POWERS, x_coef, CROSS_BUDGET * max(x_largest, 1e-300), [1.0, *modes]),
        tuple(float(x) for x in lams),
        rows,
        cols,
        t_in,
        t_out,
    )


def _compress(
    powers: range, coef: torch.Tensor, tolerance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A basis of few polynomials for the per-cell polynomials ``coef`` (powers, ...): the
    fewest leading modes (on a fine grid of v in [0, 1]) that keep every cell's function within
    ``tolerance`` (in the coefficients' units) at every grid point (bounded by the residual's
    2-norm over the grid).

    Returns the basis as power coefficients (len(powers), K), detached (the gradient flows
    through the cells' coordinates), and the coordinates (K, ...).
    """
    fine = torch.linspace(0.0, 1.0, 101, dtype=torch.float64, device=coef.device)
    design = torch.stack([fine**p for p in powers], dim=1)  # (101, D)
    _, r = torch.linalg.qr(design)
    flat = (r @ coef.reshape(len(powers), -1)) / tolerance
    with torch.no_grad():
        _, vectors = torch.linalg.eigh(flat @ flat.T)
        vectors = vectors.flip(1)  # leading modes first
        # r's Q is orthonormal: a cell's residual on the grid is at most its 2-norm here, which
        # for k modes is what the other modes hold
        held = (vectors.T @ flat).square()
        left = held.flip(0).cumsum(0).flip(0)  # left[k]: what modes k.. hold, per cell
        k = len(powers)
        for k in range(1, len(powers) + 1):
            if k == len(powers) or float(left[k].max()) <= 1.0:
                break
        modes = vectors[:, :k]
    basis = torch.linalg.solve_triangular(r, modes, upper=True)  # (D, K) power coefficients
    coords = ((modes.T @ flat) * tolerance).reshape(modes.shape[1], *coef.shape[1:])
    return basis, coords


def _arrange(coef: torch.Tensor, t_in: int, t_out: int) -> torch.Tensor:
    """(families, terms, t_in * t_out, rows, cols) -> (t_in, terms * rows, families * t_out *
    cols), the right operand of a batched product with the terms of each row tile's inputs."""
    families, terms, _, rows, cols = coef.shape
    coef = coef.reshape(families, terms, t_in, t_out, rows, cols)
    coef = coef.permute(2, 1, 4, 0, 3, 5)  # (t_in, terms, rows, families, t_out, cols)
    return coef.reshape(t_in, terms * rows, families * t_out * cols)


def _powers(v: torch.Tensor, highest: int) -> torch.Tensor:
    """(t_in, n, rows) -> (t_in, n, highest + 1, rows): v^0 .. v^highest."""
    out = [torch.ones_like(v), v]
    for _ in range(2, highest + 1):
        out.append(out[-1] * v)
    return torch.stack(out, dim=2)


def column_currents(reduced: WiredTiles, v: torch.Tensor) -> torch.Tensor:
    """Column currents (A) of every physical tile, (t_in, n, t_out * cols), for row voltages as
    fractions of V_max ``v`` (t_in, n, rows) in [0, 1]: one read of every tile."""
    count = len(reduced.lams)
    shape = (*v.shape[:2], reduced.t_out, reduced.cols)

    powers = _powers(v, max(H_POWERS.stop, S_POWERS.stop) - 1)

    def families(group: FamilyGroup) -> list[torch.Tensor]:
        return list(group.sums(powers).reshape(*shape[:2], -1, *shape[2:]).unbind(2))

    total, *phi_h = families(reduced.currents)
    phi_s = families(reduced.slopes)
    pair_s = families(reduced.couplings)
    cross, *phi_cross = families(reduced.cross)
    solve = _coupling_one if count == 1 else _coupling_two
    apply = solve(reduced.lams, pair_s)  # z = apply(rhs): the Galerkin condition per column
    alone, per_cross = apply(phi_h), apply(phi_cross)
    # the cross term's amplitude: the tile's mean first-mode coefficient, self-consistently
    amplitude = alone[0].mean(-1, keepdim=True) / (1 - per_cross[0].mean(-1, keepdim=True))
    out = torch.addcmul(total, amplitude, cross)
    for m in range(count):
        out = out - torch.addcmul(alone[m], amplitude, per_cross[m]).mul_(phi_s[m])
    return out.flatten(-2)


Coupling = Callable[[list[torch.Tensor]], list[torch.Tensor]]


def _coupling_one(lams: tuple[float, ...], pair_s: list[torch.Tensor]) -> Coupling:
    """rhs -> z = lambda rhs / (1 + lambda B): the one-mode Galerkin condition per column."""
    (lam,), (b,) = lams, pair_s
    gain = lam / (1 + lam * b)
    return lambda rhs: [gain * rhs[0]]


def _coupling_two(lams: tuple[float, ...], pair_s: list[torch.Tensor]) -> Coupling:
    """rhs -> z = (1 + Lambda B)^-1 Lambda rhs for two modes per column (B symmetric: B11, B12,
    B22), the 2 x 2 inverse formed once."""
    (l1, l2), (b11, b12, b22) = lams, pair_s
    m11, m22 = 1 + l1 * b11, 1 + l2 * b22
    scale = 1 / (m11 * m22 - (l1 * l2) * b12 * b12)
    n11, n22 = (l1 * scale) * m22, (l2 * scale) * m11
    n12 = (-l1 * l2) * b12 * scale  # both off-diagonal entries of the product: symmetric

    def apply(rhs: list[torch.Tensor]) -> list[torch.Tensor]:
        r1, r2 = rhs
        return [torch.addcmul(n11 * r1, n12, r2), torch.addcmul(n22 * r2, n12, r1)]

    return apply


def fast_wired_sum(
    lut: CellLUT,
    config: MappingConfig,
    reduced: WiredTiles,
    u: torch.Tensor,
    n_out: int,
) -> torch.Tensor:
    """Differential current (A) of every output, (n, n_out), from signed normalized inputs ``u``
    (n, in): each phase a read of every tile through :func:`column_currents`, the ADC per tile
    and phase when it is on, summed over the tiles."""
    check_integer("n_out", n_out, low=1)
    rows, pairs = reduced.rows, reduced.cols // 2
    n, n_in = u.shape
    out = None
    for positive in (True, False):
        part = u.clamp_min(0.0) if positive else (-u).clamp_min(0.0)
        if not positive and not bool((u < 0).any()):
            continue
        v = F.pad(part, (0, reduced.t_in * rows - n_in)).reshape(n, reduced.t_in, rows)
        currents = column_currents(reduced, v.transpose(0, 1).to(reduced.currents.weights.dtype))
        currents = currents.reshape(reduced.t_in, n, reduced.t_out, reduced.cols)
        diff = currents[..., 0::2] - currents[..., 1::2]
        if config.adc_bits is not None:
            full_scale = rows * (lut.g_on_s - lut.g_min_s) * lut.v_max * config.adc_range
            diff = quantize_symmetric(diff, full_scale, config.adc_bits)
        total = diff.sum(dim=0).reshape(n, reduced.t_out * pairs)[:, :n_out]
        out = total if positive else out - total  # the positive phase is always read
    return out.to(u.dtype)
