"""Column sums of 1T-1R crossbars from the cell LUT: the exact path and the fast path.

Both compute, for conductances G (rows x cols, S), voltages V (n x rows, V) and a per-input
weight s (n x rows, usually a sign or a 0/1 phase mask),

    out[n, j] = sum_i s[n, i] * I(G[i, j], V[n, i], V_gate)

- exact: I from :meth:`CellLUT.current`, cell by cell, in chunks of bounded memory (reference);
- fast: I ~ sum_k a_k(G) b_k(V) (:mod:`neatxbar.lut.separable`), so the sum is a few matrix
  products (K, or the polynomial degree if smaller).

:class:`Crossbar` is one physical array: ``Crossbar(lut, v_gate, rows, cols).column_currents``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from neatxbar.core.checks import check_integer
from neatxbar.core.errors import ConfigError
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import SeparableCell, interval
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.variation import shifted_form


def exact_column_sum(
    lut: CellLUT,
    g: torch.Tensor,
    v: torch.Tensor,
    weight: torch.Tensor | None,
    v_gate: float,
    *,
    method: str = "linear",
    chunk_elements: int = 1 << 22,
    shift: torch.Tensor | None = None,
    squared: bool = False,
) -> torch.Tensor:
    """``sum_i weight[n, i] * I(g[i, j], v[n, i])`` cell by cell (A), shape ``(n, cols)``.

    ``g``: (rows, cols) S; ``v``: (n, rows) V; ``weight``: (n, rows) or None (all ones). The
    (chunk, rows, cols) intermediates hold at most ``chunk_elements`` cells. ``v_gate`` must be on
    the LUT's gate grid; the LUT is interpolated bilinearly on that gate's slice (``"linear"``,
    the same values as :meth:`CellLUT.current`) or with the monotone cubic in V (``"pchip"``).
    ``shift``: (rows, cols) threshold shifts (V) of the cells' transistors, interpolated linearly
    along the LUT's delvto axis (``lut.shift_table``); None: 0 V. ``squared``: sum
    ``weight * I^2`` (A^2) instead (read noise's variance).
    """
    rows, cols = g.shape
    chunk = max(1, chunk_elements // max(1, rows * cols))
    cell = None
    if method == "linear":
        cell = (
            _slice_interpolator(lut, g, v_gate)
            if shift is None
            else _shifted_interpolator(lut, g, shift, v_gate)
        )
    outputs = []
    for start in range(0, v.shape[0], chunk):
        vc = v[start : start + chunk]
        if cell is not None:
            cells = cell(vc)
        elif shift is not None:
            cells = lut.current(
                g.unsqueeze(0),
                vc.unsqueeze(-1),
                v_gate,
                method=method,
                extrapolate="clamp",
                shift=shift.unsqueeze(0),
            )
        else:
            cells = lut.current(
                g.unsqueeze(0), vc.unsqueeze(-1), v_gate, method=method, extrapolate="clamp"
            )
        if squared:
            cells = cells * cells
        if weight is not None:
            cells = cells * weight[start : start + chunk].unsqueeze(-1)
        outputs.append(cells.sum(dim=1))
    if not outputs:
        return v.new_zeros((0, cols))
    return torch.cat(outputs)


def _slice_interpolator(
    lut: CellLUT, g: torch.Tensor, v_gate: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Bilinear I(G, V) on the gate slice, with the conductance side located once.

    Returns a function of voltages (n, rows) giving cell currents (n, rows, cols).
    """
    table = lut.gate_slice(v_gate).to(dtype=g.dtype, device=g.device)
    g_grid = lut.g_grid.to(dtype=g.dtype, device=g.device)
    v_grid = lut.v_grid.to(dtype=g.dtype, device=g.device)
    n_v = v_grid.numel()
    flat = table.reshape(-1)
    ig, tg = interval(g_grid, g)
    base = ig * n_v  # (rows, cols)

    def cells(v: torch.Tensor) -> torch.Tensor:
        iv, tv = interval(v_grid, v)  # (n, rows)
        index = base.unsqueeze(0) + iv.unsqueeze(-1)
        tv = tv.unsqueeze(-1)
        low = torch.lerp(flat[index], flat[index + 1], tv)
        high = torch.lerp(flat[index + n_v], flat[index + n_v + 1], tv)
        return torch.lerp(low, high, tg.unsqueeze(0))

    return cells


def _shifted_interpolator(
    lut: CellLUT, g: torch.Tensor, shift: torch.Tensor, v_gate: float
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Trilinear I(delta, G, V) on the gate slice of ``lut.shift_table``, with the conductance
    and shift sides located once (the values of ``lut.current(..., shift=)`` on the gate grid).

    Returns a function of voltages (n, rows) giving cell currents (n, rows, cols).
    """
    like = dict(dtype=g.dtype, device=g.device)
    table = lut.shift_table[..., lut.gate_index(v_gate)].to(**like)  # (n_d, n_g, n_v)
    g_grid, v_grid = lut.g_grid.to(**like), lut.v_grid.to(**like)
    d_grid = lut.shift_grid.to(**like)
    n_g, n_v = g_grid.numel(), v_grid.numel()
    flat = table.reshape(-1)
    ig, tg = interval(g_grid, g)
    i_d, t_d = interval(d_grid, shift.detach())
    base = (i_d * n_g + ig) * n_v  # (rows, cols)
    corners = ((base, (1 - t_d) * (1 - tg)), (base + n_v, (1 - t_d) * tg))
    corners += ((base + n_g * n_v, t_d * (1 - tg)), (base + (n_g + 1) * n_v, t_d * tg))

    def cells(v: torch.Tensor) -> torch.Tensor:
        iv, tv = interval(v_grid, v)  # (n, rows)
        tv = tv.unsqueeze(-1)
        total = None
        for corner, share in corners:
            index = corner.unsqueeze(0) + iv.unsqueeze(-1)
            value = share.unsqueeze(0) * torch.lerp(flat[index], flat[index + 1], tv)
            total = value if total is None else total + value
        return total

    return cells


def fast_column_sum(
    form: SeparableCell, w: torch.Tensor, u: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """``sum_j (terms_j(u) * mask) @ w[j]`` (A), shape ``(n, cols)``: the fast path.

    ``w``: (n_terms, rows, cols) from :meth:`SeparableCell.weights`; ``u``: (n, rows) signed
    normalized inputs sign * V / V_max; ``mask``: (n, rows) or None.
    """
    out = None
    for term, matrix in zip(form.terms(u), w, strict=True):
        if mask is not None:
            term = term * mask
        if out is None:
            out = term @ matrix
        elif torch.is_grad_enabled():
            out = out + term @ matrix
        else:
            out.addmm_(term, matrix)  # accumulate in place: no temporary product
    return out


class Crossbar:
    """One ``rows x cols`` 1T-1R crossbar at a gate voltage, emulated from the LUT.

    Parameters
    ----------
    lut
        The cell LUT.
    v_gate
        Gate voltage of every cell (V); must be on the LUT's gate grid.
    rows, cols
        The array's size.
    path
        ``"fast"`` (default) or ``"exact"``.
    error_budget
        Fast path: cell error budget, a fraction of G_ON * V_max.
    method
        Exact path: ``"linear"`` or ``"pchip"``.

    Notes
    -----
    Modelled: each cell's current from the LUT at its own (G, V_in), summed per column into
    columns held at 0 V. Not modelled here: wire resistance (IR drop), sneak paths through
    non-ideal virtual grounds, device variation and noise (the crossbar layers model variation,
    faults, read noise and mismatch: :class:`~neatxbar.mapping.config.Variation`).
    """

    def __init__(
        self,
        lut: CellLUT,
        v_gate: float = 1.0,
        rows: int = 64,
        cols: int = 64,
        *,
        path: str = "fast",
        error_budget: float = 1e-3,
        method: str = "linear",
    ) -> None:
        if path not in ("fast", "exact"):
            raise ConfigError(f"path must be 'fast' or 'exact', got {path!r}")
        rows, cols = check_integer("rows", rows, low=1), check_integer("cols", cols, low=1)
        lut.gate_index(v_gate)
        self.lut, self.v_gate, self.rows, self.cols = lut, float(v_gate), rows, cols
        self.path, self.error_budget, self.method = path, error_budget, method

    @property
    def form(self) -> SeparableCell:
        """The separable form the fast path uses (its ``rank`` is the K it chose)."""
        return self.lut.separable(self.v_gate, self.error_budget)

    def column_currents(
        self, g: torch.Tensor, v: torch.Tensor, shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Column currents in A for conductances ``g`` (rows, cols) in S and voltages ``v``
        (..., rows) in V; shape (..., cols). Differentiable in ``g`` and ``v``.

        ``shift``: each cell's transistor threshold shift (V, ngspice's ``delvto``), shape
        (rows, cols), along the LUT's delvto axis (the fast path through the separable form over
        (delvto, G) x V); None: no shift.

        Raises
        ------
        MappingError
            Shapes that do not fit the array.
        LUTError
            Conductances or voltages outside the LUT's range.
        """
        g, v = torch.as_tensor(g), torch.as_tensor(v)
        if g.shape != (self.rows, self.cols):
            raise MappingError(
                f"g must have shape ({self.rows}, {self.cols}), got {tuple(g.shape)}"
            )
        if v.shape[-1:] != (self.rows,):
            raise MappingError(f"v must have shape (..., {self.rows}), got {tuple(v.shape)}")
        dtype = torch.promote_types(g.dtype, v.dtype) if v.is_floating_point() else g.dtype
        g, v = g.to(dtype), v.to(dtype=dtype, device=g.device)
        lut = self.lut
        lut.check_range(g=g, v_in=v)
        flat = v.reshape(-1, self.rows)
        if shift is not None:
            shift = torch.as_tensor(shift).to(dtype=dtype, device=g.device)
            if shift.shape != g.shape:
                raise MappingError(f"shift must have the shape of g, got {tuple(shift.shape)}")
        if self.path == "exact":
            out = exact_column_sum(lut, g, flat, None, self.v_gate, method=self.method, shift=shift)
        elif shift is None:
            form = self.form.to(dtype, g.device)
            out = fast_column_sum(form, form.weights(form.a(g)), flat / form.v_max, None)
        else:
            form = shifted_form(lut, self.v_gate, self.error_budget).to(dtype, g.device)
            weights = form.weights(form.a(g, shift))
            out = fast_column_sum(form, weights, flat / form.v_max, None)
        return out.reshape(*v.shape[:-1], self.cols)
