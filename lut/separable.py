"""The fast separable form of a cell table at one gate voltage: I(G, V) ~ sum_k a_k(G) b_k(V).

At a fixed V_gate the table I(G, V) is close to low rank. Its SVD gives a_k on the conductance
grid (interpolated linearly in G, exactly as the trilinear LUT does) and b_k on the V_in grid,
which is fitted by a polynomial in v = V / V_max without a constant term, so b_k(0) = 0 (zero
input, zero current: zero padding stays zero). A column sum then costs K matrix products instead
of a (batch, rows, cols) tensor of interpolations.

The rank K and the degree are the smallest that keep the largest error against the LUT's own
(piecewise-linear) table, on the grid and at the V_in midpoints, within ``budget`` as a fraction
of the full-scale cell current G_ON * V_max. Summed over a column, the error stays within the
same fraction of the column's full scale. When no polynomial of degree <= MAX_DEGREE meets the
budget, b_k is interpolated linearly on the V_in grid instead (exact, slower).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from neatxbar.core.checks import check_number
from neatxbar.core.errors import ConfigError
from neatxbar.lut.errors import LUTError

MAX_RANK = 8
MAX_DEGREE = 10


@dataclass(frozen=True)
class SeparableCell:
    """I(G, V) ~ sum_k a_k(G) b_k(V) at one gate voltage.

    Attributes
    ----------
    v_gate
        The gate voltage (V).
    rank
        K, the number of terms.
    degree
        Degree of the polynomials b_k, or None when b_k is interpolated on the V_in grid.
    error
        Largest error against the LUT (grid and V_in midpoints), a fraction of G_ON * V_max.
    g_grid, a_table
        Conductance grid (S) and a_k on it, shape ``(n_g, K)`` (A).
    v_grid, b_table
        V_in grid (V) and b_k on it, shape ``(K, n_v)`` (dimensionless).
    b_coef
        Polynomial coefficients of b_k in v = V / V_max, shape ``(K, degree)``, lowest power
        (v^1) first; empty when ``degree`` is None.
    """

    v_gate: float
    rank: int
    degree: int | None
    error: float
    g_grid: torch.Tensor
    a_table: torch.Tensor
    v_grid: torch.Tensor
    b_table: torch.Tensor
    b_coef: torch.Tensor

    @property
    def v_max(self) -> float:
        return float(self.v_grid[-1])

    @property
    def _power_basis(self) -> bool:
        """Terms are the powers u |u|^(p-1) (degree <= K) rather than the K functions b_k."""
        return self.degree is not None and self.degree <= self.rank

    @property
    def n_terms(self) -> int:
        """Matrix products per column sum: min(K, degree) (see :meth:`terms`)."""
        return self.rank if self.degree is None else min(self.rank, self.degree)

    def to(self, dtype: torch.dtype, device: torch.device | str) -> SeparableCell:
        """This form with its tensors in ``dtype`` on ``device``."""
        move = {
            name: getattr(self, name).to(dtype=dtype, device=device)
            for name in ("g_grid", "a_table", "v_grid", "b_table", "b_coef")
        }
        return SeparableCell(self.v_gate, self.rank, self.degree, self.error, **move)

    def a(self, g: torch.Tensor) -> torch.Tensor:
        """a_k(G) for conductances ``g`` (S), shape ``(K, *g.shape)``; G clamped to the grid."""
        i, t = interval(self.g_grid, g)
        lo, hi = self.a_table[i], self.a_table[i + 1]  # (*g.shape, K)
        return torch.movedim(lo + t.unsqueeze(-1) * (hi - lo), -1, 0)

    def weights(self, a: torch.Tensor) -> torch.Tensor:
        """The matrices that :meth:`terms` multiply: from a_k(G) (or a difference of two for a
        differential pair), shape ``(K, ...)``, to shape ``(n_terms, ...)``.

        With polynomial b_k of degree d <= K, sum_k b_k(v) a_k = sum_p v^p (sum_k c_kp a_k):
        d products instead of K, and the input side's first term is u itself (no copy).
        """
        if not self._power_basis:
            return a
        return torch.einsum("kp,k...->p...", self.b_coef, a)

    def terms(self, u: torch.Tensor) -> Iterator[torch.Tensor]:
        """The input side for signed normalized inputs u = sign(x) V / V_max in [-1, 1].

        Each term is odd in u (the negative phase of a two-phase input is the mirror image), so
        ``sum(term @ w for term, w in zip(terms(u), weights(a)))`` is
        ``sum_i sign(u_i) I(G_i, |u_i| V_max)`` for the conductances behind ``a``. The terms are
        made one at a time, so a caller that consumes them in turn holds at most two.
        """
        if self.degree is None:
            magnitude = u.abs() * self.v_max
            for k in range(self.rank):
                yield torch.sign(u) * _interp_1d(self.v_grid, self.b_table[k], magnitude)
        elif not self._power_basis:
            for k in range(self.rank):
                yield self._odd_poly(self.b_coef[k], u)
        else:
            yield u
            if self.degree > 1:
                magnitude = u.abs()
                power = u
                for p in range(2, self.degree + 1):
                    last = p == self.degree and not torch.is_grad_enabled()
                    # the last power can take over |u|'s memory when no gradient needs it
                    power = magnitude.mul_(power) if last else power * magnitude
                    yield power

    def pair_table(self, g_min: float, g_max: float) -> PairTable:
        """The matrices of :meth:`weights` for a differential pair, as a function of the signed
        programmed fraction s in [-1, 1] (see :class:`PairTable`).

        Parameters
        ----------
        g_min, g_max
            Conductances (S) of s = 0 and of |s| = 1: G+ = g_min + max(s, 0) (g_max - g_min),
            G- = g_min + max(-s, 0) (g_max - g_min).
        """
        form = self.to(torch.float64, "cpu")
        inner = (form.g_grid - g_min) / (g_max - g_min)
        inside = (inner > 0) & (inner < 1)
        s = torch.cat([inner.new_zeros(1), inner[inside], inner.new_ones(1)])
        h = form.weights(form.a(g_min + (g_max - g_min) * s))  # (n_terms, m + 1) at |s| = s
        slope = torch.diff(h, dim=1) / torch.diff(s)  # (n_terms, m) per unit s
        intercept = h[:, :-1] - h[:, :1] - s[:-1] * slope  # W(s) = intercept + s slope, s >= 0
        return PairTable(
            g_grid=form.g_grid,
            g_min=float(g_min),
            g_max=float(g_max),
            offset=int(interval_index(form.g_grid, form.g_grid.new_tensor(g_min))),
            intercept=torch.cat([-intercept.flip(1), intercept], dim=1).contiguous(),
            slope=torch.cat([slope.flip(1), slope], dim=1).contiguous(),
        )

    @staticmethod
    def _odd_poly(coef: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """u * (c_1 + c_2 |u| + ... + c_d |u|^(d-1)): the odd extension of sum_p c_p v^p."""
        if coef.numel() == 1:
            return coef[0] * u
        magnitude = u.abs()
        inner = coef[-1] * magnitude
        for c in coef.flip(0)[1:-1]:
            inner = (inner + c) * magnitude
        return (inner + coef[0]) * u


@dataclass(frozen=True)
class PairTable:
    """The weight-side matrices of a differential pair as a piecewise-linear function of the
    signed programmed fraction s = q(f+) - q(f-) in [-1, 1] (q: conductance quantization).

    With G+ = G_min + max(s, 0) dG and G- = G_min + max(-s, 0) dG, every a_k is linear in G
    between the LUT's conductance grid points, so W_p(s) = sum_k c_kp (a_k(G+) - a_k(G-)) is
    exactly linear in s between those points mapped to s (both signs): one interval lookup and
    one multiply-add per term and weight, instead of two lookups of K values and a change of
    basis. On interval j, W_p(s) = ``intercept[p, j] + s * slope[p, j]``.

    The interval of |s| is found on the conductance grid, at G = g_min + |s| (g_max - g_min),
    with the very arithmetic of :meth:`SeparableCell.a`: at a breakpoint (a quantized level can
    be one) both pick the same interval, so gradients agree too.

    Attributes
    ----------
    g_grid
        The LUT's conductance grid (S).
    g_min, g_max
        The conductances of s = 0 and |s| = 1 (S).
    offset
        The conductance-grid interval of g_min (that of |s| = 0).
    intercept, slope
        Per term and signed interval (the m intervals of s <= 0, from -1 up, then the m of
        s >= 0), shape ``(n_terms, 2 m)``; A (intercept) and A per unit s (slope).
    """

    g_grid: torch.Tensor
    g_min: float
    g_max: float
    offset: int
    intercept: torch.Tensor
    slope: torch.Tensor

    def to(self, dtype: torch.dtype, device: torch.device | str) -> PairTable:
        """This table with its tensors in ``dtype`` on ``device``."""
        g_grid, intercept, slope = (
            t.to(dtype=dtype, device=device) for t in (self.g_grid, self.intercept, self.slope)
        )
        return PairTable(g_grid, self.g_min, self.g_max, self.offset, intercept, slope)

    def __call__(self, s: torch.Tensor) -> torch.Tensor:
        """W_p(s) for signed fractions ``s`` (dimensionless, in [-1, 1]), shape
        ``(n_terms, *s.shape)`` (contiguous), differentiable in ``s``.

        Equal to :meth:`SeparableCell.weights` of ``a(G+) - a(G-)`` up to rounding, its gradient
        included: at a breakpoint both use the interval of the larger |s| (at s = 0, that of
        s > 0).
        """
        m, n = self.slope.shape[1] // 2, self.g_grid.numel()
        x = s.detach()
        j = x.abs().mul_(self.g_max - self.g_min).add_(self.g_min)  # G (S), as SeparableCell.a
        step = uniform_step(self.g_grid)
        if step is not None and self.offset == 0 and m == n - 1:  # as interval_index, in float
            j = j.sub_(self.g_grid[0]).div_(step).floor_().clamp_(0, n - 2)
        else:
            j = (interval_index(self.g_grid, j) - self.offset).clamp(0, m - 1).to(x.dtype)
        # the signed interval: m + j for s >= 0, m - 1 - j for s < 0 (float arithmetic, exact)
        index = torch.copysign(j.add_(0.5), x).add_(m - 0.5).long()
        return _PairLookup.apply(s, index, self.intercept, self.slope)


class _PairLookup(torch.autograd.Function):
    """``out[p] = intercept[p, index] + s * slope[p, index]``, differentiable in ``s``."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        s: torch.Tensor,
        index: torch.Tensor,
        intercept: torch.Tensor,
        slope: torch.Tensor,
    ) -> torch.Tensor:
        out = s.new_empty((intercept.shape[0], *s.shape))
        flat = index.reshape(-1)
        for p in range(intercept.shape[0]):
            torch.index_select(intercept[p], 0, flat, out=out[p].view(-1))
            out[p].addcmul_(s, slope[p].index_select(0, flat).view(s.shape))
        ctx.save_for_backward(index, slope)
        return out

    @staticmethod
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, None, None, None]:
        index, slope = ctx.saved_tensors
        flat = index.reshape(-1)
        grad_s = grad[0] * slope[0].index_select(0, flat).view(index.shape)
        for p in range(1, slope.shape[0]):
            grad_s.addcmul_(grad[p], slope[p].index_select(0, flat).view(index.shape))
        return grad_s, None, None, None


