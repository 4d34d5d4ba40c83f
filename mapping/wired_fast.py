"""The wired fast path: crossbar tiles with wire resistance at the cost of a few matrix products.

The reference (:mod:`neatxbar.mapping.wired`, ``path = "exact"``) solves every tile as a circuit
for every input vector. This path reduces the circuit once per weight setting to polynomial
coefficient matrices, so that a forward pass is a handful of matrix products and some work per
column. The reduction, per physical tile of ``rows x cols`` cells:

1. **Rows, solved exactly once per weights.** Each row wire with its cells is solved with the
   column nodes held at 0 V, for row voltages V on a grid over [0, V_max]. Every row depends on
   its own input only, so this gives each cell's current h_ij(V) with its row's IR drop, and
   s_ij(V) = -dI/dV_c, the current the cell loses per volt its column node rises (V_cell and
   V_gs fall together). Both are fitted by polynomials in v = V / V_max (h without a constant
   term, so a row at 0 V adds no current; s with one, so it still loads its column).
2. **Columns, reduced to one mode.** The column node voltages are c = R I along each column, R
   the column wire's resistance matrix (r_sense + r_col (rows - 1 - max(i, k)) between rows i and
   k). With R ~ lambda phi phi^T (its leading eigenpair), c_ij ~ phi_i z_j, and the cells
   linearised in c, I_ij = h_ij(V_i) - s_ij(V_i) c_ij, the Galerkin condition
   z_j = lambda phi^T I_j gives per column

       z = lambda A / (1 + lambda B),  J = H - z S,

   with H = sum_i h_ij, A = sum_i phi_i h_ij, S = sum_i phi_i s_ij, B = sum_i phi_i^2 s_ij:
   four sums over rows of per-cell polynomials in the inputs, i.e. matrix products of the
   powers of v with coefficient matrices fixed by the weights.

What it leaves out, and what that costs (measured against the reference solver and ngspice in
``benchmarks/circuit.py``, see ``docs/emulation.md``): the column profile beyond its leading
mode, the rows' response to the raised column nodes (a row drop shrinks when its cells lose
current to the columns), and the cells' curvature in c. These are second order in the wires'
effect, which grows as r * G * rows^2.

Gradients flow to the weights (through the row solve, unrolled, and the fits) and the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neatxbar.core.checks import check_integer
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.circuit import CircuitConvergenceError, _CellTable
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.quantize import quantize_symmetric
from neatxbar.mapping.wired import _tiles
from neatxbar.spice.params import Wires

#: Polynomial degree of h(v) (powers v^1..v^H_DEGREE) and of s(v) (powers v^0..v^S_DEGREE).
H_DEGREE = 6
S_DEGREE = 4

#: Row voltages on which the rows are solved and the polynomials fitted.
FIT_POINTS = 13

#: Row-solve iterations at most, and the tolerance on the row node voltages (V).
ROW_ITERATIONS = 60
ROW_TOLERANCE_V = 1e-9

#: How far below V_gate (V) the cells' slopes are taken: inside the gate interval below it.
GATE_BELOW_V = 1e-6

#: Cells (tiles x grid points x rows x cols) solved at once in the row solve.
ROW_CHUNK_CELLS = 1 << 21


@dataclass(frozen=True)
class WiredTiles:
    """The once-per-weights reduction of a layer's physical tiles (see the module docstring).

    Attributes
    ----------
    h_weights
        (t_in, H_DEGREE * rows, 2 * t_out * cols): the coefficients of h (A) for H and of
        phi_i h for A, stacked along the last axis; row blocks are the powers v^1..v^H_DEGREE.
    s_weights
        (t_in, (S_DEGREE + 1) * rows, 2 * t_out * cols): the coefficients of phi_i s for S and
        of phi_i^2 s for B (A/V), powers v^0..v^S_DEGREE.
    lam
        The leading eigenvalue of the column resistance matrix (ohm), with phi of unit norm.
    rows, cols, t_in, t_out
        Tile size (physical cells) and the tile grid.
    """

    h_weights: torch.Tensor
    s_weights: torch.Tensor
    lam: float
    rows: int
    cols: int
    t_in: int
    t_out: int


def column_mode(rows: int, wires: Wires) -> tuple[float, torch.Tensor]:
    """(lambda, phi): the leading eigenpair of a column wire's resistance matrix (ohm), phi of
    unit norm and >= 0, float64. Row i's node sits at sum_k R_ik I_k above 0 V."""
    i = torch.arange(rows, dtype=torch.float64)
    resistance = wires.r_sense + wires.r_col * (rows - 1 - torch.maximum(i[:, None], i[None, :]))
    values, vectors = torch.linalg.eigh(resistance)
    phi = vectors[:, -1]
    return float(values[-1]), phi * torch.sign(phi.sum())


