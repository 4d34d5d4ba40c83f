"""The wired fast path: crossbar tiles with wire resistance at the cost of matrix products.

The reference (:mod:`neatxbar.mapping.wired`, ``path = "exact"``) solves every tile as a circuit
for every input vector. This path reduces each tile's circuit once per weight setting to
coefficient matrices, so that a read costs matrix products and some work per column. The
reduction, per physical tile of ``rows x cols`` cells (row drivers on the left, column sense at
the bottom, as in :mod:`neatxbar.mapping.circuit`):

1. **Rows, solved once per weights** (:mod:`neatxbar.mapping.wired_rows`). Each row wire with
   its cells is solved with the column nodes at 0 V, for row voltages V on a grid over
   [0, V_max] (:data:`FIT_POINTS`; fixed-point iteration on the LUT, exact up to
   :data:`~neatxbar.mapping.wired_rows.ROW_TOLERANCE_V`). Every row depends on its own
   input only, so this gives each cell's current h_ij(V) with its row's IR drop; s_ij(V), the
   current it loses per volt its column node rises (V_cell and V_gs fall together), as the
   secant over a typical rise (that of all rows at
   :data:`~neatxbar.mapping.wired_rows.SECANT_SCALE` V_max, which averages
   the cell's curvature); and p_ij(V) = dI/dV_cell. All are fitted by polynomials in
   v = V / V_max (h without a constant term: a row at 0 V adds no current; s with one: it still
   loads its column, the cell conducting backwards as the solver's odd extension).
2. **Columns, reduced to two modes.** The column node voltages are c = R I along each column, R
   the column wire's resistance matrix (r_sense + r_col (rows - 1 - max(i, k)) between rows i
   and k). With R ~ sum_m lambda_m phi_m phi_m^T (its :data:`COLUMN_MODES` leading eigenpairs),
   c_ij ~ sum_m phi_m(i) z_mj, and I_ij = h_ij(V_i) - s_ij(V_i) c_ij, the Galerkin condition
   z_m = lambda_m phi_m^T I gives per column the 2 x 2 system

       (1 + Lambda B) z = Lambda A,   J = H - S^T z,

   with H = sum_i h_ij, A_m = sum_i phi_m(i) h_ij, S_m = sum_i phi_m(i) s_ij and
   B_mk = sum_i phi_m(i) phi_k(i) s_ij.
3. **Rows' response to the columns.** A raised column node takes current from a row, whose drop
   then shrinks and gives some back: chi_ij = phi_1(i) p_ij sum_l R_row(j, l) s_il t_l, with t_l
   each column's share of the first mode at mid-scale inputs (z_1l ~ a t_l), adds a chi_ij to
   h_ij; a, the tile's amplitude, is the mean first-mode coefficient, self-consistently.
4. **Linearized around a reference loading.** S and B depend on the inputs only through the
   cells' slopes, which vary little; around their values S0, B0 with every row at
   :data:`REFERENCE_INPUT` V_max (and a0 there), to first order in delta_s = s - s0:

       J = sum_i h~_ij (1 - c_j . phi(i))  -  q_j E_j  +  (a - a0) X~_j,

   h~ = h + a0 chi, M0 = (1 + Lambda B0)^-1 Lambda and c = M0^T S0 per column (constants);
   q = sum_i (M0 phi(i))_1 h~_ij the first mode's coefficient; E = sum_i phi_1(i) (1 -
   s^ . phi(i)) delta_s_ij with s^ = Lambda (1 + B0 Lambda)^-1 S0 (B's change folded in);
   X~ = sum_i chi_ij (1 - c_j . phi(i)); a - a0 = (mean_j q_j - a0) / (1 - gamma), gamma the
   amplitude's feedback through chi at the reference. The second mode's share of q E is
   left out (on the benchmark's 64 x 64 arrays it moves the largest error by 0.03 % at
   most, where q E is 2 % of J).

Each of the four families (main, q, E, X~) is a sum over rows of per-cell polynomials: matrix
products of basis functions of the inputs with coefficient matrices fixed by the weights. Each
family's basis (:class:`FamilyGroup`) is the fewest leading modes of the layer's own per-cell
polynomials that keep every cell within the family's budget (:data:`MAIN_BUDGET`,
:data:`MAIN_SHARE`, :data:`RISE_BUDGET`, :data:`LOADING_BUDGET`, :data:`CROSS_BUDGET`); the
cells' values at 0 V are constants per column and cost no product. On the benchmark's
64 x 64 arrays at 0.75 V the main family takes 2 basis functions (5 at a budget of 5e-5 of
G_ON V_max: the largest error moved by under 0.001 %), q, E and X~ one each (E with two: the
largest error 0.253 % instead of 0.277 %). Without the ADC the main family is summed over
the row tiles inside its products, and only q, E and X~ are formed per tile (with the tile
amplitude from q's mean over the tile's columns). The layers read each pair's
difference (``differential``): the main family and X~ (its factor a - a0 is the tile's) are
linear, so they are reduced over the pairs' differences, at half the products; q E is formed
per column. Where q E stays below :data:`LOADING_NEGLIGIBLE` of a tile's largest current
(with every row at one voltage), q and E are left out (q's mean over each tile's columns
stays, read on a basis of its own). A read takes its
inputs in chunks (:data:`READ_CHUNK`) so that its work stays in the processor's cache;
convolutions can be read with convolutions instead (:mod:`neatxbar.mapping.wired_conv`).

Left out: the column profile beyond two modes, the cells' curvature in c beyond the secant,
second order in the slopes' change, the rows' response beyond first order with one amplitude
per tile. These are higher order in the wires' relative effect, which grows as r G rows^2.
Measured against the reference solver and ngspice: ``benchmarks/wired_fast.py``
(``benchmarks/RESULTS.md``), see ``docs/emulation.md``.

Gradients flow to the weights (through the unrolled row solves and the fits; the bases are held
fixed) and to the inputs.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neatxbar.core.checks import check_integer
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.quantize import quantize_symmetric
from neatxbar.mapping.wired import pair_tiles
from neatxbar.mapping.wired_rows import RowCells, row_drop, solve_rows, typical_rise
from neatxbar.spice.params import Wires

#: The powers of v = V / V_max that h(v) (no constant: 0 V, no current) and s(v) are fitted with.
H_POWERS = range(1, 7)
S_POWERS = range(4)

#: Modes of the column profile (1 or 2) the Galerkin condition keeps.
COLUMN_MODES = 2

#: The reference loading the modes' correction is linearized around: every row at this
#: fraction of V_max.
REFERENCE_INPUT = 0.5

#: Largest error of a cell's function in its family's compressed basis: for the main family a
#: fraction of G_ON * V_max (at most, see :data:`MAIN_SHARE`); for the others (second-order
#: corrections) a fraction of the family's largest per-cell function. Each is the bound on the
#: 2-norm of the cell's residual over 101 points of v in [0, 1], so its rms is a tenth of it.
MAIN_BUDGET = 4e-3
RISE_BUDGET = 0.1
LOADING_BUDGET = 0.3
CROSS_BUDGET = 0.3

#: The main family's budget is also held below this fraction of the wires' relative effect,
#: G_ON (r_row cols^2 + r_col rows^2) / 2 (about 0.34 for 64 x 64 tiles with 2.5-ohm
#: segments): on small tiles or thin wires the compression stays far below what the wires
#: change.
MAIN_SHARE = 1.2e-2

#: q E (the first mode's coefficient times the loading's change) is left out of a layer where
#: it stays below this fraction of each tile's largest column current (at high gate voltages,
#: where the cells' slopes hardly change with the input).
LOADING_NEGLIGIBLE = 1e-3

#: Row voltages on which the rows are solved and the polynomials fitted (h, s and p on all of
#: them: s and p on every other point only, the largest error at 64 x 64 and 0.75 V grows from
#: 0.26 % to 0.31 %).
FIT_POINTS = 9

#: The row solves' floating type for layers in float32 (or lower): float32 resolves 1e-7 of a
#: 0.5 V node, far below the tolerance, at half the memory traffic of float64 (float64 layers
#: are solved in float64).
ROW_DTYPE = torch.float32

#: Cells (tiles x grid points x rows x cols) solved at once in the row solve.
ROW_CHUNK_CELLS = 1 << 19

#: A read takes its inputs in chunks, so that its work stays in the processor's cache: at most
#: this many elements of the powers of the inputs (powers x inputs x rows) and of the per-tile
#: sums (tiles x inputs x columns, x positions in the convolution read) at once. On the digits
#: ResNet18 (batch 256, 2 cores) the whole forward took 1.5-2.2 s with these sums chunked at
#: 2^20 to 2^24 elements: the machine's own variation, not the chunk, decided.
READ_CHUNK = 1 << 22
TILE_CHUNK = 1 << 22


@dataclass(frozen=True)
class FamilyGroup:
    """One family of per-row sums on its own basis of polynomials in v: a sum per column of
    each tile, as matrix products of the basis functions of the row voltages with
    coefficient matrices.

    Attributes
    ----------
    basis
        (P, K): the K basis polynomials as coefficients of v^1 .. v^P (the value at 0 V is
        ``constant``).
    weights
        (K, t_in, rows, t_out * width): the cells' coordinates in the basis (units of the
        family: A, V or A/V), per basis function and row tile. The same memory serves the
        per-tile read (a batched product over the row tiles) and the summed one (one product
        over every row, as (t_in * rows, t_out * width)).
    constant
        (t_in, 1, t_out * width): the input-independent part of the sums (the cells at 0 V).
    """

    basis: torch.Tensor
    weights: torch.Tensor
    constant: torch.Tensor

    @property
    def terms(self) -> int:
        """K, the basis functions: a read costs K matrix products."""
        return self.basis.shape[1]

    def sums(self, features: torch.Tensor) -> torch.Tensor:
        """(t_in, n, t_out * width): the sums over each tile's rows, from this family's basis
        functions at the row voltages, (K, n, t_in, rows)."""
        out = torch.baddbmm(self.constant, features[0].transpose(0, 1), self.weights[0])
        for feature, weight in zip(features[1:], self.weights[1:], strict=True):
            out = out.baddbmm_(feature.transpose(0, 1), weight)
        return out

    def total(self, features: torch.Tensor) -> torch.Tensor:
        """(n, t_out * width): the sums over each tile's rows summed over the row tiles, one
        product per basis function over all the tiles at once; ``features`` as in
        :meth:`sums`."""
        weights = self.weights.flatten(1, 2)
        out = torch.addmm(self.constant.sum(0), features[0].flatten(1), weights[0])
        for feature, weight in zip(features[1:], weights[1:], strict=True):
            out = out.addmm_(feature.flatten(1), weight)
        return out


@dataclass(frozen=True)
class WiredTiles:
    """The once-per-weights reduction of a layer's physical tiles (see the module docstring).

    Each group holds one family (one sum per column), so a read costs sum of terms matrix
    products.

    Attributes
    ----------
    main
        J0 = sum h~ (1 - c . phi): the column currents at the reference loading (A).
    cross
        X~ = sum chi (1 - c . phi): the rows' response to the raised columns, per volt of the
        tile's amplitude (A/V).
    rise
        q = sum (M0 phi)_1 h~ (V), the first mode's coefficient, per column where ``loading``
        is kept, else only its mean over each tile's columns (what the tile amplitude needs).
    loading
        E = sum w delta_s (A/V) per column; None where q E stays below
        :data:`LOADING_NEGLIGIBLE` of the tile's largest current. When ``differential``, the
        columns of q and E are each tile's G+ columns, then its G- columns, these with their
        sign folded into E.
    reference, gain
        (t_in, 1, t_out, 1): the tile amplitude a0 at the reference inputs (V) and
        1 / (1 - gamma), gamma the amplitude's own feedback through the rows.
    differential
        ``main`` and ``cross`` hold the differences of each pair's columns (G+ minus G-), so
        their products run over the pairs; the reads are :func:`differential_currents`.
    rows, cols, t_in, t_out
        Tile size (physical cells) and the tile grid.
    """

    main: FamilyGroup
    cross: FamilyGroup
    rise: FamilyGroup
    loading: FamilyGroup | None
    reference: torch.Tensor
    gain: torch.Tensor
    differential: bool
    rows: int
    cols: int
    t_in: int
    t_out: int

    @property
    def groups(self) -> tuple[FamilyGroup, ...]:
        """The families a read evaluates, in the order of :attr:`basis`."""
        kept = () if self.loading is None else (self.loading,)
        return (self.main, self.rise, self.cross, *kept)

    @functools.cached_property
    def basis(self) -> torch.Tensor:
        """(P, sum of K): every family's basis, side by side in the order of :attr:`groups`,
        as coefficients of v^1 .. v^P (P the highest power of any)."""
        highest = max(len(group.basis) for group in self.groups)
        padded = [F.pad(g.basis, (0, 0, 0, highest - len(g.basis))) for g in self.groups]
        return torch.cat(padded, 1)

    @property
    def terms(self) -> dict[str, int]:
        """Basis functions per family (a read costs their sum in matrix products, those of
        ``main`` and ``cross`` over the pairs when ``differential``, ``rise`` over the mean
        columns only where ``loading`` is left out)."""
        kept = 0 if self.loading is None else self.loading.terms
        return {
            "main": self.main.terms,
            "rise": self.rise.terms,
            "loading": kept,
            "cross": self.cross.terms,
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


def _fit(values: torch.Tensor, points: torch.Tensor, powers: range) -> torch.Tensor:
    """Least-squares polynomial coefficients along axis 1 of ``values`` (tiles, points, ...) at
    ``points`` (v in [0, 1]); returns (len(powers), tiles, ...), lowest power first."""
    design = torch.stack([points**p for p in powers], dim=1)  # (points, n_powers)
    solve = torch.linalg.pinv(design)  # (n_powers, points)
    return torch.einsum("qp,tp...->qt...", solve, values)


def reduce_tiles(
    lut: CellLUT,
    config: MappingConfig,
    v_gate: float,
    gp: torch.Tensor,
    gn: torch.Tensor,
    *,
    differential: bool = True,
) -> WiredTiles:
    """The once-per-weights work: the reduction of the tiles of conductance pairs ``gp``,
    ``gn`` (in, out), in S, at ``v_gate`` (V) with ``config.wires``; differentiable.
    ``differential``: read as pairs (:func:`differential_currents`, what the layers use),
    else as single columns (:func:`column_currents`)."""
    rows, cols = config.rows, config.cols
    n_in, n_out = gp.shape
    t_in, t_out = math.ceil(n_in / rows), math.ceil(n_out / (cols // 2))
    tiles = pair_tiles(gp, gn, rows, cols // 2, lut.g_min_s)  # (t_in * t_out, rows, cols)
    dtype = gp.dtype if gp.is_floating_point() else torch.get_default_dtype()
    return _reduce(lut, tiles, t_in, t_out, v_gate, config.wires, dtype, differential)


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
    differential: bool = False,
) -> WiredTiles:
    """Row solves, fits and the linearization of ``tiles`` (t_in * t_out, rows, cols);
    ``differential``: their columns are pairs (G+, G-), read as differences."""
    _, rows, cols = tiles.shape
    lams, phis = column_modes(rows, wires, COLUMN_MODES)
    phis = phis.to(tiles.device)
    points = torch.linspace(0.0, 1.0, FIT_POINTS, dtype=torch.float64, device=tiles.device)
    step = max(1, ROW_CHUNK_CELLS // (FIT_POINTS * rows * cols))
    work = torch.float64 if tiles.dtype == torch.float64 else ROW_DTYPE
    parts = []
    for start in range(0, tiles.shape[0], step):
        cells = RowCells(lut, tiles[start : start + step].to(work), v_gate)
        rise = typical_rise(points, wires)
        h, s, p = solve_rows(cells, points * lut.v_max, wires, rise)
        # each column's expected mode current at mid-scale inputs: the shape of z over a tile
        phi = phis[:, 0].view(1, rows, 1).to(work)
        typical = (phi * h[:, FIT_POINTS // 2]).sum(1, keepdim=True)
        typical = typical / typical.mean(-1, keepdim=True)  # (tiles, 1, cols)
        cross = phi.unsqueeze(1) * p * row_drop(s * typical.unsqueeze(1), wires)
        h_coef = F.pad(_fit(h.double(), points, H_POWERS), (0, 0, 0, 0, 0, 0, 1, 0))
        both = torch.stack([s, cross], dim=2).double()
        s_coef, x_coef = _fit(both, points, S_POWERS).unbind(2)
        parts.append(_linearize(lams.to(phis), phis, h_coef, s_coef, x_coef))
    main, rise, loading, cross, reference, gain = (
        torch.cat(x, dim=1) for x in zip(*parts, strict=True)
    )
    scale = lut.g_on_s * lut.v_max
    strength = lut.g_on_s * (wires.r_row * cols**2 + wires.r_col * rows**2) / 2

    def group(coef: torch.Tensor, tolerance: float) -> FamilyGroup:
        # the value at 0 V costs no product: a constant per column
        constant = _arrange(coef[:1].sum(-2, keepdim=True), t_in, t_out)[0]
        basis, coords = _compress(range(1, coef.shape[0]), coef[1:], tolerance)
        weights = _arrange(coords, t_in, t_out)
        return FamilyGroup(basis.to(dtype), weights.to(dtype), constant.to(dtype))

    def largest(coef: torch.Tensor) -> float:
        return max(float(coef.detach().abs().max()), 1e-300)

    def per_tile(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(t_in, 1, t_out, 1).to(dtype)

    def pairs(coef: torch.Tensor) -> torch.Tensor:
        return coef[..., 0::2] - coef[..., 1::2] if differential else coef

    kept = _product_share(main, rise, loading) > LOADING_NEGLIGIBLE
    mean = rise.mean(-1, keepdim=True)  # the tile amplitude's estimate: q's mean
    if differential:  # each tile's G+ columns, then its G- columns, signed in E
        order = torch.cat([torch.arange(0, cols, 2), torch.arange(1, cols, 2)]).to(tiles.device)
        rise, loading = rise[..., order], loading[..., order]
        loading = loading * torch.tensor([1.0, -1.0]).to(loading).repeat_interleave(cols // 2)
    return WiredTiles(
        group(pairs(main), min(MAIN_BUDGET, MAIN_SHARE * strength) * scale),
        group(pairs(cross), CROSS_BUDGET * largest(cross)),
        group(rise if kept else mean, RISE_BUDGET * largest(rise)),
        group(loading, LOADING_BUDGET * largest(loading)) if kept else None,
        per_tile(reference),
        per_tile(gain),
        differential,
        rows,
        cols,
        t_in,
        t_out,
    )


def _product_share(main: torch.Tensor, rise: torch.Tensor, loading: torch.Tensor) -> float:
    """The largest |q E| of a column with every row at the same voltage (on the fit grid), as
    a fraction of its tile's largest column current there (at the reference loading); from the
    per-cell polynomials (powers from 0, tiles, rows, cols)."""
    with torch.no_grad():
        sums = [coef.detach().sum(-2) for coef in (main, rise, loading)]  # (P, tiles, cols)
        grid = torch.linspace(0.0, 1.0, FIT_POINTS).tolist()
        current, q, e = (torch.stack([_polyval(c, v) for v in grid]) for c in sums)
        scale = current.abs().amax(dim=(0, 2)).clamp_min(1e-300)  # per tile
        return float(((q * e).abs().amax(dim=(0, 2)) / scale).max())


def _polyval(coef: torch.Tensor, v: float) -> torch.Tensor:
    """The polynomials of power coefficients ``coef`` (powers from 0, ...) at ``v``."""
    out = torch.zeros_like(coef[0])
    for c in coef.flip(0):
        out = out * v + c
    return out


def _linearize(
    lams: torch.Tensor,
    phis: torch.Tensor,
    h_coef: torch.Tensor,
    s_coef: torch.Tensor,
    x_coef: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """The column modes' correction, linearized around the reference loading (every row at
    :data:`REFERENCE_INPUT`), for per-cell polynomials (powers from 0, tiles, rows, cols) of
    h, s and chi: (main, rise, loading, cross) as per-cell polynomials, then the tiles'
    reference amplitude a0 and gain 1 / (1 - gamma), each (1, tiles)."""
    count = phis.shape[1]
    modes = phis.T.reshape(count, 1, -1, 1)  # (modes, 1, rows, 1)
    s0, h0, x0 = (_polyval(c, REFERENCE_INPUT) for c in (s_coef, h_coef, x_coef))
    load = (modes * s0).sum(-2)  # S0_m: (modes, tiles, cols)
    couple = (modes.unsqueeze(1) * modes * s0).sum(-2)  # B0_mk: (modes, modes, tiles, cols)
    lam = torch.diag(lams)
    system = torch.eye(count, dtype=lams.dtype) + torch.einsum("mk,kjtc->tcmj", lam, couple)
    inverse = torch.linalg.inv(system)  # (tiles, cols, m, k), 2 x 2 each
    m0 = inverse @ lam  # (1 + Lambda B0)^-1 Lambda
    c = torch.einsum("tcmk,mtc->ktc", m0, load)  # M0^T S0
    s_hat = torch.einsum("mk,tcjk,jtc->mtc", lam, inverse, load)
    profile = (modes * c.unsqueeze(-2)).sum(0)  # sum_k c_k phi_k(i): (tiles, rows, cols)
    first = torch.einsum("tck,kr->trc", m0[..., 0, :], phis.T)  # (M0 phi)_1
    a_h = (first * h0).sum(-2).mean(-1)
    gamma = (first * x0).sum(-2).mean(-1)
    a0 = a_h / (1 - gamma)  # the amplitude at the reference, self-consistently
    h_tilde = h_coef + a0.view(1, -1, 1, 1) * F.pad(x_coef, (0, 0, 0, 0, 0, 0, 0, 3))
    weight = 1 - profile
    w_load = modes[0] * (1 - (modes * s_hat.unsqueeze(-2)).sum(0))
    delta_s = torch.cat([s_coef[:1] - s0, s_coef[1:]])
    return (
        h_tilde * weight,
        h_tilde * first,
        delta_s * w_load,
        x_coef * weight,
        a0.unsqueeze(0),
        (1 / (1 - gamma)).unsqueeze(0),
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
    """(terms, t_in * t_out, rows, width) -> (terms, t_in, rows, t_out * width): the right
    operands of the products with each row tile's inputs."""
    terms, _, rows, width = coef.shape
    coef = coef.reshape(terms, t_in, t_out, rows, width).transpose(2, 3)
    return coef.reshape(terms, t_in, rows, t_out * width).contiguous()


