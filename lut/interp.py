"""``CellLUT``: the cell current I(G, V_in, V_gate) of a LUT file, interpolated in torch.

A ``CellLUT`` holds one temperature of the file (``CellLUT.load(path, temperature_c=...)``),
and, where the file has it, the threshold-shift axis (``delvto``, V): ``current(..., shift=)``
interpolates along it too. Trilinear interpolation by default (quadrilinear with a shift);
``method="pchip"`` uses a monotone cubic (Fritsch-Carlson) along V_in and linear along the other
axes. Both are differentiable in ``g`` and ``v_in``, broadcast their arguments, and run in
float32 or float64 on any device.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neatxbar.core.checks import check_number
from neatxbar.lut.errors import LUTError
from neatxbar.lut.schema import (
    NOMINAL_TEMPERATURE_C,
    OFFERED_TOLERANCE_V,
    ZERO_SHIFT_TOLERANCE_V,
    Provenance,
    nearest_index,
    read_lut,
    select_temperature,
)
from neatxbar.lut.separable import SeparableCell, fit_separable, interval

METHODS = ("linear", "pchip")
EXTRAPOLATE = ("raise", "clamp")


def _pchip_slopes(y: np.ndarray, x: np.ndarray, axis: int) -> np.ndarray:
    """Fritsch-Carlson derivatives of ``y`` along ``axis`` (monotone cubic Hermite)."""
    y = np.moveaxis(y, axis, -1)
    h = np.diff(x)
    delta = np.diff(y, axis=-1) / h
    d = np.zeros_like(y)
    if x.size == 2:
        d[...] = delta
        return np.moveaxis(d, -1, axis)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same_sign = delta[..., 1:] * delta[..., :-1] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / delta[..., :-1] + w2 / delta[..., 1:])
    d[..., 1:-1] = np.where(same_sign, harmonic, 0.0)
    d[..., 0] = _pchip_end(h[0], h[1], delta[..., 0], delta[..., 1])
    d[..., -1] = _pchip_end(h[-1], h[-2], delta[..., -1], delta[..., -2])
    return np.moveaxis(d, -1, axis)


def _pchip_end(h0: float, h1: float, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """End slope of a monotone cubic: the three-point estimate, limited to keep monotonicity."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    d = np.where(np.sign(d) != np.sign(m0), 0.0, d)
    limit = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3 * np.abs(m0))
    return np.where(limit, 3 * m0, d)


@dataclass(frozen=True)
class _Axis:
    name: str
    units: str


_AXES = (_Axis("g", "S"), _Axis("v_in", "V"), _Axis("v_gate", "V"))
_SHIFT_AXIS = _Axis("shift", "V")