def _row_drop(currents: torch.Tensor, wires: Wires) -> torch.Tensor:
    """IR drop (V) from a row's source to each of its cells, for cell currents (..., cols) (A):
    the driver carries the whole row's current, the segment before cell j all of cells j.."""
    through = currents.flip(-1).cumsum(-1).flip(-1)  # current through the segment before cell j
    drop = wires.r_row * through[..., 1:].cumsum(-1)
    return wires.r_driver * through[..., :1] + F.pad(drop, (1, 0))


def solve_rows(
    lut: CellLUT, g: torch.Tensor, volts: torch.Tensor, v_gate: float, wires: Wires
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell currents and their column sensitivity with every column node held at 0 V.

    Parameters
    ----------
    g
        Conductances (S), (tiles, rows, cols).
    volts
        Row source voltages (V), (points,): every row of every tile driven at each in turn.

    Returns
    -------
    (h, s, p)
        Each (tiles, points, rows, cols), float64: the cell current (A), -dI/dV_c and
        dI/dV_cell (A/V).

    Raises
    ------
    CircuitConvergenceError
        The row iteration did not settle (wires far too resistive for the cells).
    """
    cells = _CellTable(lut, g.to(torch.float64).unsqueeze(1))  # (tiles, 1, rows, cols)
    source = volts.to(torch.float64).view(1, -1, 1, 1)
    gate = torch.full((), float(v_gate), dtype=torch.float64, device=g.device)
    node = source.expand(g.shape[0], -1, g.shape[1], g.shape[2])
    update = float("inf")
    for iteration in range(1, ROW_ITERATIONS + 1):
        current = cells(node, gate)[0]
        new = source - _row_drop(current, wires)
        with torch.no_grad():
            update = float((new - node).abs().max())
        node = new
        if update < ROW_TOLERANCE_V:
            break
    else:
        raise CircuitConvergenceError(ROW_ITERATIONS, update, ROW_TOLERANCE_V)
    current = cells(node, gate)[0]
    # a raised column node lowers V_gs: the slopes of the table's gate interval below V_gate
    # (V_gate sits on a grid node, where the interval above has another slope)
    _, slope_v, slope_gate = cells(node, gate - GATE_BELOW_V)
    return current, slope_v + slope_gate, slope_v


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
    tiles = _tiles(gp, gn, rows, cols // 2, lut.g_min_s)  # (t_in * t_out, rows, cols)
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
    lam, phi = column_mode(rows, wires)
    phi = phi.to(tiles.device)
    points = torch.linspace(0.0, 1.0, FIT_POINTS, dtype=torch.float64, device=tiles.device)
    step = max(1, ROW_CHUNK_CELLS // (FIT_POINTS * rows * cols))
    h_parts, s_parts = [], []
    for start in range(0, tiles.shape[0], step):
        h, s, p = solve_rows(lut, tiles[start : start + step], points * lut.v_max, v_gate, wires)
        # each column's expected mode current at mid-scale inputs: the shape of z over a tile
        typical = (phi.view(1, rows, 1) * h[:, FIT_POINTS // 2]).sum(1, keepdim=True)
        typical = typical / typical.mean(-1, keepdim=True)  # (tiles, 1, cols)
        cross = phi.view(1, 1, rows, 1) * p * _row_drop(s * typical.unsqueeze(1), wires)
        h_parts.append(_fit(h, points, range(1, H_DEGREE + 1)))
        s_parts.append(_fit(torch.stack([s, cross], dim=2), points, range(S_DEGREE + 1)))
    h_coef = torch.cat(h_parts, dim=1)  # (H_DEGREE, tiles, rows, cols)
    s_coef, x_coef = torch.cat(s_parts, dim=1).unbind(2)
    weight_phi = phi.view(1, 1, rows, 1)
    h_weights = _arrange(torch.stack([h_coef, h_coef * weight_phi]), t_in, t_out)
    s_weights = _arrange(
        torch.stack([s_coef * weight_phi, s_coef * weight_phi**2, x_coef, x_coef * weight_phi]),
        t_in,
        t_out,
    )
    return WiredTiles(h_weights.to(dtype), s_weights.to(dtype), lam, rows, cols, t_in, t_out)


def _arrange(coef: torch.Tensor, t_in: int, t_out: int) -> torch.Tensor:
    """(families, powers, t_in * t_out, rows, cols) -> (t_in, powers * rows, families * t_out *
    cols), the right operand of a batched product with the powers of each row tile's inputs."""
    families, powers, _, rows, cols = coef.shape
    coef = coef.reshape(families, powers, t_in, t_out, rows, cols)
    coef = coef.permute(2, 1, 4, 0, 3, 5)  # (t_in, powers, rows, families, t_out, cols)
    return coef.reshape(t_in, powers * rows, families * t_out * cols)


def _powers(v: torch.Tensor, powers: range) -> torch.Tensor:
    """(t_in, n, rows) -> (t_in, n, len(powers) * rows): v^p blocks, lowest power first."""
    return torch.cat([v**p if p else torch.ones_like(v) for p in powers], dim=-1)


def column_currents(reduced: WiredTiles, v: torch.Tensor) -> torch.Tensor:
    """Column currents (A) of every physical tile, (t_in, n, t_out * cols), for row voltages as
    fractions of V_max ``v`` (t_in, n, rows) in [0, 1]: one read of every tile."""
    half = reduced.t_out * reduced.cols
    h_sums = torch.bmm(_powers(v, range(1, H_DEGREE + 1)), reduced.h_weights)
    s_sums = torch.bmm(_powers(v, range(S_DEGREE + 1)), reduced.s_weights)
    total, phi_h = h_sums.split(half, dim=-1)
    phi_s, phi2_s, cross, phi_cross = s_sums.split(half, dim=-1)
    lam = reduced.lam
    shape = (*v.shape[:2], reduced.t_out, reduced.cols)  # the mean column mode of each tile
    gain = (lam / (1 + lam * phi2_s)).reshape(shape)
    alone = (gain * phi_h.reshape(shape)).mean(-1, keepdim=True)
    mean_z = alone / (1 - (gain * phi_cross.reshape(shape)).mean(-1, keepdim=True))
    z = gain * (phi_h.reshape(shape) + mean_z * phi_cross.reshape(shape))
    return total - z.flatten(-2) * phi_s + mean_z.expand(shape).flatten(-2) * cross


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
        currents = column_currents(reduced, v.transpose(0, 1).to(reduced.h_weights.dtype))
        currents = currents.reshape(reduced.t_in, n, reduced.t_out, reduced.cols)
        diff = currents[..., 0::2] - currents[..., 1::2]
        if config.adc_bits is not None:
            full_scale = rows * (lut.g_on_s - lut.g_min_s) * lut.v_max * config.adc_range
            diff = quantize_symmetric(diff, full_scale, config.adc_bits)
        total = diff.sum(dim=0).reshape(n, reduced.t_out * pairs)[:, :n_out]
        out = total if positive else out - total if out is not None else -total
    return out.to(u.dtype)
