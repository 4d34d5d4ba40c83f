"""The wired fast path of a convolution, read with convolutions instead of an unfold.

A wired tile's read (:mod:`neatxbar.mapping.wired_fast`) is a sum over its rows of basis
functions of the row voltages times per-cell coordinates. For a convolution the rows are the
unfolded input (channel, kernel tap), so every input value feeds ``kh * kw`` rows: the basis
functions are evaluated on the input itself, once per value, and the sums are convolutions
with kernels holding the cells' coordinates. The tiles are those of the unfolded weight
(``rows`` consecutive rows of (in_channels * kh * kw, out)), so a tile may hold a part of a
channel's kernel: each tile's families are a grouped convolution over the channels it touches
(gathered per tile), with zeros at the taps outside it; the main family, summed over the row
tiles, is one convolution of the whole weight. The constants (the cells at 0 V) are the
convolutions' biases. Zero padding is rows at 0 V, as in the unfold.

The numbers are those of :func:`~neatxbar.mapping.wired_fast.differential_currents` on the
unfolded input, up to rounding (tested); the cost drops by the unfold's factor ``kh * kw`` in the
basis functions and by the unfold and its copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neatxbar.core.checks import check_integer
from neatxbar.lut.interp import CellLUT
from neatxbar.mapping.config import MappingConfig
from neatxbar.mapping.wired_fast import (
    READ_CHUNK,
    TILE_CHUNK,
    FamilyGroup,
    WiredTiles,
    basis_functions,
    merge_phases,
    phases,
    tile_adc,
)


@dataclass(frozen=True)
class ConvGeometry:
    """A convolution's shape: input channels, kernel (kh, kw), stride, padding, dilation."""

    in_channels: int
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(H', W'): the output's size for inputs of ``height`` x ``width``."""
        sizes = zip(
            (height, width), self.kernel_size, self.stride, self.padding, self.dilation, strict=True
        )
        h_out, w_out = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in sizes)
        return h_out, w_out

    def conv(
        self, x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor, groups: int = 1
    ) -> torch.Tensor:
        return F.conv2d(x, kernel, bias, self.stride, self.padding, self.dilation, groups)


@dataclass(frozen=True)
class FamilyKernels:
    """One family as convolution kernels: ``tiles`` (t_in * t_out * width, K * span, kh, kw),
    grouped by row tile, and their biases; ``whole`` (t_out * width, K * in_channels, kh, kw)
    and its bias, the sum over the row tiles (for the main family without the ADC)."""

    tiles: torch.Tensor | None
    tiles_bias: torch.Tensor | None
    whole: torch.Tensor | None
    whole_bias: torch.Tensor | None


@dataclass(frozen=True)
class WiredKernels:
    """A convolution's wired reduction as convolution kernels.

    Attributes
    ----------
    reduced
        The reduction (:class:`~neatxbar.mapping.wired_fast.WiredTiles`, ``differential``).
    geometry
        The convolution's shape.
    channels
        (t_in * span,): the input channels each row tile touches, ``span`` per tile (the last
        repeated where a tile touches fewer); None with one row tile (all channels).
    span
        Input channels per tile's grouped convolution.
    main, rise, cross, loading
        The families' kernels (``loading`` None where it is left out).
    """

    reduced: WiredTiles
    geometry: ConvGeometry
    channels: torch.Tensor | None
    span: int
    main: FamilyKernels
    rise: FamilyKernels
    cross: FamilyKernels
    loading: FamilyKernels | None

    @property
    def terms(self) -> dict[str, int]:
        return self.reduced.terms