def basis_functions(reduced: WiredTiles, v: torch.Tensor) -> list[torch.Tensor]:
    """Each family's basis functions at the row voltages ``v`` (any shape, as fractions of
    V_max), (K, *v.shape) each, in the order of :attr:`WiredTiles.groups`: the powers v^1 ..
    v^P, then one product with every family's basis (:attr:`WiredTiles.basis`)."""
    basis = reduced.basis
    highest = basis.shape[0]
    if v.requires_grad and torch.is_grad_enabled():
        powers = [v]
        for _ in range(1, highest):
            powers.append(powers[-1] * v)
        powers = torch.stack(powers)
    else:  # written in place: no copies of the powers
        powers = v.new_empty((highest, *v.shape))
        powers[0].copy_(v)
        for p in range(1, highest):
            torch.mul(powers[p - 1], v, out=powers[p])
    features = (basis.T @ powers.flatten(1)).view(-1, *v.shape)
    return list(features.split([group.terms for group in reduced.groups]))


def _read(reduced: WiredTiles, v: torch.Tensor, summed: bool) -> torch.Tensor:
    """The read of every tile, (t_in, n, t_out * width), or summed over the row tiles (n, t_out *
    width), for row voltages ``v`` (n, t_in, rows) as fractions of V_max; width: cols, or the
    pairs when ``reduced.differential``. Inputs are read in chunks of :data:`READ_CHUNK`
    elements of the powers (the work stays in the processor's cache)."""
    n, t_in, rows = v.shape
    t_out, cols = reduced.t_out, reduced.cols
    powers, sums = t_in * rows * len(reduced.basis), t_in * t_out * cols
    step = max(1, min(READ_CHUNK // powers, TILE_CHUNK // sums))
    if n > step:
        parts = [_read(reduced, v[start : start + step], summed) for start in range(0, n, step)]
        return torch.cat(parts, dim=-2)
    width = cols // 2 if reduced.differential else cols
    main, rise, cross, *loading = basis_functions(reduced, v)
    q = reduced.rise.sums(rise).view(t_in, n, t_out, -1)
    # the tile's amplitude beyond the reference, from the mean first-mode coefficient
    mean = q.mean(-1, keepdim=True) if loading else q
    amplitude = (mean - reduced.reference) * reduced.gain
    correction = reduced.cross.sums(cross).view(t_in, n, t_out, width) * amplitude
    if summed:
        correction = correction.sum(0)
    if loading:  # q E, per physical column (sign folded into E for the pairs' G- columns)
        product = reduced.loading.sums(loading[0]).view(t_in, n, t_out, cols)
        product = product * q
        if summed:
            product = product.sum(0)
        if reduced.differential:  # G+ columns, then G- columns (signed)
            product = product[..., :width] + product[..., width:]
        correction = correction.sub_(product)
    if summed:
        return reduced.main.total(main).add_(correction.flatten(-2))
    return reduced.main.sums(main).add_(correction.flatten(-2))


def column_currents(reduced: WiredTiles, v: torch.Tensor, *, summed: bool = False) -> torch.Tensor:
    """Column currents (A) of every physical tile, (t_in, n, t_out * cols), for row voltages as
    fractions of V_max ``v`` (t_in, n, rows) in [0, 1]: one read of every tile (of a
    reduction that is not ``differential``).

    ``summed``: the sum over the row tiles, (n, t_out * cols), with the main family's sums
    over all row tiles in one matrix product."""
    if reduced.differential:
        raise ValueError("a differential reduction reads through differential_currents")
    return _read(reduced, v.transpose(0, 1), summed)


def differential_currents(
    reduced: WiredTiles, v: torch.Tensor, *, summed: bool = False
) -> torch.Tensor:
    """I(G+) - I(G-) (A) of every pair of every tile of a ``differential`` reduction, (t_in,
    n, t_out * cols / 2), or summed over the row tiles (n, t_out * cols / 2); ``v`` as in
    :func:`column_currents`."""
    if not reduced.differential:
        raise ValueError("a reduction of single columns reads through column_currents")
    return _read(reduced, v.transpose(0, 1), summed)


def phases(u: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The input phases of signed inputs ``u`` (n, ...) stacked along the batch: (u+, u-) as
    (2 n, ...) when some input is negative (each phase drives the rows on its own), else u
    itself; and the number of phases."""
    if u.numel() == 0 or bool(u.amin() >= 0):  # a reduction: no mask of the inputs
        return u, 1
    return torch.cat([u.clamp_min(0.0), (-u).clamp_min(0.0)]), 2


def merge_phases(current: torch.Tensor) -> torch.Tensor:
    """u+'s currents minus u-'s, from the phases stacked along dimension 0 (one or two)."""
    return current[0] - current[1] if len(current) == 2 else current[0]


def tile_adc(
    lut: CellLUT, config: MappingConfig, rows: int, current: torch.Tensor, dim: int
) -> torch.Tensor:
    """Each tile's differential currents (A) through the ADC, then summed over the row tiles
    (dimension ``dim``)."""
    full_scale = config.adc_full_scale(rows, lut.g_on_s - lut.g_min_s, lut.v_max)
    return quantize_symmetric(current, full_scale, config.adc_bits).sum(dim)


def fast_wired_sum(
    lut: CellLUT,
    config: MappingConfig,
    reduced: WiredTiles,
    u: torch.Tensor,
    n_out: int,
) -> torch.Tensor:
    """Differential current (A) of every output, (n, n_out), from signed normalized inputs ``u``
    (n, in): both phases in one read of every tile (:func:`phases`,
    :func:`differential_currents`), the ADC per tile and phase when it is on, summed over the
    tiles."""
    check_integer("n_out", n_out, low=1)
    rows, pairs = reduced.rows, reduced.cols // 2
    n, n_in = u.shape
    per_tile = config.adc_bits is not None
    part, count = phases(u)
    if n_in < reduced.t_in * rows:
        part = F.pad(part, (0, reduced.t_in * rows - n_in))
    v = part.reshape(count * n, reduced.t_in, rows)
    v = v.to(reduced.main.weights.dtype).transpose(0, 1)  # (t_in, phases n, rows), a view
    diff = differential_currents(reduced, v, summed=not per_tile)
    if per_tile:
        diff = tile_adc(lut, config, reduced.rows, diff, dim=0)
    return merge_phases(diff.view(count, n, reduced.t_out * pairs)[..., :n_out]).to(u.dtype)
