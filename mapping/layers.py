"""``CrossbarLinear`` and ``CrossbarConv2d``: Linear and Conv2d computed the way 1T-1R crossbars do.

Weights map to differential conductance pairs and inputs to voltages as
:class:`~neatxbar.mapping.config.MappingConfig` says; each output is the difference of two
column currents, summed over the tiles, rescaled back to the layer's units, plus the bias
(digital). Gradients flow through the LUT (exact path) or its separable form (fast path) to the
weights and the inputs; quantizers (conductance levels, DAC, ADC) pass gradients straight through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from neatxbar.lut.interp import CellLUT
from neatxbar.lut.separable import SeparableCell
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.crossbar import exact_column_sum, fast_column_sum
from neatxbar.mapping.quantize import quantize_symmetric, quantize_unit
from neatxbar.mapping.tiling import row_tiles

_TINY = 1e-30

#: A column sum over the input rows ``rows`` for voltages ``v`` weighted by ``s``.
ColumnSum = Callable[[torch.Tensor, torch.Tensor, slice], torch.Tensor]


class _CrossbarMapping(nn.Module):
    """What both crossbar layers share: the LUT, the gate voltage, the mapping of weights and
    inputs, the phases and tiles, and the rescaling."""

    def __init__(self, lut: CellLUT, config: MappingConfig, v_gate: float | None) -> None:
        super().__init__()
        config.validate()
        self.lut, self.config = lut, config
        self.v_gate = float(config.v_gate if v_gate is None else v_gate)
        lut.gate_index(self.v_gate)  # LUTError when the gate voltage is not on the grid
        self._forms: dict[tuple[torch.dtype, torch.device], SeparableCell] = {}

    @property
    def form(self) -> SeparableCell:
        """The fast path's separable form at this layer's V_gate (``rank`` is K)."""
        return self.lut.separable(self.v_gate, self.config.error_budget)

    def _form(self, like: torch.Tensor) -> SeparableCell:
        key = (like.dtype, like.device)
        if key not in self._forms:
            self._forms[key] = self.form.to(like.dtype, like.device)
        return self._forms[key]

    @property
    def g_range(self) -> tuple[float, float]:
        """[G_min, G_max] of the mapping (S): the LUT's conductance range."""
        return self.lut.g_min_s, self.lut.g_on_s

    def weight_scale(self, weight: torch.Tensor) -> torch.Tensor:
        """w_scale: the config's ``w_cut``, or max |w|."""
        if self.config.w_cut is not None:
            return weight.new_tensor(self.config.w_cut)
        return weight.abs().max().clamp_min(_TINY)

    def conductance_pair(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(G+, G-) in S for ``weight``, same shape; weights beyond w_scale are clipped."""
        scale = self.weight_scale(weight)
        f = (weight / scale).clamp(-1.0, 1.0)
        bits = self.config.conductance_bits
        positive = quantize_unit(f.clamp_min(0.0), None if bits is None else bits)
        negative = quantize_unit((-f).clamp_min(0.0), None if bits is None else bits)
        g_min, g_max = self.g_range
        return g_min + (g_max - g_min) * positive, g_min + (g_max - g_min) * negative

    def input_voltages(
        self, x: torch.Tensor, dims: tuple[int, ...]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(V, sign, x_scale): |x| / x_scale * V_max (DAC-quantized), sign(x), and the
        per-sample scale max |x| over ``dims``."""
        x_scale = x.abs().amax(dim=dims, keepdim=True).clamp_min(_TINY)
        unit = quantize_unit((x.abs() / x_scale).clamp(0.0, 1.0), self.config.dac_bits)
        return unit * self.lut.v_max, torch.sign(x), x_scale

    def output_scale(self, weight: torch.Tensor) -> torch.Tensor:
        """Factor from differential current (A) back to the layer's units, per x_scale."""
        g_min, g_max = self.g_range
        return self.weight_scale(weight) / ((g_max - g_min) * self.lut.v_max)

    def combine(self, column_sum: ColumnSum, v: torch.Tensor, sign: torch.Tensor,
                tiles: list[tuple[slice, int]]) -> torch.Tensor:  # fmt: skip
        """Differential current of every output: phases and tiles, with the ADC if it is on.

        Without an ADC both phases and all tiles are one column sum weighted by sign(x). With
        it, each phase (x > 0, x < 0) and each tile is converted on its own and summed after.
        ``tiles`` holds each tile's slice of ``v``'s dimension 1 and its number of rows.
        """
        if self.config.adc_bits is None:
            return column_sum(v, sign, slice(None))
        g_min, g_max = self.g_range
        out = None
        for phase in (1.0, -1.0):
            mask = (sign == phase).to(v.dtype)
            if phase < 0 and not bool(mask.any()):
                continue  # all inputs >= 0: one phase is enough
            for rows, n_rows in tiles:
                full_scale = n_rows * (g_max - g_min) * self.lut.v_max * self.config.adc_range
                part = quantize_symmetric(column_sum(v, mask, rows), full_scale,
                                          self.config.adc_bits)  # fmt: skip
                part = phase * part
                out = part if out is None else out + part
        return out

    def extra_repr(self) -> str:
        c = self.config
        return f"v_gate={self.v_gate}, path={c.path!r}, tile={c.rows}x{c.cols}"


class CrossbarLinear(_CrossbarMapping):
    """The crossbar twin of :class:`torch.nn.Linear` (same ``weight`` and ``bias``)."""

    def __init__(self, linear: nn.Linear, lut: CellLUT, config: MappingConfig,
                 v_gate: float | None = None) -> None:  # fmt: skip
        super().__init__(lut, config, v_gate)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().clone())
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def _column_sum(self, gp: torch.Tensor, gn: torch.Tensor) -> ColumnSum:
        cfg = self.config
        if cfg.path == "fast":
            form = self._form(gp)
            a = form.a(gp.t()) - form.a(gn.t())  # (K, in, out): one matrix per k for the pair
            return lambda v, s, rows: fast_column_sum(form, a[:, rows], v[:, rows], s[:, rows])

        def exact(v: torch.Tensor, s: torch.Tensor, rows: slice) -> torch.Tensor:
            pair = (
                exact_column_sum(self.lut, g.t()[rows], v[:, rows], s[:, rows], self.v_gate,
                                 method=cfg.interpolation, chunk_elements=cfg.exact_chunk_elements)
                for g in (gp, gn)
            )  # fmt: skip
            return torch.sub(*pair)

        return exact

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, self.in_features)
        v, sign, x_scale = self.input_voltages(x, dims=(1,))
        gp, gn = self.conductance_pair(self.weight)
        tiles = [(t, t.stop - t.start) for t in row_tiles(self.in_features, self.config.rows)]
        current = self.combine(self._column_sum(gp, gn), v, sign, tiles)
        y = current * x_scale * self.output_scale(self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features)