def conv_kernels(reduced: WiredTiles, geometry: ConvGeometry, per_tile: bool) -> WiredKernels:
    """The kernels of ``reduced`` (a differential reduction of the unfolded weight, (in_channels
    * kh * kw, out)); ``per_tile``: the main family per row tile too (for the ADC).
    Differentiable in the reduction."""
    if not reduced.differential:
        raise ValueError("the convolution read takes a differential reduction")
    taps = geometry.kernel_size[0] * geometry.kernel_size[1]
    channels_total, rows, t_in = geometry.in_channels, reduced.rows, reduced.t_in
    first = [t * rows // taps for t in range(t_in)]
    last = [min(channels_total, ((t + 1) * rows - 1) // taps + 1) for t in range(t_in)]
    span = max(b - a for a, b in zip(first, last, strict=True))
    device = reduced.main.weights.device
    # each tile's (channel, tap) -> its local row, and whether the tile holds it
    channel = torch.tensor(first, device=device).view(-1, 1) + torch.arange(span, device=device)
    row = channel.unsqueeze(-1) * taps + torch.arange(taps, device=device)  # (t_in, span, taps)
    local = row - (torch.arange(t_in, device=device) * rows).view(-1, 1, 1)
    held = (local >= 0) & (local < rows) & (channel.unsqueeze(-1) < channels_total)
    gather = (local.clamp(0, rows - 1).flatten(1), held.flatten(1))

    def kernels(group: FamilyGroup, tiles: bool, whole: bool) -> FamilyKernels:
        terms, _, _, width = group.weights.shape
        tile_kernels = tile_bias = whole_kernel = whole_bias = None
        if tiles:
            index = gather[0].view(1, t_in, -1, 1).expand(terms, -1, -1, width)
            coords = group.weights.gather(2, index) * gather[1].view(1, t_in, -1, 1)
            coords = coords.view(terms, t_in, span, *geometry.kernel_size, width)
            tile_kernels = coords.permute(1, 5, 0, 2, 3, 4).reshape(
                t_in * width, -1, *coords.shape[3:5]
            )
            tile_bias = group.constant.reshape(-1)
        if whole:
            coords = group.weights.flatten(1, 2)[:, : channels_total * taps]
            coords = coords.view(terms, channels_total, *geometry.kernel_size, width)
            whole_kernel = coords.permute(4, 0, 1, 2, 3).reshape(width, -1, *coords.shape[2:4])
            whole_bias = group.constant.sum(0).reshape(-1)
        return FamilyKernels(tile_kernels, tile_bias, whole_kernel, whole_bias)

    channels = None if t_in == 1 else channel.clamp_max(channels_total - 1).flatten()
    return WiredKernels(
        reduced,
        geometry,
        channels,
        span if t_in > 1 else channels_total,
        kernels(reduced.main, per_tile, not per_tile),
        kernels(reduced.rise, True, False),
        kernels(reduced.cross, True, False),
        None if reduced.loading is None else kernels(reduced.loading, True, False),
    )


def _read(kernels: WiredKernels, v: torch.Tensor, summed: bool) -> torch.Tensor:
    """Differential currents (A) of every pair of every tile, (n, t_in, t_out * pairs, H', W'),
    or summed over the row tiles (n, t_out * pairs, H', W'), for row voltages as fractions of
    V_max ``v`` (n, in_channels, H, W) in [0, 1]: the basis functions and the main family's
    convolution in chunks of :data:`~neatxbar.mapping.wired_fast.READ_CHUNK` elements of the
    powers, the per-tile families in smaller ones (:data:`~neatxbar.mapping.wired_fast.
    TILE_CHUNK` elements of their sums)."""
    reduced, geometry = kernels.reduced, kernels.geometry
    n = v.shape[0]
    step = max(1, READ_CHUNK // (v[0].numel() * len(reduced.basis)))
    if n > step:
        parts = [_read(kernels, v[start : start + step], summed) for start in range(0, n, step)]
        return torch.cat(parts, dim=0)
    main, *small = basis_functions(reduced, v)  # each (K, n, C, H, W)
    h_out, w_out = geometry.output_size(*v.shape[2:])
    outputs = reduced.t_in * reduced.t_out * reduced.cols * h_out * w_out
    step = max(1, TILE_CHUNK // outputs)
    corrections = [
        _corrections(kernels, [f[:, start : start + step] for f in small], summed)
        for start in range(0, n, step)
    ]
    correction = torch.cat(corrections, dim=0).flatten(-2)  # (n, H', W', [t_in,] out)
    if summed:
        x = main.transpose(0, 1).flatten(1, 2)  # (n, K * C, H, W)
        whole = geometry.conv(x, kernels.main.whole, kernels.main.whole_bias)
        return whole + correction.permute(0, 3, 1, 2)
    per_tile = _tiled(kernels, kernels.main, main).flatten(-2) + correction
    return per_tile.permute(0, 3, 4, 1, 2)


def _tiled(kernels: WiredKernels, family: FamilyKernels, feature: torch.Tensor) -> torch.Tensor:
    """(n, H', W', t_in, t_out, width): a family's sums per row tile, from its basis functions
    at the inputs (K, n, C, H, W); a grouped convolution in channels-last layout (the fastest
    here for these few input channels per group)."""
    reduced = kernels.reduced
    x = feature.permute(1, 3, 4, 0, 2)  # (n, H, W, K, C)
    if kernels.channels is not None:  # each tile's channels: (n, H, W, t_in, K, span)
        x = x[..., kernels.channels].unflatten(-1, (reduced.t_in, kernels.span))
        x = x.transpose(-3, -2)
    x = x.reshape(*x.shape[:3], -1).permute(0, 3, 1, 2)  # channels last
    out = kernels.geometry.conv(x, family.tiles, family.tiles_bias, groups=reduced.t_in)
    out = out.permute(0, 2, 3, 1)
    return out.reshape(*out.shape[:3], reduced.t_in, reduced.t_out, -1)


def _corrections(kernels: WiredKernels, features: list[torch.Tensor], summed: bool) -> torch.Tensor:
    """The per-tile families' share, (n, H', W', t_in, t_out, pairs) or summed over the row
    tiles (n, H', W', t_out, pairs), from their basis functions (q, X~ and E where kept)."""
    reduced = kernels.reduced
    rise, cross, *loading = features
    shape = (1, 1, 1, reduced.t_in, reduced.t_out, 1)
    q = _tiled(kernels, kernels.rise, rise)
    # the tile's amplitude beyond the reference, from the mean first-mode coefficient
    mean = q.mean(-1, keepdim=True) if loading else q
    amplitude = (mean - reduced.reference.view(shape)) * reduced.gain.view(shape)
    correction = _tiled(kernels, kernels.cross, cross) * amplitude
    if summed:
        correction = correction.sum(3)
    if loading:  # q E per physical column: G+ columns, then G- columns signed in E
        width = reduced.cols // 2
        product = _tiled(kernels, kernels.loading, loading[0]) * q
        if summed:
            product = product.sum(3)
        correction = correction - (product[..., :width] + product[..., width:])
    return correction


def wired_conv_sum(
    lut: CellLUT, config: MappingConfig, kernels: WiredKernels, u: torch.Tensor, n_out: int
) -> torch.Tensor:
    """Differential current (A) of every output, (n, n_out, H', W'), from signed normalized
    inputs ``u`` (n, in_channels, H, W): both phases in one read of every tile, the ADC per tile
    and phase when it is on, summed over the tiles (as
    :func:`~neatxbar.mapping.wired_fast.fast_wired_sum` on the unfolded input)."""
    check_integer("n_out", n_out, low=1)
    reduced = kernels.reduced
    per_tile = config.adc_bits is not None
    if per_tile != (kernels.main.tiles is not None):
        raise ValueError("the kernels were built for the other ADC setting")
    part, count = phases(u)
    current = _read(kernels, part.to(reduced.main.weights.dtype), summed=not per_tile)
    if per_tile:
        current = tile_adc(lut, config, reduced.rows, current, dim=1)
    return merge_phases(current.unflatten(0, (count, -1))[:, :, :n_out]).to(u.dtype)