#: The table interpolated along V_in, as a function of the (G, V_gate) corner indices.
_Along = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CellLUT:
    """The cell current of a complete LUT file, as a differentiable torch function.

    Attributes
    ----------
    g_grid, v_grid, vg_grid
        The grids: conductance (S), input voltage (V), gate voltage (V), float64 tensors.
    table
        Currents in A, shape ``(n_g, n_v, n_vg)``, float64.
        At 0 V threshold shift and the selected temperature.
    g_max, w_max
        Linear-region bounds per V_gate (S; fraction of the weight range) at the selected
        temperature, if the file has them.
    shift_grid
        The threshold shifts (``delvto``, V), float64, strictly increasing, holding 0 V;
        ``tensor([0.])`` for a file without the axis.
    shift_table
        Currents in A, shape ``(n_d, n_g, n_v, n_vg)``, float64, at the selected temperature
        (``shift_table[k]`` at ``shift_grid[k]``; the 0 V row is :attr:`table`).
    sigma_vt_v
        The transistor's threshold mismatch sigma (V): Pelgrom's A_Vt / sqrt(W L) as the sweep
        spec stated it; 0.0 when unknown.
    temperature_c, temperatures_c
        The selected temperature (degC) and every temperature of the file.
    path
        The file it came from (None if not from a file).

    The file's metadata, read once and checked by :func:`neatxbar.lut.schema.read_lut` (no caller
    reopens the file), are read-only properties: :attr:`tolerance`, :attr:`transistor`,
    :attr:`read_time_s`, :attr:`spec_text`, :attr:`cell_netlist`, :attr:`provenance`,
    :attr:`offered_gates`.
    """

    def __init__(
        self,
        g_grid: np.ndarray,
        v_grid: np.ndarray,
        vg_grid: np.ndarray,
        table: np.ndarray,
        g_max: np.ndarray | None = None,
        w_max: np.ndarray | None = None,
        tolerance: float = float("nan"),
        path: Path | None = None,
        transistor: dict[str, object] | None = None,
        read_time_s: float | None = None,
        *,
        spec_text: str = "",
        cell_netlist: str = "",
        provenance: Provenance | None = None,
        offered_gates: Sequence[float] | np.ndarray | None = None,
        shift_grid: Sequence[float] | np.ndarray | None = None,
        shift_table: np.ndarray | None = None,
        sigma_vt_v: float = 0.0,
        temperature_c: float = NOMINAL_TEMPERATURE_C,
        temperatures_c: Sequence[float] | None = None,
    ) -> None:
        for name, grid in (("conductance", g_grid), ("v_in", v_grid), ("v_gate", vg_grid)):
            grid = np.asarray(grid)
            if (
                grid.ndim != 1
                or grid.size < 2
                or not np.all(np.isfinite(grid))
                or not np.all(np.diff(grid) > 0)
            ):
                raise LUTError(
                    f"{path or 'LUT'}: grid/{name} must be finite, strictly increasing, >= 2 points"
                )
        if np.shape(table) != tuple(np.size(grid) for grid in (g_grid, v_grid, vg_grid)):
            raise LUTError(
                f"{path or 'LUT'}: table shape {np.shape(table)} does not match the grids"
            )
        self.g_grid = torch.as_tensor(g_grid, dtype=torch.float64)
        self.v_grid = torch.as_tensor(v_grid, dtype=torch.float64)
        self.vg_grid = torch.as_tensor(vg_grid, dtype=torch.float64)
        self.table = torch.as_tensor(table, dtype=torch.float64)
        self.g_max = None if g_max is None else torch.as_tensor(g_max, dtype=torch.float64)
        self.w_max = None if w_max is None else torch.as_tensor(w_max, dtype=torch.float64)
        self.path = path
        self._tolerance = float(tolerance)
        self._transistor = dict(transistor or {})
        self._read_time_s = read_time_s
        self._spec_text = spec_text
        self._cell_netlist = cell_netlist
        self._provenance = provenance or Provenance()
        self._offered = self._offered_indices(offered_gates, path)
        self._slopes = torch.as_tensor(_pchip_slopes(np.asarray(table), np.asarray(v_grid), 1))
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, ...]] = {}
        self._separable: dict[tuple[int, float], SeparableCell] = {}
        self._set_axes(shift_grid, shift_table, sigma_vt_v, temperature_c, temperatures_c)

    def _set_axes(
        self,
        shift_grid: Sequence[float] | np.ndarray | None,
        shift_table: np.ndarray | None,
        sigma_vt_v: float,
        temperature_c: float,
        temperatures_c: Sequence[float] | None,
    ) -> None:
        """Check and keep the threshold-shift axis and the temperatures (see the class)."""
        where = self.path or "LUT"
        if (shift_grid is None) != (shift_table is None):
            raise LUTError(f"{where}: give shift_grid and shift_table together, or neither")
        self.sigma_vt_v = check_number(
            "sigma_vt_v (V)", sigma_vt_v, nonnegative=True, high=1.0, error=LUTError
        )
        self.temperature_c = check_number("temperature (degC)", temperature_c, error=LUTError)
        temps = (self.temperature_c,) if temperatures_c is None else tuple(temperatures_c)
        self.temperatures_c = tuple(
            check_number("temperatures (degC)", t, error=LUTError) for t in temps
        )
        if shift_grid is None:
            self.shift_grid = torch.zeros(1, dtype=torch.float64)
            self.shift_table = self.table[None]
            self._zero_shift = 0
        else:
            grid = np.asarray(shift_grid, dtype=np.float64)
            if (
                grid.ndim != 1
                or grid.size == 0
                or not np.all(np.isfinite(grid))
                or np.any(np.diff(grid) <= 0)
                or np.abs(grid).min() > ZERO_SHIFT_TOLERANCE_V
            ):
                raise LUTError(
                    f"{where}: shift_grid must be finite, strictly increasing and hold 0 V"
                )
            if np.shape(shift_table) != (grid.size, *self.table.shape):
                raise LUTError(
                    f"{where}: shift_table shape {np.shape(shift_table)} does not match the "
                    f"grids ({(grid.size, *self.table.shape)})"
                )
            self.shift_grid = torch.as_tensor(grid, dtype=torch.float64)
            self.shift_table = torch.as_tensor(shift_table, dtype=torch.float64)
            self._zero_shift = int(np.argmin(np.abs(grid)))
            if not torch.equal(self.shift_table[self._zero_shift], self.table):
                raise LUTError(f"{where}: table must equal shift_table at 0 V shift")
        self._shift_cache: dict[tuple[torch.dtype, torch.device, bool], tuple] = {}

    @classmethod
    def load(cls, path: Path | str, temperature_c: float | None = None) -> CellLUT:
        """Load one temperature of a complete ``neat-lut/2`` (or ``neat-lut/1``) file.

        Parameters
        ----------
        path
            The LUT file.
        temperature_c
            The temperature to select (degC), a value of the file's temperature grid; None:
            27 degC when the file holds it, else its first temperature. A ``neat-lut/1`` file
            holds 27 degC only.

        Raises
        ------
        LUTError
            Missing, damaged, incomplete, of another schema, with out-of-order or non-finite
            grids, wrong types or shapes, negative currents, data stored outside the file:
            everything :func:`neatxbar.lut.schema.read_lut` checks; or ``temperature_c`` not
            on the file's grid (the message lists its temperatures).
        """
        path = Path(path)
        lut = read_lut(path)
        grids, region = lut.grids, lut.region
        t = select_temperature(grids.temperature_c, temperature_c, path)
        shifts = np.ascontiguousarray(lut.current[t])
        return cls(
            grids.conductance,
            grids.v_in,
            grids.v_gate,
            shifts[grids.zero_shift],
            None if region is None else region.g_max[t],
            None if region is None else region.w_max[t],
            lut.tolerance,
            path,
            lut.transistor,
            lut.read_time_s,
            spec_text=lut.spec,
            cell_netlist=lut.cell_netlist,
            provenance=lut.provenance,
            offered_gates=lut.v_gate_offered,
            shift_grid=grids.delvto,
            shift_table=shifts,
            sigma_vt_v=lut.sigma_vt_v,
            temperature_c=float(grids.temperature_c[t]),
            temperatures_c=tuple(float(x) for x in grids.temperature_c),
        )

    def at_temperature(self, temperature_c: float | None) -> CellLUT:
        """This LUT read at ``temperature_c`` (degC): itself when it is read there (or for
        None), else its file loaded again at that temperature (:meth:`load`).

        Raises
        ------
        LUTError
            ``temperature_c`` not on the file's temperature grid (the message lists them), or
            another temperature asked of a LUT that is not from a file.
        """
        if temperature_c is None or abs(self.temperature_c - temperature_c) <= 1e-9:
            return self
        if self.path is None:
            raise LUTError(
                f"the LUT (not from a file) is read at {self.temperature_c:g} C, not "
                f"{temperature_c:g} C; load it from its file at that temperature"
            )
        return CellLUT.load(self.path, temperature_c=temperature_c)

    def _offered_indices(
        self, offered: Sequence[float] | np.ndarray | None, path: Path | None
    ) -> tuple[int, ...]:
        """Grid indices of the offered gate voltages (all of them for None); LUTError when they
        are not finite, sorted, unique values of the gate grid (within 1e-9 V), or none."""
        if offered is None:
            return tuple(range(self.vg_grid.numel()))
        values = np.asarray(offered, dtype=np.float64)
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise LUTError(f"{path or 'LUT'}: offered gate voltages must be finite, at least one")
        grid = self.vg_grid.numpy()
        index = nearest_index(grid, values)
        off = np.abs(grid[index] - values) > OFFERED_TOLERANCE_V
        if np.any(off) or np.any(np.diff(index) <= 0):
            raise LUTError(
                f"{path or 'LUT'}: offered gate voltages must be sorted, distinct values of the "
                "gate grid"
            )
        return tuple(int(m) for m in index)

    @property
    def tolerance(self) -> float:
        """The file's linear-region tolerance (fraction; NaN if not from a file)."""
        return self._tolerance

    @property
    def transistor(self) -> dict[str, Any]:
        """The file's ``transistor`` attribute, parsed and checked (JSON object: model name,
        ``w_m`` and ``l_m`` in m, ``model_params``; empty if not from a file). A copy."""
        return copy.deepcopy(self._transistor)

    @property
    def read_time_s(self) -> float | None:
        """The read time of the file's ``energy/read_energy`` (s), or None."""
        return self._read_time_s

    @property
    def spec_text(self) -> str:
        """The sweep specification the file was made from (TOML text, unparsed)."""
        return self._spec_text

    @property
    def cell_netlist(self) -> str:
        """The rendered cell netlist with its model card (SPICE text; untrusted: pass a card
        taken from it through :func:`neatxbar.spice.params.check_card_text`)."""
        return self._cell_netlist

    @property
    def provenance(self) -> Provenance:
        """Where the file comes from: created, ngspice_version, package_version, spec_sha256."""
        return self._provenance

    @property
    def offered_gates(self) -> tuple[float, ...]:
        """The gate voltages (V, grid values, increasing) offered for mapping: those a gate
        selection, a sweep or ``auto`` chooses among. The file's ``grid/v_gate_offered``; every
        grid value when the file does not have it. Any grid value may still be asked for
        explicitly (and the interpolation uses the whole grid)."""
        return tuple(float(self.vg_grid[m]) for m in self._offered)

    @property
    def g_min_s(self) -> float:
        """The smallest conductance of the grid (S): the memristor's G_OFF."""
        return float(self.g_grid[0])

    @property
    def g_on_s(self) -> float:
        """The largest conductance of the grid (S): the memristor's G_ON."""
        return float(self.g_grid[-1])

    @property
    def v_max(self) -> float:
        """The largest input voltage of the grid (V)."""
        return float(self.v_grid[-1])

    def gate_index(self, v_gate: float) -> int:
        """Index of ``v_gate`` (V) on the V_gate grid; LUTError if it is not a finite grid value.

        Every lookup by gate voltage (:meth:`gate_slice`, :meth:`separable`, the bounds
        ``g_max``/``w_max`` indexed by it) goes through here.
        """
        if torch.is_tensor(v_gate):
            if v_gate.numel() != 1:
                raise LUTError(
                    f"V_gate must be one value, got a tensor of shape {tuple(v_gate.shape)}"
                )
            v_gate = v_gate.item()
        v_gate = check_number("V_gate (V)", v_gate, error=LUTError)
        distance = (self.vg_grid - v_gate).abs()
        m = int(distance.argmin())
        if float(distance[m]) > 1e-9:
            values = ", ".join(f"{v:.3g}" for v in self.vg_grid.tolist())
            raise LUTError(
                f"V_gate {v_gate} V is not on the LUT's gate grid ({values} V); "
                "characterize a grid that holds it"
            )
        return m

    def _tensors(self, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
        key = (dtype, device)
        if key not in self._cache:
            self._cache[key] = tuple(
                t.to(device=device, dtype=dtype)
                for t in (self.g_grid, self.v_grid, self.vg_grid, self.table, self._slopes)
            )
        return self._cache[key]

    def check_range(
        self,
        g: torch.Tensor | float | None = None,
        v_in: torch.Tensor | float | None = None,
        v_gate: torch.Tensor | float | None = None,
    ) -> None:
        """Raise LUTError if conductances (S), input or gate voltages (V) leave the grids or
        hold NaN."""
        grids = (self.g_grid, self.v_grid, self.vg_grid)
        for axis, x, grid in zip(_AXES, (g, v_in, v_gate), grids, strict=True):
            self._check_axis(axis, x, grid)

    @staticmethod
    def _check_axis(axis: _Axis, x: torch.Tensor | float | None, grid: torch.Tensor) -> None:
        """LUTError if ``x`` holds NaN or leaves ``grid`` (a few float ulps of slack)."""
        if x is None or torch.as_tensor(x).numel() == 0:
            return
        x = x.detach() if torch.is_tensor(x) else torch.as_tensor(x, dtype=torch.float64)
        lo, hi = float(grid[0]), float(grid[-1])
        # a float32 query of a grid end is rounded: allow a few of its ulps
        eps = torch.finfo(x.dtype).eps if x.is_floating_point() else 0.0
        span = max((hi - lo) * 1e-9, 4 * eps * max(abs(lo), abs(hi)))
        x_min, x_max = float(x.min()), float(x.max())  # NaN if any is NaN
        if math.isnan(x_min) or math.isnan(x_max):
            raise LUTError(f"{axis.name} holds NaN; give finite values in {axis.units}")
        if x_min < lo - span or x_max > hi + span:
            raise LUTError(
                f"{axis.name} outside the LUT's range [{lo:.6g}, {hi:.6g}] {axis.units} "
                f"(got {x_min:.6g} to {x_max:.6g}); pass extrapolate='clamp' to clamp"
            )

    def current(
        self,
        g: torch.Tensor | float,
        v_in: torch.Tensor | float,
        v_gate: torch.Tensor | float,
        *,
        method: str = "linear",
        extrapolate: str = "raise",
        shift: torch.Tensor | float | None = None,
    ) -> torch.Tensor:
        """Cell current in A at conductance ``g`` (S), input ``v_in`` (V), gate ``v_gate`` (V).

        The arguments broadcast against each other; the result has their common shape, the
        dtype of the first floating tensor among them (float64 for plain numbers) and its
        device. Differentiable in ``g`` and ``v_in``.

        Parameters
        ----------
        method
            ``"linear"`` (trilinear) or ``"pchip"`` (monotone cubic along V_in).
        extrapolate
            ``"raise"`` (default): a query outside the grids is a LUTError; ``"clamp"``: clamp
            each argument to its grid.
        shift
            Threshold shift of each cell's transistor in V (broadcast with the others),
            interpolated linearly along :attr:`shift_grid` (quadrilinear in all); None: 0 V,
            the :attr:`table` alone.
        """
        if shift is not None:
            return self._current_shifted(g, v_in, v_gate, shift, method, extrapolate)
        if method not in METHODS:
            raise LUTError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if extrapolate not in EXTRAPOLATE:
            raise LUTError(f"extrapolate must be one of {', '.join(EXTRAPOLATE)}")
        if isinstance(v_gate, int | float):
            v_gate = check_number("V_gate (V)", v_gate, error=LUTError)
        if extrapolate == "raise":
            self.check_range(g, v_in, v_gate)
        like = next(
            (t for t in (g, v_in, v_gate) if torch.is_tensor(t) and t.is_floating_point()), None
        )
        dtype = like.dtype if like is not None else torch.float64
        device = like.device if like is not None else torch.device("cpu")
        g, v_in, v_gate = (
            torch.as_tensor(x, dtype=dtype, device=device) for x in (g, v_in, v_gate)
        )
        g, v_in, v_gate = torch.broadcast_tensors(g, v_in, v_gate)
        g_grid, v_grid, vg_grid, table, slopes = self._tensors(dtype, device)
        grids = (g_grid, v_grid, vg_grid)
        g, v_in, v_gate = (
            x.clamp(grid[0], grid[-1]) for x, grid in zip((g, v_in, v_gate), grids, strict=True)
        )
        (ig, tg), (iv, tv), (im, tm) = (
            interval(grid, x) for grid, x in zip(grids, (g, v_in, v_gate), strict=True)
        )
        if method == "linear":
            along_v = self._linear_v(table, iv, tv)
        else:
            along_v = self._pchip_v(table, slopes, v_grid, iv, tv)
        total = torch.zeros_like(g)
        for dg, wg in ((0, 1 - tg), (1, tg)):
            for dm, wm in ((0, 1 - tm), (1, tm)):
                total = total + wg * wm * along_v(ig + dg, im + dm)
        return total

    def _shift_tensors(
        self, dtype: torch.dtype, device: torch.device, pchip: bool
    ) -> tuple[torch.Tensor, ...]:
        """(shift_grid, shift_table[, its V_in slopes]) in ``dtype`` on ``device``, cached."""
        key = (dtype, device, pchip)
        if key not in self._shift_cache:
            tensors = [self.shift_grid, self.shift_table]
            if pchip:
                slopes = _pchip_slopes(self.shift_table.numpy(), self.v_grid.numpy(), 2)
                tensors.append(torch.as_tensor(slopes))
            self._shift_cache[key] = tuple(t.to(device=device, dtype=dtype) for t in tensors)
        return self._shift_cache[key]

    def _current_shifted(
        self,
        g: torch.Tensor | float,
        v_in: torch.Tensor | float,
        v_gate: torch.Tensor | float,
        shift: torch.Tensor | float,
        method: str,
        extrapolate: str,
    ) -> torch.Tensor:
        """:meth:`current` with a threshold shift (V): linear along the shift axis."""
        if method not in METHODS:
            raise LUTError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if extrapolate not in EXTRAPOLATE:
            raise LUTError(f"extrapolate must be one of {', '.join(EXTRAPOLATE)}")
        if extrapolate == "raise":
            self._check_axis(_SHIFT_AXIS, shift, self.shift_grid)
        if self.shift_grid.numel() == 1:  # no axis: every shift is the 0 V table
            current = self.current(g, v_in, v_gate, method=method, extrapolate=extrapolate)
            return current + 0 * torch.as_tensor(shift, dtype=current.dtype, device=current.device)
        if isinstance(v_gate, int | float):
            v_gate = check_number("V_gate (V)", v_gate, error=LUTError)
        if extrapolate == "raise":
            self.check_range(g, v_in, v_gate)
        like = next(
            (t for t in (g, v_in, v_gate, shift) if torch.is_tensor(t) and t.is_floating_point()),
            None,
        )
        dtype = like.dtype if like is not None else torch.float64
        device = like.device if like is not None else torch.device("cpu")
        args = torch.broadcast_tensors(
            *(torch.as_tensor(x, dtype=dtype, device=device) for x in (g, v_in, v_gate, shift))
        )
        g_grid, v_grid, vg_grid = self._tensors(dtype, device)[:3]
        grids = (g_grid, v_grid, vg_grid)
        d_grid, table, *slopes = self._shift_tensors(dtype, device, method == "pchip")
        (ig, tg), (iv, tv), (im, tm), (i_d, t_d) = (
            interval(grid, x) for grid, x in zip((*grids, d_grid), args, strict=True)
        )
        if method == "linear":

            def along_v(k: torch.Tensor, i: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
                return (1 - tv) * table[k, i, iv, m] + tv * table[k, i, iv + 1, m]
        else:
            along_v = self._pchip_v_shifted(table, slopes[0], v_grid, iv, tv)
        total = torch.zeros_like(args[0])
        for dd, wd in ((0, 1 - t_d), (1, t_d)):
            for dg, wg in ((0, 1 - tg), (1, tg)):
                for dm, wm in ((0, 1 - tm), (1, tm)):
                    total = total + wd * wg * wm * along_v(i_d + dd, ig + dg, im + dm)
        return total

    @staticmethod
    def _pchip_v_shifted(
        table: torch.Tensor,
        slopes: torch.Tensor,
        v_grid: torch.Tensor,
        iv: torch.Tensor,
        tv: torch.Tensor,
    ) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        h = v_grid[iv + 1] - v_grid[iv]
        t2, t3 = tv * tv, tv * tv * tv
        h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + tv
        h01, h11 = -2 * t3 + 3 * t2, t3 - t2

        def value(k: torch.Tensor, ig: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
            y0, y1 = table[k, ig, iv, im], table[k, ig, iv + 1, im]
            d0, d1 = slopes[k, ig, iv, im], slopes[k, ig, iv + 1, im]
            return h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1

        return value

    @staticmethod
    def _linear_v(table: torch.Tensor, iv: torch.Tensor, tv: torch.Tensor) -> _Along:
        def value(ig: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
            return (1 - tv) * table[ig, iv, im] + tv * table[ig, iv + 1, im]

        return value

    @staticmethod
    def _pchip_v(
        table: torch.Tensor,
        slopes: torch.Tensor,
        v_grid: torch.Tensor,
        iv: torch.Tensor,
        tv: torch.Tensor,
    ) -> _Along:
        h = v_grid[iv + 1] - v_grid[iv]
        t2, t3 = tv * tv, tv * tv * tv
        h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + tv
        h01, h11 = -2 * t3 + 3 * t2, t3 - t2

        def value(ig: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
            y0, y1 = table[ig, iv, im], table[ig, iv + 1, im]
            d0, d1 = slopes[ig, iv, im], slopes[ig, iv + 1, im]
            return h00 * y0 + h10 * h * d0 + h01 * y1 + h11 * h * d1

        return value

    def gate_slice(self, v_gate: float) -> torch.Tensor:
        """The table at one grid V_gate: currents in A, shape ``(n_g, n_v)``, float64."""
        return self.table[:, :, self.gate_index(v_gate)]

    def separable(self, v_gate: float, budget: float = 1e-3) -> SeparableCell:
        """The fast separable form at grid gate voltage ``v_gate`` (cached per budget).

        See :mod:`neatxbar.lut.separable`; ``budget`` is a fraction of G_ON * V_max.
        """
        key = (self.gate_index(v_gate), budget)
        if key not in self._separable:
            self._separable[key] = fit_separable(
                self.gate_slice(v_gate).numpy(),
                self.g_grid.numpy(),
                self.v_grid.numpy(),
                float(self.vg_grid[key[0]]),
                budget,
            )
        return self._separable[key]
