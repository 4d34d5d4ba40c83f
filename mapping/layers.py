"""``CrossbarLinear`` and ``CrossbarConv2d``: Linear and Conv2d computed the way 1T-1R crossbars do.

Weights map to differential conductance pairs and inputs to voltages as
:class:`~neatxbar.mapping.config.MappingConfig` says; each output is the difference of two
column currents, summed over the tiles, rescaled back to the layer's units, plus the bias
(digital). Gradients flow through the LUT (exact path) or its separable form (fast path) to the
weights and the inputs; quantizers (conductance levels, DAC, ADC) pass gradients straight through.

Inputs are handled as signed normalized values u = sign(x) * V / V_max in [-1, 1]: a negative
input is the second phase of a two-phase read, and since every term of the fast path is odd in u,
both phases cost one set of matrix products when no ADC separates them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from neatxbar.core.checks import check_number
from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import PairTable, SeparableCell
from neatxbar.mapping.config import MappingConfig, check_v_gate
from neatxbar.mapping.crossbar import exact_column_sum, fast_column_sum
from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.quantize import quantize_symmetric, quantize_unit
from neatxbar.mapping.tiling import row_tiles
from neatxbar.mapping.variation import ChipDraws, apply_chip, draw_chip, shift_grid, shifted_form
from neatxbar.mapping.wired import wired_sum
from neatxbar.mapping.wired_conv import ConvGeometry, WiredKernels, conv_kernels, wired_conv_sum
from neatxbar.mapping.wired_fast import WiredTiles, fast_wired_sum, reduce_tiles

_TINY = 1e-30

#: What :meth:`_CrossbarMapping.weight_side` caches: a tensor or a tile reduction.
_Built = TypeVar("_Built")

#: A column sum over the input rows ``rows`` of signed inputs ``u``, masked by a phase or None.
ColumnSum = Callable[[torch.Tensor, torch.Tensor | None, slice], torch.Tensor]


class _CrossbarMapping(nn.Module):
    """What both crossbar layers share: the LUT, the gate voltage, the mapping of weights and
    inputs, the phases and tiles, and the rescaling."""

    def __init__(
        self,
        lut: CellLUT,
        config: MappingConfig,
        v_gate: float | None,
        w_scale: float | None = None,
    ) -> None:
        super().__init__()
        config.validate()
        self.lut, self.config = lut, config
        #: Fixed weight scale (the layer's units) or None; see :meth:`weight_scale`.
        self.w_scale = None if w_scale is None else check_number("w_scale", w_scale, positive=True)
        self.v_gate = check_v_gate("v_gate", config.v_gate if v_gate is None else v_gate)
        lut.gate_index(self.v_gate)  # LUTError when the gate voltage is not on the grid
        if config.variation.mismatch > 0:
            shift_grid(lut)  # MappingError when the LUT has no threshold-shift axis
        #: The layer's index among the model's crossbar layers (set by ``convert``, in module
        #: order): with the chip seed, it seeds the layer's draws.
        self.layer_index = 0
        #: The chip (see :func:`neatxbar.mapping.set_chip`); starts at the config's seed.
        self.chip_seed = config.variation.seed
        self._forms: dict[tuple[torch.dtype, torch.device, float], SeparableCell] = {}
        self._pair_tables: dict[tuple[torch.dtype, torch.device, float], PairTable] = {}
        self._cached: dict[str, tuple[tuple, torch.Tensor]] = {}
        self._draws: tuple[tuple, ChipDraws] | None = None

    @property
    def form(self) -> SeparableCell:
        """The fast path's separable form at this layer's V_gate (``rank`` is K), without
        threshold shifts."""
        return self.lut.separable(self.v_gate, self.config.error_budget)

    @property
    def cell_form(self) -> SeparableCell:
        """The separable form the fast path computes with: :attr:`form`, or with mismatch the
        form over (delvto, G) x V (:class:`~neatxbar.lut.separable.ShiftedSeparableCell`)."""
        if self.config.variation.mismatch > 0:
            return shifted_form(self.lut, self.v_gate, self.config.error_budget)
        return self.form

    def _form(self, like: torch.Tensor) -> SeparableCell:
        key = (like.dtype, like.device, self.v_gate)
        if key not in self._forms:
            self._forms[key] = self.cell_form.to(like.dtype, like.device)
        return self._forms[key]

    def chip(self, like: torch.Tensor) -> ChipDraws:
        """This layer's draws of the current chip (seed :attr:`chip_seed`), in the shape of the
        weight, in ``like``'s dtype and device; drawn once per chip and cached."""
        key = (self.chip_seed, self.layer_index, tuple(self.weight.shape), like.dtype, like.device)
        if self._draws is None or self._draws[0] != key:
            draws = draw_chip(
                self.config.variation,
                self.layer_index,
                tuple(self.weight.shape),
                self.lut,
                seed=self.chip_seed,
            )
            self._draws = (key, draws.to(like.dtype, like.device))
        return self._draws[1]

    def physical_pair(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G+, G-) in S as the chip holds them: :meth:`conductance_pair` with the chip's
        programming errors and stuck cells (the programmed pair when those are off)."""
        gp, gn = self.conductance_pair(weight)
        variation = self.config.variation
        if not variation.conductances:
            return gp, gn
        draws = self.chip(weight)
        g_min, g_on = self.g_range
        programming = draws.programming or (None, None)
        stuck = draws.stuck or (None, None)
        return tuple(
            apply_chip(g, z, s, variation, g_min, g_on)
            for g, z, s in zip((gp, gn), programming, stuck, strict=True)
        )

    def threshold_shifts(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The chip's threshold shifts (V) of the G+ and G- cells' transistors, in the weight's
        shape, or None without mismatch."""
        if self.config.variation.mismatch == 0:
            return None
        return self.chip(weight).shift

    def _pair_table(self, like: torch.Tensor) -> PairTable:
        key = (like.dtype, like.device, self.v_gate)
        if key not in self._pair_tables:
            table = self.form.pair_table(*self.g_range)
            self._pair_tables[key] = table.to(like.dtype, like.device)
        return self._pair_tables[key]

    @property
    def g_range(self) -> tuple[float, float]:
        """[G_min, G_max] of the mapping (S): the LUT's conductance range."""
        return self.lut.g_min_s, self.lut.g_on_s

    def weight_scale(self, weight: torch.Tensor) -> torch.Tensor:
        """w_scale: the layer's fixed ``w_scale`` (NEAT keeps the pre-clipping max |w|), else the
        config's ``w_cut``, else max |w|. Weights beyond it are clipped."""
        if self.w_scale is not None:
            return weight.new_tensor(self.w_scale)
        if self.config.w_cut is not None:
            return weight.new_tensor(self.config.w_cut)
        return weight.abs().max().clamp_min(_TINY)

    def programmed_fractions(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(q+, q-): the fractions of G_max - G_min above G_min programmed into G+ and G-
        (dimensionless, in [0, 1], quantized by ``conductance_bits``) for ``weight``, same
        shape. With f = w / w_scale clipped to [-1, 1]: q+ = q(max(f, 0)), q- = q(max(-f, 0))."""
        f = (weight / self.weight_scale(weight)).clamp(-1.0, 1.0)
        bits = self.config.conductance_bits
        return tuple(quantize_unit(part.clamp_min(0.0), bits) for part in (f, -f))

    def conductance_pair(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G+, G-) in S for ``weight``, same shape; weights beyond w_scale are clipped."""
        g_min, g_max = self.g_range
        return tuple(g_min + (g_max - g_min) * q for q in self.programmed_fractions(weight))

    def fast_weight_matrices(
        self,
        arrange: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
        *,
        reference: bool = False,
    ) -> torch.Tensor:
        """The fast path's weight-side matrices, ``(n_terms, *arrange(weight).shape)`` (A):
        W_p = sum_k c_kp (a_k(G+) - a_k(G-)) for every weight (see
        :meth:`~neatxbar.lut.separable.SeparableCell.weights`), rebuilt from the weight.

        Parameters
        ----------
        arrange
            Applied to the per-weight tensor before the lookup (``torch.t`` for a Linear's
            ``(in, out)`` layout).
        reference
            False (default): one lookup of the signed fraction q+ - q- in the layer's
            :class:`~neatxbar.lut.separable.PairTable`. True: a_k at G+ and G-, their difference
            and the change of basis (the definition; slower).
        """
        if reference or self.config.variation.per_chip:
            w = self._form(self.weight).weights(self._cell_a(arrange, self.weight, -1.0))
            return w.contiguous()
        q_plus, q_minus = self.programmed_fractions(self.weight)
        return self._pair_table(self.weight)(arrange(q_plus - q_minus))

    def _cell_a(
        self,
        arrange: Callable[[torch.Tensor], torch.Tensor],
        weight: torch.Tensor,
        sign: float | None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """a_k of the chip's G+ and G- cells (with their threshold shifts), ``arrange``-d:
        ``a(G+) + sign * a(G-)`` for a number ``sign``, the pair itself for None."""
        form = self._form(weight)
        pair = [arrange(g) for g in self.physical_pair(weight)]
        shifts = self.threshold_shifts(weight)
        if shifts is None:
            a = [form.a(g) for g in pair]
        else:
            a = [form.a(g, arrange(d)) for g, d in zip(pair, shifts, strict=True)]
        return (a[0], a[1]) if sign is None else a[0] + sign * a[1]

    def noise_matrices(
        self, arrange: Callable[[torch.Tensor], torch.Tensor] = lambda t: t
    ) -> torch.Tensor:
        """Read noise's weight side (A^2): for every pair p <= q of the fast path's terms,
        c_pq (w_p w_q (G+) + w_p w_q (G-)) with w = :meth:`SeparableCell.weights` of a single
        cell's a_k and c_pq = 2 for p < q, 1 for p = q; shape ``(n_pairs, *arrange(w).shape)``.

        With the input side t_p t_q (:meth:`noise_terms`) the products sum to sum_i I_ij^2 over a
        column's G+ cells plus its G- cells: the variance of its differential current per unit
        ``read_noise_sigma``^2.
        """
        form = self._form(self.weight)
        plus, minus = (form.weights(a) for a in self._cell_a(arrange, self.weight, None))
        n = plus.shape[0]
        return torch.stack(
            [
                (1.0 if p == q else 2.0) * (plus[p] * plus[q] + minus[p] * minus[q])
                for p in range(n)
                for q in range(p, n)
            ]
        )

    def noise_terms(self, u: torch.Tensor) -> list[torch.Tensor]:
        """The input side of :meth:`noise_matrices`: |t_p(u) t_q(u)| for p <= q (even in u)."""
        terms = list(self._form(u).terms(u))
        n = len(terms)
        return [(terms[p] * terms[q]).abs() for p in range(n) for q in range(p, n)]

    def with_read_noise(self, column_sum: ColumnSum, variance: ColumnSum) -> ColumnSum:
        """``column_sum`` plus Gaussian read noise of std ``read_noise_sigma * sqrt(variance)``
        (A) on every differential column current, drawn from torch's global RNG at every call
        (``torch.manual_seed`` makes it reproducible). ``column_sum`` itself without read
        noise."""
        sigma = self.config.variation.read_noise_sigma
        if sigma == 0:
            return column_sum

        def noisy(u: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            current = column_sum(u, mask, rows)
            std = variance(u, mask, rows).clamp_min(_TINY).sqrt() * sigma
            return current + std * torch.randn_like(current)

        return noisy

    def _matmul_variance(self, matrices: Callable[[], torch.Tensor]) -> ColumnSum:
        """The read-noise variance of a Linear-style column sum (inputs (n, rows)) from the
        separable form: sum over pairs of (t_p t_q mask) @ M_pq."""

        def variance(u: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            m = matrices()
            out = None
            for term, matrix in zip(self.noise_terms(u[:, rows]), m, strict=True):
                if mask is not None:
                    term = term * mask[:, rows]
                product = term @ matrix[rows]
                out = product if out is None else out + product
            return out

        return variance

    def output_scale(self) -> torch.Tensor:
        """Factor from differential current (A) back to the layer's units, per unit x_scale."""
        g_min, g_max = self.g_range
        factor = (g_max - g_min) * self.lut.v_max
        return self.weight_side("output_scale", lambda: self.weight_scale(self.weight) / factor)

    def normalized_inputs(
        self, x: torch.Tensor, dims: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, x_scale): u = sign(x) * DAC(|x| / x_scale), x_scale = max |x| per sample over
        ``dims``. The row voltages are |u| * V_max."""
        largest = torch.maximum(x.amax(dim=dims, keepdim=True), -x.amin(dim=dims, keepdim=True))
        x_scale = largest.clamp_min(_TINY)
        u = x / x_scale
        if self.config.dac_bits is not None:
            u = torch.sign(u) * quantize_unit(u.abs().clamp(max=1.0), self.config.dac_bits)
        return u, x_scale

    def weight_side(self, name: str, build: Callable[[], _Built]) -> _Built:
        """``build()``, a function of the weight only, cached under ``name`` while the weight is
        unchanged and no gradient is wanted (inference); rebuilt at every call in training."""
        weight = self.weight
        if torch.is_grad_enabled() and weight.requires_grad:
            return build()
        key = (
            weight._version,
            weight.data_ptr(),
            weight.dtype,
            weight.device,
            self.v_gate,
            self.w_scale,
            self.chip_seed if self.config.variation.per_chip else None,
            self.layer_index,
        )
        cached = self._cached.get(name)
        if cached is None or cached[0] != key:
            cached = self._cached[name] = (key, build())
        return cached[1]

    def combine(
        self, column_sum: ColumnSum, u: torch.Tensor, tiles: list[tuple[slice, int]]
    ) -> torch.Tensor:
        """Differential current of every output: phases and tiles, with the ADC if it is on.

        Without an ADC both phases and all tiles are one column sum. With it, each phase
        (u > 0, u < 0) and each tile is converted on its own and the results are summed.
        ``tiles`` holds each tile's slice of ``u``'s dimension 1 and its number of rows.
        """
        if self.config.adc_bits is None:
            return column_sum(u, None, slice(None))
        g_min, g_max = self.g_range
        out = None
        for positive in (True, False):
            mask = (u > 0) if positive else (u < 0)
            if not positive and not bool(mask.any()):
                continue  # all inputs >= 0: one phase is enough
            mask = mask.to(u.dtype)
            for rows, n_rows in tiles:
                full_scale = self.config.adc_full_scale(n_rows, g_max - g_min, self.lut.v_max)
                part = quantize_symmetric(
                    column_sum(u, mask, rows), full_scale, self.config.adc_bits
                )
                out = part if out is None else out + part
        return out

    def _exact_sum(self, in_out: Callable[[torch.Tensor], torch.Tensor]) -> ColumnSum:
        """Exact column sums over the chip's (rows, out) conductance matrices (``in_out``
        arranges a weight-shaped tensor as (rows, out)), each cell at its own threshold shift,
        with read noise when it is on (its variance cell by cell too)."""
        cfg = self.config
        pair = [in_out(g) for g in self.physical_pair(self.weight)]
        shifts = self.threshold_shifts(self.weight)
        shifts = (None, None) if shifts is None else tuple(in_out(d) for d in shifts)

        def sums(u: torch.Tensor, mask: torch.Tensor | None, rows: slice, squared: bool) -> list:
            part = u[:, rows]
            weight = torch.sign(part) if mask is None else torch.sign(part) * mask[:, rows]
            volts = part.abs() * self.lut.v_max
            return [
                exact_column_sum(
                    self.lut,
                    g[rows],
                    volts,
                    weight.abs() if squared else weight,
                    self.v_gate,
                    method=cfg.interpolation,
                    chunk_elements=cfg.exact_chunk_elements,
                    shift=None if d is None else d[rows],
                    squared=squared,
                )
                for g, d in zip(pair, shifts, strict=True)
            ]

        def column_sum(u: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            plus, minus = sums(u, mask, rows, False)
            return plus - minus

        def variance(u: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            plus, minus = sums(u, mask, rows, True)
            return plus + minus

        return self.with_read_noise(column_sum, variance)

    def _wired(
        self, u: torch.Tensor, in_out: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Wire resistance: ``u`` (n, in); ``in_out`` arranges the weight as (in, out).

        ``path = "fast"``: the reduced circuit of :mod:`~neatxbar.mapping.wired_fast`, its
        once-per-weights work cached while the weight is unchanged (see :meth:`weight_side`);
        ``path = "exact"``: every tile solved as a circuit (:mod:`~neatxbar.mapping.wired`).
        """
        if self.config.path == "exact":
            gp, gn = (in_out(g) for g in self.physical_pair(self.weight))
            current = wired_sum(self.lut, self.config, self.v_gate, gp, gn, u)
        else:
            reduced = self.wired_tiles(in_out)
            n_out = in_out(self.weight).shape[1]
            current = fast_wired_sum(self.lut, self.config, reduced, u, n_out)
        if self.config.variation.read_noise_sigma == 0:
            return current
        # read noise with wires: its variance from the cells without IR drop (an approximation)
        variance = self._matmul_variance(
            lambda: self.weight_side("noise_wired", lambda: self.noise_matrices(in_out))
        )
        noisy = self.with_read_noise(lambda *_: current, variance)
        return noisy(u, None, slice(None))

    def wired_tiles(self, in_out: Callable[[torch.Tensor], torch.Tensor]) -> WiredTiles:
        """The wired fast path's once-per-weights reduction (cached while the weight is
        unchanged, see :meth:`weight_side`); ``in_out`` arranges the weight as (in, out)."""

        def build() -> WiredTiles:
            gp, gn = (in_out(g) for g in self.physical_pair(self.weight))
            return reduce_tiles(self.lut, self.config, self.v_gate, gp, gn)

        return self.weight_side("wired_tiles", build)

    def linear_in_inputs(self) -> bool:
        """True when the fast path is linear in the inputs (one term, degree 1, no DAC or ADC):
        then sum_i I(G_ij, |u_i| V_max) sign(u_i) = (x @ w) / x_scale and x_scale cancels, so
        the layer is one product of the raw inputs, as cheap as the ideal layer."""
        c = self.config
        return (
            c.path == "fast"
            and c.variation.read_noise_sigma == 0
            and c.dac_bits is None
            and c.adc_bits is None
            and not c.wires.any
            and self.cell_form.degree == 1
            and self.cell_form.n_terms == 1
        )

    @staticmethod
    def finish(
        current: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None
    ) -> torch.Tensor:
        """``current * scale + bias``, in place when no gradient is wanted (saves a copy)."""
        if torch.is_grad_enabled():
            out = current * scale
            return out if bias is None else out + bias
        out = current.mul_(scale)
        return out if bias is None else out.add_(bias)

    def extra_repr(self) -> str:
        c = self.config
        return f"v_gate={self.v_gate}, path={c.path!r}, tile={c.rows}x{c.cols}"


class CrossbarLinear(_CrossbarMapping):
    """The crossbar twin of :class:`torch.nn.Linear` (same ``weight`` and ``bias``)."""

    def __init__(
        self,
        linear: nn.Linear,
        lut: CellLUT,
        config: MappingConfig,
        v_gate: float | None = None,
        w_scale: float | None = None,
    ) -> None:
        super().__init__(lut, config, v_gate, w_scale)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().clone())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def _fast_weights(self) -> torch.Tensor:
        # (n_terms, in, out)
        return self.weight_side("fast_weights", lambda: self.fast_weight_matrices(torch.t))

    def _fast_sum(self) -> ColumnSum:
        form, w = self._form(self.weight), self._fast_weights()

        def column_sum(u: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            return fast_column_sum(
                form, w[:, rows], u[:, rows], None if mask is None else mask[:, rows]
            )

        variance = self._matmul_variance(
            lambda: self.weight_side("noise_matrices", lambda: self.noise_matrices(torch.t))
        )
        return self.with_read_noise(column_sum, variance)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        if self.linear_in_inputs():
            y = self.finish(x @ self._fast_weights()[0], self.output_scale(), self.bias)
            return y.reshape(*shape[:-1], self.out_features)
        u, x_scale = self.normalized_inputs(x.reshape(-1, self.in_features), dims=(1,))
        scale = x_scale * self.output_scale()
        if self.config.wires.any:
            current = self._wired(u, torch.t)
            return self.finish(current, scale, self.bias).reshape(*shape[:-1], self.out_features)
        column_sum = self._fast_sum() if self.config.path == "fast" else self._exact_sum(torch.t)
        tiles = [(t, t.stop - t.start) for t in row_tiles(self.in_features, self.config.rows)]
        y = self.finish(self.combine(column_sum, u, tiles), scale, self.bias)
        return y.reshape(*shape[:-1], self.out_features)


#: Output positions per image from which a wired convolution reads through convolutions
#: rather than its unfolded input. Measured on the digits ResNet18 at 0.75 V, batch 256, 2 cores
#: (the whole forward, best of 5 rounds taking turns): 64 positions 1.63 s, 16 positions
#: 1.53 s, 4 positions 1.73 s (small grouped convolutions are slow; at 1 x 1 and 2 x 2 outputs
#: the batched products of the unfolded read are faster).
WIRED_KERNEL_POSITIONS = 16


class CrossbarConv2d(_CrossbarMapping):
    """The crossbar twin of :class:`torch.nn.Conv2d` (zero padding only).

    The fast path needs no unfold: its terms are ordinary convolutions of odd functions of the
    input with the weight-side matrices, and every term is 0 at 0, so zero padding stays zero
    current. A tile holds whole input channels (``rows // (kh * kw)`` of them). The exact path
    unfolds the input (memory heavy: a reference).
    """

    def __init__(
        self,
        conv: nn.Conv2d,
        lut: CellLUT,
        config: MappingConfig,
        v_gate: float | None = None,
        w_scale: float | None = None,
    ) -> None:
        super().__init__(lut, config, v_gate, w_scale)
        if conv.padding_mode != "zeros":
            raise MappingError(f"padding_mode {conv.padding_mode!r} cannot be mapped: zeros only")
        if conv.groups != 1 and (
            config.path == "exact" or config.adc_bits is not None or config.wires.any
        ):
            raise MappingError(
                "grouped convolutions map only on the fast path without ADC or wires"
            )
        kh, kw = conv.kernel_size
        if config.adc_bits is not None and kh * kw > config.rows:
            raise MappingError(f"a {kh}x{kw} kernel does not fit into a tile of {config.rows} rows")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, conv.groups
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def _conv(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)

    def _fast_weights(self) -> torch.Tensor:
        # (n_terms, out, in/groups, kh, kw)
        return self.weight_side("fast_weights", self.fast_weight_matrices)

    def _fast(self, u: torch.Tensor) -> torch.Tensor:
        form, w = self._form(self.weight), self._fast_weights()

        def convolve(
            terms: Iterable[torch.Tensor],
            kernels: torch.Tensor,
            rows: slice,
            mask: torch.Tensor | None,
        ) -> torch.Tensor:
            out = None
            for term, kernel in zip(terms, kernels, strict=True):
                if mask is not None:
                    term = term * mask[:, rows]
                product = self._conv(term, kernel[:, rows])
                if out is None:
                    out = product
                elif torch.is_grad_enabled():
                    out = out + product
                else:
                    out.add_(product)
            return out

        def column_sum(uu: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            return convolve(form.terms(uu[:, rows]), w, rows, mask)

        def variance(uu: torch.Tensor, mask: torch.Tensor | None, rows: slice) -> torch.Tensor:
            m = self.weight_side("noise_matrices", self.noise_matrices)
            return convolve(self.noise_terms(uu[:, rows]), m, rows, mask)

        kh, kw = self.kernel_size
        per_tile = max(1, self.config.rows // (kh * kw))
        tiles = [(t, (t.stop - t.start) * kh * kw) for t in row_tiles(self.in_channels, per_tile)]
        return self.combine(self.with_read_noise(column_sum, variance), u, tiles)

    def _exact(self, u: torch.Tensor) -> torch.Tensor:
        """The exact (or, with wires, the circuit) path: unfold, then the Linear sum at every
        output position."""
        kh, kw = self.kernel_size
        cols = F.unfold(u, self.kernel_size, self.dilation, self.padding, self.stride)
        n, rows_total, positions = cols.shape
        flat = cols.transpose(1, 2).reshape(-1, rows_total)
        if self.config.wires.any:
            out = self._wired(flat, lambda w: w.reshape(self.out_channels, -1).t())
        else:
            column_sum = self._exact_sum(lambda w: w.reshape(self.out_channels, -1).t())
            tiles = [
                (t, t.stop - t.start) for t in row_tiles(rows_total, self.config.rows, kh * kw)
            ]
            out = self.combine(column_sum, flat, tiles)  # (n * positions, out)
        h_out, _ = self.geometry.output_size(*u.shape[2:])
        return (
            out.reshape(n, positions, -1).transpose(1, 2).reshape(n, -1, h_out, positions // h_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias.view(1, -1, 1, 1)
        if self.linear_in_inputs():
            current = self._conv(x, self._fast_weights()[0])
            return self.finish(current, self.output_scale(), bias)
        u, x_scale = self.normalized_inputs(x, dims=(1, 2, 3))
        if self.reads_wired_kernels(u):
            current = self._wired_kernels(u)
        elif self.config.path == "exact" or self.config.wires.any:
            current = self._exact(u)
        else:
            current = self._fast(u)
        return self.finish(current, x_scale * self.output_scale(), bias)

    def reads_wired_kernels(self, u: torch.Tensor) -> bool:
        """The wired fast path reads through convolutions (:mod:`~neatxbar.mapping.wired_conv`)
        where the outputs have at least :data:`WIRED_KERNEL_POSITIONS` positions per image
        (below, the batched products of the unfolded read are the faster); with read noise it
        takes the unfold (the noise's variance is formed there)."""
        c = self.config
        if not (c.wires.any and c.path == "fast" and c.variation.read_noise_sigma == 0):
            return False
        h_out, w_out = self.geometry.output_size(*u.shape[2:])
        return h_out * w_out >= WIRED_KERNEL_POSITIONS

    @property
    def geometry(self) -> ConvGeometry:
        return ConvGeometry(
            self.in_channels, self.kernel_size, self.stride, self.padding, self.dilation
        )

    def _wired_kernels(self, u: torch.Tensor) -> torch.Tensor:
        """The wired fast path without an unfold: ``u`` (n, in_channels, H, W)."""

        def build() -> WiredKernels:
            reduced = self.wired_tiles(lambda w: w.reshape(self.out_channels, -1).t())
            adc = self.config.adc_bits is not None
            return conv_kernels(reduced, self.geometry, per_tile=adc)

        kernels = self.weight_side("wired_kernels", build)
        return wired_conv_sum(self.lut, self.config, kernels, u, self.out_channels)


#: A crossbar twin's factory: ``factory(module, lut, config, v_gate, w_scale) -> nn.Module``, with
#: the layer to map, the :class:`~neatxbar.lut.interp.CellLUT`, the
#: :class:`~neatxbar.mapping.config.MappingConfig`, the layer's gate voltage (V) and its fixed
#: weight scale (the weight that maps to G_max, in the layer's units; None: the config's rule).
#: The twin classes themselves are factories.
TwinFactory = Callable[[nn.Module, CellLUT, MappingConfig, float, float | None], nn.Module]

#: Layer type -> factory of its crossbar twin; the first type (in the map's order) that a layer
#: is an instance of decides.
ConversionMap = Mapping[type[nn.Module], TwinFactory]

#: The conversion map ``convert`` uses by default: Linear and Conv2d (and their subclasses).
#: Read-only; extend it into a map of your own (``{MyLayer: my_twin, **DEFAULT_CONVERSION_MAP}``).
DEFAULT_CONVERSION_MAP: ConversionMap = MappingProxyType(
    {nn.Linear: CrossbarLinear, nn.Conv2d: CrossbarConv2d}
)


def check_conversion_map(conversion_map: ConversionMap | None) -> ConversionMap:
    """The map itself (None: :data:`DEFAULT_CONVERSION_MAP`) after checking that it maps
    ``nn.Module`` subclasses to callables.

    Raises
    ------
    MappingError
        Naming the first entry that is not a layer type and a factory.
    """
    if conversion_map is None:
        return DEFAULT_CONVERSION_MAP
    if not isinstance(conversion_map, Mapping):
        raise MappingError(
            f"conversion_map must map layer types to twin factories, got "
            f"{type(conversion_map).__name__}"
        )
    for kind, factory in conversion_map.items():
        if not (isinstance(kind, type) and issubclass(kind, nn.Module)):
            raise MappingError(f"conversion_map: key {kind!r} is not an nn.Module subclass")
        if not callable(factory):
            raise MappingError(
                f"conversion_map: the factory of {kind.__name__} is not callable: {factory!r}"
            )
    return conversion_map


def twin_factory(module: nn.Module, conversion_map: ConversionMap) -> TwinFactory | None:
    """The factory of the first type in ``conversion_map`` that ``module`` is an instance of."""
    for kind, factory in conversion_map.items():
        if isinstance(module, kind):
            return factory
    return None


def is_twin(module: nn.Module, conversion_map: ConversionMap) -> bool:
    """True for a crossbar twin: the toolkit's, or an instance of a factory that is a class."""
    kinds = tuple(f for f in conversion_map.values() if isinstance(f, type))
    return isinstance(module, (_CrossbarMapping, *kinds))


def crossbar_layers(
    model: nn.Module, conversion_map: ConversionMap | None = None
) -> dict[str, nn.Module]:
    """The layers that go onto crossbars, by name (as in ``model.named_modules()``): every layer
    the conversion map matches (default: Linear and Conv2d) and every crossbar twin. The modules
    inside a matched layer are not listed (``convert`` replaces the layer as a whole)."""
    conversion_map = check_conversion_map(conversion_map)
    found: dict[str, nn.Module] = {}
    inside: str | None = None  # named_modules() is pre-order: a layer's modules follow it
    for name, module in model.named_modules():
        if inside is not None and (inside == "" or name.startswith(inside + ".")):
            continue
        inside = None
        if is_twin(module, conversion_map) or twin_factory(module, conversion_map) is not None:
            found[name] = module
            inside = name
    return found