class CrossbarConv2d(_CrossbarMapping):
    """The crossbar twin of :class:`torch.nn.Conv2d` (zero padding only).

    The fast path needs no unfold: it is K ordinary convolutions of b_k(V) with a_k(G+) - a_k(G-),
    and b_k(0) = 0 keeps zero padding at zero current. A tile holds whole input channels
    (``rows // (kh * kw)`` of them). The exact path unfolds the input (memory heavy: a reference).
    """

    def __init__(self, conv: nn.Conv2d, lut: CellLUT, config: MappingConfig,
                 v_gate: float | None = None) -> None:  # fmt: skip
        super().__init__(lut, config, v_gate)
        if conv.padding_mode != "zeros":
            raise ValueError(f"padding_mode {conv.padding_mode!r} cannot be mapped: zeros only")
        if conv.groups != 1 and (config.path == "exact" or config.adc_bits is not None):
            raise ValueError("grouped convolutions map only on the fast path without ADC")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, conv.groups
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    def _conv(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, None, self.stride, self.padding, self.dilation, self.groups)

    def _fast(self, gp: torch.Tensor, gn: torch.Tensor) -> ColumnSum:
        form = self._form(gp)
        a = form.a(gp) - form.a(gn)  # (K, out, in/groups, kh, kw)

        def column_sum(v: torch.Tensor, s: torch.Tensor, rows: slice) -> torch.Tensor:
            out = None
            for k in range(form.rank):
                term = self._conv(form.b_term(k, v[:, rows]) * s[:, rows], a[k][:, rows])
                out = term if out is None else out + term
            return out

        return column_sum

    def _exact(self, x: torch.Tensor, v: torch.Tensor, sign: torch.Tensor,
               gp: torch.Tensor, gn: torch.Tensor) -> torch.Tensor:  # fmt: skip
        """The exact path: unfold, then the Linear exact sum at every output position."""
        cfg = self.config
        kh, kw = self.kernel_size
        unfold = lambda t: F.unfold(t, self.kernel_size, self.dilation, self.padding,  # noqa: E731
                                    self.stride)  # fmt: skip
        cols_v, cols_s = unfold(v), unfold(sign)  # (B, C*kh*kw, L)
        n, rows_total, positions = cols_v.shape
        flat_v = cols_v.transpose(1, 2).reshape(-1, rows_total)
        flat_s = cols_s.transpose(1, 2).reshape(-1, rows_total)
        gp2, gn2 = gp.reshape(self.out_channels, -1).t(), gn.reshape(self.out_channels, -1).t()

        def column_sum(vv: torch.Tensor, ss: torch.Tensor, rows: slice) -> torch.Tensor:
            pair = (
                exact_column_sum(self.lut, g[rows], vv[:, rows], ss[:, rows], self.v_gate,
                                 method=cfg.interpolation, chunk_elements=cfg.exact_chunk_elements)
                for g in (gp2, gn2)
            )  # fmt: skip
            return torch.sub(*pair)

        tiles = [(t, t.stop - t.start) for t in row_tiles(rows_total, cfg.rows, kh * kw)]
        out = self.combine(column_sum, flat_v, flat_s, tiles)  # (B*L, out)
        h = (x.shape[2] + 2 * self.padding[0] - self.dilation[0] * (kh - 1) - 1) // self.stride[
            0
        ] + 1
        return out.reshape(n, positions, -1).transpose(1, 2).reshape(n, -1, h, positions // h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v, sign, x_scale = self.input_voltages(x, dims=(1, 2, 3))
        gp, gn = self.conductance_pair(self.weight)
        if self.config.path == "exact":
            current = self._exact(x, v, sign, gp, gn)
        else:
            kh, kw = self.kernel_size
            per_tile = max(1, self.config.rows // (kh * kw))
            if self.config.adc_bits is not None and kh * kw > self.config.rows:
                raise ValueError(f"a {kh}x{kw} kernel does not fit into {self.config.rows} rows")
            tiles = [
                (t, (t.stop - t.start) * kh * kw) for t in row_tiles(self.in_channels, per_tile)
            ]
            current = self.combine(self._fast(gp, gn), v, sign, tiles)
        y = current * x_scale * self.output_scale(self.weight)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y
