"""The fast path's weight side from the pair table equals the conductance lookup (the
definition, kept as ``fast_weight_matrices(reference=True)``)."""

from __future__ import annotations

from functools import partialmethod
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

from neatxbar.lut import CellLUT
from neatxbar.mapping import CrossbarConv2d, CrossbarLinear, MappingConfig
from neatxbar.mapping.layers import _CrossbarMapping


def _reference() -> mock._patch:
    """The layers build their weight side the old way (a_k at G+ and G-)."""
    build = _CrossbarMapping.fast_weight_matrices
    return mock.patch.object(
        _CrossbarMapping, "fast_weight_matrices", partialmethod(build, reference=True)
    )


def _layer(
    kind: str, lut: CellLUT, dtype: torch.dtype, v_gate: float, **config: object
) -> _CrossbarMapping:
    torch.manual_seed(0)
    w_scale = config.pop("w_scale", None)
    base = nn.Linear(37, 23) if kind == "linear" else nn.Conv2d(5, 7, 3, padding=1)
    base = base.to(dtype)
    with torch.no_grad():
        flat = base.weight.view(-1)
        flat[:6] = 0.0  # exact zeros: s = 0, where both halves of the pair pass gradients
        if w_scale is not None:
            flat[6:9] = torch.tensor([w_scale, -w_scale, 2 * w_scale])  # |s| = 1, and clipped
    twin = CrossbarLinear if kind == "linear" else CrossbarConv2d
    return twin(base, lut, MappingConfig(**config), v_gate=v_gate, w_scale=w_scale)


def _matrices_and_gradient(layer: _CrossbarMapping, reference: bool) -> tuple:
    layer.weight.grad = None
    w = layer.fast_weight_matrices(reference=reference)
    probe = torch.randn(w.shape, generator=torch.Generator().manual_seed(1), dtype=w.dtype)
    (w * probe).sum().backward()
    return w.detach(), layer.weight.grad.clone()


def _close(new: torch.Tensor, old: torch.Tensor, scale: float) -> None:
    eps = torch.finfo(new.dtype).eps
    torch.testing.assert_close(new, old, rtol=0, atol=256 * eps * scale)


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("v_gate", [0.7, 0.75, 1.0])
@pytest.mark.parametrize("bits", [None, 4, 6])  # 6 bits: every level is a conductance grid point
@pytest.mark.parametrize("w_scale", [None, 0.2])
def test_weight_matrices_and_gradients_equal_the_conductance_lookup(
    paper: CellLUT,
    kind: str,
    dtype: torch.dtype,
    v_gate: float,
    bits: int | None,
    w_scale: float | None,
) -> None:
    layer = _layer(kind, paper, dtype, v_gate, conductance_bits=bits, w_scale=w_scale)
    new_w, new_grad = _matrices_and_gradient(layer, reference=False)
    old_w, old_grad = _matrices_and_gradient(layer, reference=True)
    assert new_w.is_contiguous()
    _close(new_w, old_w, paper.g_on_s * paper.v_max)
    _close(new_grad, old_grad, float(old_grad.abs().max()))


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("v_gate", [0.7, 1.0])  # 1.0 V: linear in the inputs (one product)
def test_layer_outputs_and_gradients_in_train_and_eval_mode(
    paper: CellLUT, kind: str, dtype: torch.dtype, v_gate: float
) -> None:
    layer = _layer(kind, paper, dtype, v_gate, w_scale=0.2)
    shape = (4, 37) if kind == "linear" else (4, 5, 6, 6)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2), dtype=dtype)
    for reference in (False, True):
        with _reference() if reference else mock.patch.dict({}):
            layer.train()
            layer.weight.grad = None
            y = layer(x)
            y.square().sum().backward()
            result = (y.detach(), layer.weight.grad.clone())
            layer.eval()
            with torch.no_grad():
                result = (*result, layer(x))
        if not reference:
            new = result
            layer._cached.clear()
    scale = float(new[0].abs().max())
    _close(new[0], result[0], scale)
    _close(new[1], result[1], float(result[1].abs().max()))
    _close(new[2], result[2], scale)


def test_the_inference_cache_follows_the_weights(paper: CellLUT) -> None:
    layer = _layer("conv", paper, torch.float64, 0.7, w_scale=0.2).eval()
    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        before = layer(x)
        assert torch.equal(layer(x), before)  # from the cache
        layer.weight.mul_(-0.5)
        after = layer(x)
        with _reference():
            layer._cached.clear()
            expected = layer(x)
    assert not torch.allclose(after, before)
    torch.testing.assert_close(after, expected, rtol=0, atol=1e-12 * float(expected.abs().max()))


def test_gradcheck_through_the_pair_table(paper: CellLUT) -> None:
    """Away from s = 0 (where both halves of the pair pass the gradient, as in the reference)."""
    layer = CrossbarLinear(nn.Linear(4, 3).double(), paper, MappingConfig(), 0.7, w_scale=0.5)
    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    weight = (0.4 * torch.rand(3, 4, dtype=torch.float64) + 0.05) * torch.tensor([1.0, -1.0] * 2)
    weight.requires_grad_()

    def run(weight: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, {"weight": weight}, (inputs,))

    assert torch.autograd.gradcheck(run, (weight, x), eps=1e-7, atol=1e-9)


@pytest.mark.parametrize("g_range", [None, (5e-6, 2e-5)])  # the LUT's range, or inside it
def test_a_non_uniform_conductance_grid(tmp_path: Path, g_range: tuple | None) -> None:
    from lut_factory import write_lut

    def current(g: np.ndarray, v: np.ndarray, vg: np.ndarray) -> np.ndarray:
        return g * v / (1 + 3e4 * g * v / vg)  # saturating, so a_k is not linear in G

    g = 1 / np.geomspace(300e3, 30e3, 12)
    lut = CellLUT.load(write_lut(tmp_path / "geom.h5", current, g=g))
    form = lut.separable(0.8)
    g_min, g_max = g_range or (lut.g_min_s, lut.g_on_s)
    table = form.pair_table(g_min, g_max)
    s = torch.cat([torch.linspace(-1, 1, 401, dtype=torch.float64), torch.zeros(1)])
    s = s.requires_grad_()
    new = table(s.clamp_min(0) - (-s).clamp_min(0))  # as the layers build s (from q+ and q-)
    (new_grad,) = torch.autograd.grad(new.sum(), s)
    s_old = s.detach().clone().requires_grad_()
    pair = [g_min + (g_max - g_min) * part.clamp_min(0) for part in (s_old, -s_old)]
    old = form.weights(form.a(pair[0]) - form.a(pair[1]))
    (old_grad,) = torch.autograd.grad(old.sum(), s_old)
    scale = lut.g_on_s * lut.v_max
    torch.testing.assert_close(new, old, rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(new_grad, old_grad, rtol=0, atol=1e-12 * scale)
