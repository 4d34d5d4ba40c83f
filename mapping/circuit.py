"""A 1T-1R crossbar with wire resistance, solved as a circuit with the cell current from the LUT.

Topology (the same as :func:`neatxbar.spice.render.render_crossbar`): row i is driven at its
left end by a source ``V_in[i]`` through ``r_driver``; neighbouring cells of a row are joined by
``r_row``, neighbouring cells of a column by ``r_col``; each column ends at its last row in
``r_sense`` and a 0 V ammeter. Cell (i, j) joins row node ``r(i, j)`` and column node
``c(i, j)`` and carries

    I = f(G_ij, V_cell = V_r - V_c, V_gs = V_gate - V_c)

where f is the LUT, characterized with the transistor's source (and bulk, tied to it) at 0 V.
The cell depends only on voltage differences, so the LUT serves at every node.

Two approximations extend the LUT beyond what it holds:

- V_gate below the gate grid: a raised column node lowers V_gs below V_gate, and the gate grid
  often starts exactly at the layer's V_gate (e.g. 0.70 V). There the table is extrapolated
  linearly along V_gate from its first two slices (it is clamped above the grid, and along G and
  V_in). The shortfall is the column's IR drop: a few mV for 16 x 16 arrays with 5-ohm segments,
  up to tens of mV at 64 x 64 with 2.5-ohm segments. Linear extrapolation of a transistor that
  sits near its threshold is the larger of the two errors; see the measurements below.
- Negative V_cell (a row at 0 V next to a column raised by the IR drop): the odd extension
  f(G, -v, V_gs) = -f(G, v, V_gs), i.e. the cell treated as symmetric with the gate referred to
  the column node. |V_cell| is at most the column's IR drop there, so these currents are small
  (G * mV) and the asymmetry of the real device (source and drain swap) is a fraction of that.

Method: nonlinear block Gauss-Seidel. One iteration solves every row wire (tridiagonal along the
columns, with the column voltages fixed and the cells linearised at the current point: one
Newton step of that subsystem) and then every column wire (tridiagonal along the rows, row
voltages fixed), each with a Thomas algorithm vectorised over tiles, input vectors and wires.
It converges quickly when each wire's conductance dominates the cells it feeds (G * r * n << 1)
and stops when the largest node-voltage update is below ``tolerance_v``.

Zero resistances: a 0-ohm driver fixes a row's first node at V_in, a 0-ohm sense resistor fixes
a column's last node at 0 V; a 0-ohm segment inside a wire becomes :data:`LARGE_CONDUCTANCE_S`
(1e6 S, i.e. 1 micro-ohm: with column currents of about a mA it adds under 1e-7 V per wire).

Gradients: the iteration runs without autograd to convergence, then :data:`UNROLLED_ITERATIONS`
more iterations run with autograd from the converged point. The gradients are those of these
few Gauss-Seidel steps at the solution; they approach the implicit-function gradient as
rho ** k, with rho the iteration's contraction factor (about G * r * n, small for real wires).

Measured against ngspice (paper LUT and transistor, G uniform in the LUT range, V_in uniform in
[0, 0.5] V, 0-ohm driver and sense): at V_gate 1.0 V the largest column-current error is
3e-5 (16 x 16, 5-ohm segments) and 1e-4 (64 x 64, 2.5-ohm segments; the per-cell path without
wires is off by 16 %). At V_gate 0.7 V, the bottom of the paper's gate grid, it is 0.6 % and
2.9 %: the cells near threshold see V_gs up to 20 mV below the grid, and the 50 mV gate grid is
too coarse there for linear inter- and extrapolation. A LUT with its gate grid extended to 0.60 V
brings this to 0.9 % at 64 x 64, one with a 10 mV gate grid to 0.07 %.

Computation is in float64 (a 1e-9 V tolerance is below float32's resolution); the results are
cast back to the inputs' floating dtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from neatxbar.core.checks import check_integer, check_number
from neatxbar.core.errors import ConfigError
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import interval
from neatxbar.mapping.errors import MappingError
from neatxbar.spice.params import Wires

#: Conductance (S) that stands in for a 0-ohm segment inside a row or column wire.
LARGE_CONDUCTANCE_S = 1e6

#: Gauss-Seidel iterations run with autograd after convergence (see the module docstring).
UNROLLED_ITERATIONS = 3


@dataclass(frozen=True)
class CircuitConfig:
    """Wire resistances and solver settings of :func:`solve`.

    Parameters
    ----------
    wires
        The wire resistances in ohm (:class:`~neatxbar.spice.params.Wires`, the same type the
        crossbar netlists and ``MappingConfig.wires`` take): ``r_row`` / ``r_col`` one row /
        column segment between neighbouring cells, ``r_driver`` a row's source to its first
        cell, ``r_sense`` a column's last cell to its 0 V sense node; all >= 0.
    tolerance_v
        Convergence: the largest node-voltage update of an iteration (V, > 0).
    max_iterations
        Iterations before :class:`CircuitConvergenceError` (>= 1).
    """

    wires: Wires = field(default_factory=Wires)
    tolerance_v: float = 1e-9
    max_iterations: int = 200

    def validate(self) -> CircuitConfig:
        """Raise ConfigError naming the first field that is out of range; return self."""
        if not isinstance(self.wires, Wires):
            raise ConfigError(
                f"wires must be a neatxbar.spice.params.Wires, got {type(self.wires).__name__}"
            )
        self.wires.validate()
        check_number("tolerance_v", self.tolerance_v, positive=True)
        check_integer("max_iterations", self.max_iterations, low=1)
        return self


class CircuitConvergenceError(MappingError, RuntimeError):
    """The Gauss-Seidel iteration of :func:`solve` did not converge (or produced NaN).

    A toolkit error (the wire resistances a user chose are too large for the cells): a
    :class:`~neatxbar.mapping.errors.MappingError`, and a RuntimeError as before.
    """

    def __init__(self, iterations: int, update: float, tolerance_v: float) -> None:
        self.iterations, self.update, self.tolerance_v = iterations, update, tolerance_v
        super().__init__(
            f"crossbar circuit solve did not converge in {iterations} iteration(s): the largest "
            f"node-voltage update is {update:.3g} V, tolerance {tolerance_v:.3g} V. The wire "
            "resistances are probably too large for the cell conductances (the iteration "
            "converges when G * r * n << 1); use smaller wire resistances or tiles, or raise "
            "max_iterations"
        )


@dataclass(frozen=True)
class CircuitSolution:
    """The result of :func:`solve`.

    Attributes
    ----------
    column_currents
        Current into each column's 0 V sense node (A): (batch, cols) or (tiles, batch, cols).
    row_voltages, column_voltages
        Row- and column-wire node voltages (V): (batch, rows, cols) or (tiles, batch, rows, cols).
    iterations
        Gauss-Seidel iterations to convergence (without the unrolled ones).
    update
        The largest node-voltage update of the last converging iteration (V).
    """

    column_currents: torch.Tensor
    row_voltages: torch.Tensor
    column_voltages: torch.Tensor
    iterations: int
    update: float


class _CellTable:
    """The LUT at fixed conductances: I, dI/dV_cell, dI/dV_gs at any (V_cell, V_gs).

    Trilinear; clamped along G and V_in, linear extrapolation below the V_gate grid, clamped
    above it; odd in V_cell. Differentiable (autograd) in g and both voltages.
    """

    def __init__(self, lut: CellLUT, g: torch.Tensor) -> None:
        device = g.device
        self.g_grid = lut.g_grid.to(device)
        self.v_grid = lut.v_grid.to(device)
        self.vg_grid = lut.vg_grid.to(device)
        self.n_v, self.n_m = self.v_grid.numel(), self.vg_grid.numel()
        self.flat = lut.table.to(device).reshape(-1)
        gc = g.clamp(self.g_grid[0], self.g_grid[-1])
        ig, self.tg = interval(self.g_grid, gc)
        self.base = ig * (self.n_v * self.n_m)

    def __call__(
        self, v_cell: torch.Tensor, v_gs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        sign = torch.where(v_cell < 0, -1.0, 1.0).to(v_cell.dtype)
        a = (v_cell * sign).clamp(self.v_grid[0], self.v_grid[-1])
        iv, tv = interval(self.v_grid, a)
        h_v = self.v_grid[iv + 1] - self.v_grid[iv]
        vg = v_gs.clamp(max=self.vg_grid[-1])
        im, tm = interval(self.vg_grid, vg, clamp=False)  # tm < 0 below the grid: extrapolation
        h_m = self.vg_grid[im + 1] - self.vg_grid[im]
        index = self.base + iv * self.n_m + im
        step_g = self.n_v * self.n_m
        tg = self.tg

        def corner(dv: int, dm: int) -> torch.Tensor:
            low = self.flat[index + (dv * self.n_m + dm)]
            high = self.flat[index + (step_g + dv * self.n_m + dm)]
            return low + tg * (high - low)

        c00, c10, c01, c11 = corner(0, 0), corner(1, 0), corner(0, 1), corner(1, 1)
        low_m = c00 + tv * (c10 - c00)
        high_m = c01 + tv * (c11 - c01)
        f = low_m + tm * (high_m - low_m)
        f_v = ((1 - tm) * (c10 - c00) + tm * (c11 - c01)) / h_v
        f_m = (high_m - low_m) / h_m
        # d/dv [s f(s v)] = f_v; the V_gs slope keeps the sign
        return sign * f, f_v, sign * f_m


def extended_cell_current(
    lut: CellLUT, g: torch.Tensor, v_cell: torch.Tensor, v_gs: torch.Tensor
) -> torch.Tensor:
    """The cell current (A) the circuit uses at conductance ``g`` (S), V_cell and V_gs (V).

    The LUT trilinearly, extended as described in the module docstring (linear extrapolation
    below the V_gate grid, odd in V_cell, clamped elsewhere); arguments broadcast; float64;
    differentiable in all three.
    """
    g, v_cell, v_gs = (torch.as_tensor(x, dtype=torch.float64) for x in (g, v_cell, v_gs))
    g, v_cell, v_gs = torch.broadcast_tensors(g, v_cell, v_gs)
    return _CellTable(lut, g)(v_cell, v_gs)[0]


def _thomas(
    lower: torch.Tensor, diag: torch.Tensor, upper: torch.Tensor, rhs: torch.Tensor
) -> torch.Tensor:
    """Solve tridiagonal systems along the last axis (batched Thomas algorithm).

    ``lower[k]`` multiplies x[k-1], ``upper[k]`` x[k+1] (1-D, shared by all systems; lower[0]
    and upper[-1] unused); ``diag`` and ``rhs`` are (..., n). Out of place, so autograd works.
    """
    n = diag.shape[-1]
    # the solve axis first: each step works on one contiguous slice
    diag, rhs = diag.movedim(-1, 0).contiguous(), rhs.movedim(-1, 0).contiguous()
    cs, ds = [], []
    c = upper[0] / diag[0]
    d = rhs[0] / diag[0]
    cs.append(c)
    ds.append(d)
    for k in range(1, n):
        m = diag[k] - lower[k] * c
        c = upper[k] / m
        d = (rhs[k] - lower[k] * d) / m
        cs.append(c)
        ds.append(d)
    x = ds[-1]
    xs = [x]
    for k in range(n - 2, -1, -1):
        x = ds[k] - cs[k] * x
        xs.append(x)
    return torch.stack(xs[::-1], dim=-1)


@dataclass(frozen=True)
class _Wire:
    """One wire family as tridiagonal coefficients: nodes 0..n-1, a source at one end.

    ``end_g``: conductance to the end's source (None: the end node is fixed at the source).
    """

    lower: torch.Tensor
    upper: torch.Tensor
    diag: torch.Tensor
    end_mask: torch.Tensor
    end_g: float | None

    @classmethod
    def build(cls, n: int, segment_g: float, end_g: float | None, end: int) -> _Wire:
        off = torch.full((n,), -segment_g, dtype=torch.float64)
        diag = torch.zeros(n, dtype=torch.float64)
        diag[1:] += segment_g
        diag[:-1] += segment_g
        mask = torch.zeros(n, dtype=torch.bool)
        mask[end] = True
        if end_g is not None:
            diag[end] += end_g
        lower, upper = off.clone(), off.clone()
        lower[0], upper[-1] = 0.0, 0.0
        if end_g is None:  # the end's equation becomes x[end] = source
            (lower if end == n - 1 else upper)[end] = 0.0
        return cls(lower, upper, diag, mask, end_g)

    def to(self, device: torch.device) -> _Wire:
        return _Wire(
            self.lower.to(device),
            self.upper.to(device),
            self.diag.to(device),
            self.end_mask.to(device),
            self.end_g,
        )

    def solve(
        self, slope: torch.Tensor, rhs: torch.Tensor, source: torch.Tensor | float
    ) -> torch.Tensor:
        """Nodes of ``(wire + slope) x = rhs + end_g * source`` (slope, rhs: (..., n))."""
        diag = self.diag + slope
        if self.end_g is None:
            diag = torch.where(self.end_mask, torch.ones_like(diag), diag)
            rhs = torch.where(self.end_mask, source + torch.zeros_like(rhs), rhs)
        else:
            rhs = rhs + self.end_mask * (self.end_g * source)
        return _thomas(self.lower, diag, self.upper, rhs)


def _conductance(r_ohm: float) -> float:
    return 1.0 / r_ohm if r_ohm > 0 else LARGE_CONDUCTANCE_S


def _sweep(
    cells: _CellTable,
    v_in: torch.Tensor,
    v_gate: float,
    rows_wire: _Wire,
    cols_wire: _Wire,
    r: torch.Tensor,
    c: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One Gauss-Seidel iteration: all row wires, then all column wires."""
    i, di_dv, _ = cells(r - c, v_gate - c)
    r_new = rows_wire.solve(di_dv, di_dv * r - i, v_in)
    i, di_dv, di_dm = cells(r_new - c, v_gate - c)
    slope = di_dv + di_dm  # -dI/dV_c
    c_new = cols_wire.solve(
        slope.transpose(-1, -2), (i + slope * c).transpose(-1, -2), 0.0
    ).transpose(-1, -2)
    with torch.no_grad():
        update = max(float((r_new - r).abs().max()), float((c_new - c).abs().max()))
    return r_new, c_new, update


