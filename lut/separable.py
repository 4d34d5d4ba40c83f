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
    n = grid.numel()
    step = (grid[-1] - grid[0]) / (n - 1)
    if torch.allclose(
        grid,
        grid[0] + step * torch.arange(n, dtype=grid.dtype, device=grid.device),
        rtol=0,
        atol=1e-9 * float(step),
    ):
        i = torch.floor((x.detach() - grid[0]) / step).long().clamp(0, n - 2)
    else:
        i = (torch.searchsorted(grid, x.detach().contiguous(), right=True) - 1).clamp(0, n - 2)
    return i, (x - grid[i]) / (grid[i + 1] - grid[i])


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
    full_scale = g_grid[-1] * v_grid[-1]
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
    as_tensor = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float64)  # noqa: E731
    return SeparableCell(
        v_gate=float(v_gate),
        rank=rank,
        degree=degree,
        error=float(error),
        g_grid=as_tensor(g_grid),
        a_table=as_tensor(u[:, :rank] * s[:rank]),
        v_grid=as_tensor(v_grid),
        b_table=as_tensor(vt[:rank]),
        b_coef=as_tensor(coef),
    )
