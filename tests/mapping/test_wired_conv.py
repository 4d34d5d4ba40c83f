"""The wired fast path's convolution read against its read of the unfolded input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig
from neatxbar.mapping.wired_conv import ConvGeometry, conv_kernels, wired_conv_sum
from neatxbar.mapping.wired_fast import fast_wired_sum, reduce_tiles
from neatxbar.spice.params import Wires

WIRES = Wires(r_row=2.5, r_col=2.5)


@pytest.mark.parametrize(
    ("channels", "kernel", "stride", "padding", "dilation", "rows"),
    [
        (5, (3, 3), (1, 1), (1, 1), (1, 1), 16),  # tiles cut through channels' kernels
        (3, (3, 2), (2, 1), (0, 1), (1, 2), 8),  # a tile holds a part of one channel
        (4, (1, 1), (1, 1), (0, 0), (1, 1), 8),  # 1 x 1, whole channels per tile
        (2, (3, 3), (1, 1), (1, 1), (1, 1), 32),  # one row tile
    ],
)
@pytest.mark.parametrize("adc_bits", [None, 6])
@pytest.mark.parametrize("v_gate", [0.75, 1.0])
def test_the_convolution_read_is_the_unfolded_read(
    lut: CellLUT,
    channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    rows: int,
    adc_bits: int | None,
    v_gate: float,
) -> None:
    gen = torch.Generator().manual_seed(channels * rows)
    out = 5
    span = lut.g_on_s - lut.g_min_s
    gp, gn = (
        lut.g_min_s + span * torch.rand(channels * kernel[0] * kernel[1], out, generator=gen)
        for _ in range(2)
    )
    gp, gn = gp.double(), gn.double()
    config = MappingConfig(rows=rows, cols=4, wires=WIRES, adc_bits=adc_bits)
    reduced = reduce_tiles(lut, config, v_gate, gp, gn)
    u = torch.rand(3, channels, 6, 7, generator=gen, dtype=torch.float64) * 2 - 0.5
    u[0, 0] = 0.0  # a channel at 0 V

    geometry = ConvGeometry(channels, kernel, stride, padding, dilation)
    kernels = conv_kernels(reduced, geometry, per_tile=adc_bits is not None)
    got = wired_conv_sum(lut, config, kernels, u.clamp(-1, 1), out)

    unfolded = F.unfold(u.clamp(-1, 1), kernel, dilation, padding, stride)  # (n, C kh kw, L)
    flat = unfolded.transpose(1, 2).reshape(-1, unfolded.shape[1])
    expected = fast_wired_sum(lut, config, reduced, flat, out)
    expected = expected.view(3, -1, out).transpose(1, 2).reshape(got.shape)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9 * float(expected.abs().max()))


def test_gradients_flow_through_the_kernels(lut: CellLUT) -> None:
    """The kernels follow the reduction's coordinates: the weights' gradient through the
    convolution read equals the one through the unfolded read."""
    gen = torch.Generator().manual_seed(7)
    config = MappingConfig(rows=8, cols=4, wires=WIRES)
    g = lut.g_min_s + (lut.g_on_s - lut.g_min_s) * torch.rand(2, 18, 3, generator=gen)
    u = torch.rand(2, 2, 4, 4, generator=gen, dtype=torch.float64)
    geometry = ConvGeometry(2, (3, 3), (1, 1), (1, 1), (1, 1))
    grads = []
    for conv in (True, False):
        gp, gn = (x.double().clone().requires_grad_(True) for x in g)
        reduced = reduce_tiles(lut, config, 0.8, gp, gn)
        if conv:
            y = wired_conv_sum(lut, config, conv_kernels(reduced, geometry, False), u, 3)
        else:
            flat = F.unfold(u, 3, 1, 1, 1).transpose(1, 2).reshape(-1, 18)
            y = fast_wired_sum(lut, config, reduced, flat, 3)
        y.square().sum().backward()
        grads.append(torch.cat([gp.grad, gn.grad]))
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-12)