def solve(
    lut: CellLUT,
    g: torch.Tensor,
    v: torch.Tensor,
    v_gate: float,
    config: CircuitConfig,
) -> CircuitSolution:
    """Solve crossbars with wire resistance: column currents and node voltages.

    Parameters
    ----------
    lut
        The cell LUT.
    g
        Conductances (S): (rows, cols), or (tiles, rows, cols) for several arrays at once.
    v
        Row input voltages (V), >= 0: (batch, rows), or (tiles, batch, rows) with a 3-D ``g``
        (a 2-D ``v`` with a 3-D ``g`` drives every tile with the same vectors).
    v_gate
        The gate voltage of every cell (V), within the LUT's gate grid.
    config
        Wire resistances and solver settings.

    Returns
    -------
    CircuitSolution
        Column currents (A) of shape (batch, cols) or (tiles, batch, cols), differentiable in
        ``g`` and ``v`` (see the module docstring), in the inputs' floating dtype.

    Raises
    ------
    ConfigError
        Bad config values.
    MappingError
        Shapes that do not fit together.
    LUTError
        Conductances, voltages or ``v_gate`` outside the LUT's range.
    CircuitConvergenceError
        No convergence within ``config.max_iterations`` (or NaN).
    """
    config.validate()
    v_gate = check_number("v_gate (V)", v_gate)
    g, v = torch.as_tensor(g), torch.as_tensor(v)
    single = g.ndim == 2
    if single:
        if v.ndim != 2:
            raise MappingError(
                f"with g (rows, cols), v must be (batch, rows); got {tuple(v.shape)}"
            )
        g, v = g.unsqueeze(0), v.unsqueeze(0)
    elif g.ndim == 3:
        if v.ndim == 2:
            v = v.unsqueeze(0).expand(g.shape[0], -1, -1)
        if v.ndim != 3 or v.shape[0] != g.shape[0]:
            raise MappingError(
                f"with g (tiles, rows, cols) = {tuple(g.shape)}, v must be (tiles, batch, rows) "
                f"or (batch, rows); got {tuple(v.shape)}"
            )
    else:
        raise MappingError(f"g must be (rows, cols) or (tiles, rows, cols); got {tuple(g.shape)}")
    _, rows, cols = g.shape
    wires = config.wires
    if v.shape[-1] != rows:
        raise MappingError(
            f"v must have {rows} voltages per vector (one per row); got {v.shape[-1]}"
        )
    out_dtype = g.dtype if g.is_floating_point() else torch.get_default_dtype()
    if v.is_floating_point():
        out_dtype = torch.promote_types(out_dtype, v.dtype)
    lut.check_range(g=g, v_in=v, v_gate=v_gate)  # in the inputs' own precision
    g64 = g.to(torch.float64).clamp(lut.g_min_s, lut.g_on_s)
    v64 = v.to(dtype=torch.float64, device=g.device).clamp(0.0, lut.v_max)

    cells = _CellTable(lut, g64.unsqueeze(1))  # (tiles, 1, rows, cols)
    rows_wire = _Wire.build(
        cols,
        _conductance(wires.r_row),
        1.0 / wires.r_driver if wires.r_driver > 0 else None,
        end=0,
    ).to(g.device)
    cols_wire = _Wire.build(
        rows,
        _conductance(wires.r_col),
        1.0 / wires.r_sense if wires.r_sense > 0 else None,
        end=rows - 1,
    ).to(g.device)
    v_in = v64.unsqueeze(-1)  # (tiles, batch, rows, 1)

    with torch.no_grad():
        r = v_in.expand(-1, -1, -1, cols).clone()
        c = torch.zeros_like(r)
        update = float("inf")
        for iteration in range(1, config.max_iterations + 1):
            r, c, update = _sweep(cells, v_in, v_gate, rows_wire, cols_wire, r, c)
            if update != update:  # NaN
                raise CircuitConvergenceError(iteration, update, config.tolerance_v)
            if update < config.tolerance_v:
                break
        else:
            raise CircuitConvergenceError(config.max_iterations, update, config.tolerance_v)
    if torch.is_grad_enabled() and (g.requires_grad or v.requires_grad):
        for _ in range(UNROLLED_ITERATIONS):
            r, c, _ = _sweep(cells, v_in, v_gate, rows_wire, cols_wire, r, c)
    currents = cells(r - c, v_gate - c)[0].sum(dim=-2)
    if single:
        currents, r, c = currents[0], r[0], c[0]
    return CircuitSolution(
        column_currents=currents.to(out_dtype),
        row_voltages=r.to(out_dtype),
        column_voltages=c.to(out_dtype),
        iterations=iteration,
        update=update,
    )