def interval(
    grid: torch.Tensor, x: torch.Tensor, *, clamp: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The toolkit's one grid-interval lookup: interval index i and fraction t of ``x`` on a
    strictly increasing 1-D ``grid``, so that ``x = grid[i] + t * (grid[i + 1] - grid[i])``.

    A constant-step grid is located arithmetically (no search), any other by binary search.
    The index is always a valid interval (``0 <= i <= n - 2``); ``t`` is differentiable in ``x``.

    Parameters
    ----------
    grid
        The grid (any units), strictly increasing, at least 2 points.
    x
        The points to locate, same units and dtype as ``grid``.
    clamp
        True (default): ``x`` is clamped to the grid first, so ``t`` is in [0, 1]. False: ``t``
        is left unclamped outside the grid (below 0 or above 1 in the first or last interval),
        for linear extrapolation.
    """
    if clamp:
        x = x.clamp(grid[0], grid[-1])
    i = interval_index(grid, x.detach())
    return i, (x - grid[i]) / (grid[i + 1] - grid[i])


def interval_index(grid: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The interval index of :func:`interval` alone: ``0 <= i <= n - 2`` with
    ``grid[i] <= x < grid[i + 1]`` inside the grid (the last interval holds ``grid[-1]``).

    Parameters
    ----------
    grid
        The grid (any units), strictly increasing, at least 2 points.
    x
        The points to locate (not differentiated), same units and dtype as ``grid``.
    """
    n = grid.numel()
    step = uniform_step(grid)
    if step is not None:
        return torch.floor((x - grid[0]) / step).long().clamp(0, n - 2)
    return (torch.searchsorted(grid, x.contiguous(), right=True) - 1).clamp(0, n - 2)


def uniform_step(grid: torch.Tensor) -> torch.Tensor | None:
    """The step of a constant-step ``grid`` (0-d tensor, the grid's units and dtype), or None
    when the steps differ (beyond the grid's own precision)."""
    n = grid.numel()
    step = (grid[-1] - grid[0]) / (n - 1)
    # Uniform within the grid's own precision (float32 copies of a float64 grid included).
    # A point located one interval off by rounding gets t slightly outside [0, 1]: the linear
    # interpolation on that interval is still exact there.
    tolerance = 64 * torch.finfo(grid.dtype).eps * float(grid.abs().max()) + 1e-9 * float(step)
    uniform = torch.allclose(
        grid,
        grid[0] + step * torch.arange(n, dtype=grid.dtype, device=grid.device),
        rtol=0,
        atol=tolerance,
    )
    return step if uniform else None


def _interp_1d(grid: torch.Tensor, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    i, t = interval(grid, x)
    return values[i] + t * (values[i + 1] - values[i])


def _with_midpoints(table: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The table and V grid with the V midpoints added (piecewise-linear values there)."""
    v_all = np.sort(np.concatenate([v, (v[1:] + v[:-1]) / 2]))
    t_all = np.stack([np.interp(v_all, v, row) for row in table])
    return t_all, v_all


def _poly_fit(b: np.ndarray, v_norm: np.ndarray, degree: int, v_eval: np.ndarray) -> tuple:
    powers = np.stack([v_norm**p for p in range(1, degree + 1)], axis=1)
    coef = np.linalg.lstsq(powers, b.T, rcond=None)[0].T  # (K, degree)
    at = np.stack([v_eval**p for p in range(1, degree + 1)], axis=1)
    return coef, coef @ at.T  # (K, degree), (K, n_eval)


def fit_separable(
    table: np.ndarray,
    g_grid: np.ndarray,
    v_grid: np.ndarray,
    v_gate: float,
    budget: float = 1e-3,
) -> SeparableCell:
    """Fit the separable form of one V_gate slice ``table`` (A, shape ``(n_g, n_v)``).

    Parameters
    ----------
    budget
        Largest error allowed, a fraction of G_ON * V_max (default 0.1 %).
    """
    if not 0 < check_number("budget", budget) < 1:
        raise ConfigError(f"budget must be a fraction in (0, 1), got {budget}")
    v_gate = check_number("V_gate (V)", v_gate, error=LUTError)
    rank, degree, error, coef, a, b = _fit_rows(table, v_grid, g_grid[-1] * v_grid[-1], budget)
    as_tensor = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)  # noqa: E731
    return SeparableCell(
        v_gate=float(v_gate),
        rank=rank,
        degree=degree,
        error=float(error),
        g_grid=as_tensor(g_grid),
        a_table=as_tensor(a),
        v_grid=as_tensor(v_grid),
        b_table=as_tensor(b),
        b_coef=as_tensor(coef),
    )


def _fit_rows(
    table: np.ndarray, v_grid: np.ndarray, full_scale: float, budget: float
) -> tuple[int, int | None, float, np.ndarray, np.ndarray, np.ndarray]:
    """The separable fit of the rows of ``table`` (A, shape ``(rows, n_v)``): the smallest rank,
    then the smallest degree, within ``budget`` x ``full_scale`` (A) on the grid and at the V_in
    midpoints. Returns (rank, degree or None, error as a fraction, b_coef, a (rows, K), b (K, n_v)).
    """
    u, s, vt = np.linalg.svd(table, full_matrices=False)
    truth, v_all = _with_midpoints(table, v_grid)
    v_norm, v_all_norm = v_grid / v_grid[-1], v_all / v_grid[-1]
    choice = None
    for rank in range(1, min(MAX_RANK, s.size) + 1):
        a = u[:, :rank] * s[:rank]
        b = vt[:rank]
        exact_b = np.stack([np.interp(v_all, v_grid, row) for row in b])
        if np.abs(a @ exact_b - truth).max() / full_scale > budget:
            continue
        for degree in range(1, MAX_DEGREE + 1):
            coef, b_fit = _poly_fit(b, v_norm, degree, v_all_norm)
            error = np.abs(a @ b_fit - truth).max() / full_scale
            if error <= budget:
                choice = (rank, degree, error, coef)
                break
        if choice is None:
            error = np.abs(a @ exact_b - truth).max() / full_scale
            choice = (rank, None, error, np.zeros((rank, 0)))
        break
    if choice is None:
        rank = min(MAX_RANK, s.size)
        a, b = u[:, :rank] * s[:rank], vt[:rank]
        exact_b = np.stack([np.interp(v_all, v_grid, row) for row in b])
        choice = (rank, None, np.abs(a @ exact_b - truth).max() / full_scale, np.zeros((rank, 0)))
    rank, degree, error, coef = choice
    return rank, degree, float(error), coef, u[:, :rank] * s[:rank], vt[:rank]


@dataclass(frozen=True)
class ShiftedSeparableCell(SeparableCell):
    """I(G, V, delta) ~ sum_k a_k(G, delta) b_k(V) at one gate voltage, with delta the access
    transistor's threshold shift (ngspice's ``delvto``, V).

    One SVD over the stacked table (delta, G) x V: the b_k (and so :meth:`terms` and the power
    basis of :meth:`weights`) are shared by every shift, and a_k(G, delta) is interpolated
    bilinearly on the (delvto, conductance) grid, exactly as the LUT interpolates those axes. The
    column sum of a chip whose cells have shifts then costs the same products as without them;
    only the weight side (once per chip) changes.

    Attributes
    ----------
    shift_grid
        The delvto grid (V), strictly increasing, holding 0 V.
    shift_a_table
        a_k on the (delvto, conductance) grid, shape ``(n_d, n_g, K)`` (A). ``a_table`` (the
        parent's) is its slice at delvto = 0, so :meth:`a` without shifts is the unshifted cell.
    """

    shift_grid: torch.Tensor
    shift_a_table: torch.Tensor

    def to(self, dtype: torch.dtype, device: torch.device | str) -> ShiftedSeparableCell:
        """This form with its tensors in ``dtype`` on ``device``."""
        names = ("g_grid", "a_table", "v_grid", "b_table", "b_coef", "shift_grid", "shift_a_table")
        move = {name: getattr(self, name).to(dtype=dtype, device=device) for name in names}
        return ShiftedSeparableCell(self.v_gate, self.rank, self.degree, self.error, **move)

    def a(self, g: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """a_k(G, delta) for conductances ``g`` (S) and threshold shifts ``shift`` (V, same
        shape, or None for 0 V), shape ``(K, *g.shape)``; both clamped to their grids.
        Differentiable in ``g``."""
        if shift is None:
            return super().a(g)
        ig, tg = interval(self.g_grid, g)
        i_d, t_d = interval(self.shift_grid, shift.detach())
        n_g = self.g_grid.numel()
        corner = i_d * n_g + ig  # (delta, G) corner below, in the flattened grid
        del i_d, ig
        out = []
        for column in self.shift_a_table.reshape(-1, self.rank).t():  # a_k on the flat grid
            column = column.contiguous()
            low = torch.lerp(column.take(corner), column.take(corner + 1), tg)
            high = torch.lerp(column.take(corner + n_g), column.take(corner + n_g + 1), tg)
            out.append(low + t_d * (high - low))
        return torch.stack(out)


def fit_separable_shifted(
    shift_table: np.ndarray,
    shift_grid: np.ndarray,
    g_grid: np.ndarray,
    v_grid: np.ndarray,
    v_gate: float,
    budget: float = 1e-3,
) -> ShiftedSeparableCell:
    """Fit the separable form of one V_gate slice with a threshold-shift axis.

    The rules are those of :func:`fit_separable` applied to the stacked table: the smallest rank
    K, then the smallest polynomial degree, whose largest error against the LUT's
    piecewise-linear table, at every (delvto, G) grid point, on the V_in grid and at its
    midpoints, stays within ``budget`` x G_ON x V_max. Between (delvto, G) grid points both the
    LUT and a_k are bilinear, so the error there is bounded by the corners'.

    Parameters
    ----------
    shift_table
        Cell currents (A), shape ``(n_d, n_g, n_v)``.
    shift_grid
        The delvto grid (V), strictly increasing, at least 2 points, holding 0 V (within 1e-12 V).
    g_grid, v_grid
        The conductance (S) and V_in (V) grids.
    v_gate
        The gate voltage of the slice (V).
    budget
        Largest error allowed, a fraction of G_ON * V_max (default 0.1 %).

    Raises
    ------
    LUTError
        A shift grid that is not one (too short, not increasing, without 0 V) or a table that
        does not fit the grids.
    """
    if not 0 < check_number("budget", budget) < 1:
        raise ConfigError(f"budget must be a fraction in (0, 1), got {budget}")
    v_gate = check_number("V_gate (V)", v_gate, error=LUTError)
    shift_grid = np.asarray(shift_grid, dtype=np.float64)
    if shift_grid.ndim != 1 or shift_grid.size < 2 or not np.all(np.diff(shift_grid) > 0):
        raise LUTError("the delvto grid must be strictly increasing with at least 2 points")
    zero = int(np.argmin(np.abs(shift_grid)))
    if abs(shift_grid[zero]) > 1e-12:
        raise LUTError("the delvto grid must hold 0 V")
    n_d, n_g, n_v = np.shape(shift_table)
    if (n_d, n_g, n_v) != (shift_grid.size, np.size(g_grid), np.size(v_grid)):
        raise LUTError(f"shift table shape {np.shape(shift_table)} does not match the grids")
    stacked = np.asarray(shift_table, dtype=np.float64).reshape(n_d * n_g, n_v)
    full_scale = g_grid[-1] * v_grid[-1]
    rank, degree, error, coef, a, b = _fit_rows(stacked, v_grid, full_scale, budget)
    shifted = a.reshape(n_d, n_g, rank)
    as_tensor = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)  # noqa: E731
    return ShiftedSeparableCell(
        v_gate=float(v_gate),
        rank=rank,
        degree=degree,
        error=float(error),
        g_grid=as_tensor(g_grid),
        a_table=as_tensor(shifted[zero]),
        v_grid=as_tensor(v_grid),
        b_table=as_tensor(b),
        b_coef=as_tensor(coef),
        shift_grid=as_tensor(shift_grid),
        shift_a_table=as_tensor(shifted),
    )
