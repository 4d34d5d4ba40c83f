"""The wired fast path against the reference circuit solver, on small arrays made here."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.mapping.layers import WIRED_KERNEL_POSITIONS
from neatxbar.mapping.wired import pair_tiles
from neatxbar.mapping.wired_fast import column_currents, column_modes, reduce_tiles
from neatxbar.mapping.wired_rows import column_rise, row_drop
from neatxbar.spice.params import Wires

WIRES = Wires(r_row=2.5, r_col=2.5)


def _pairs(lut: CellLUT, rows: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    span = lut.g_on_s - lut.g_min_s
    return tuple(
        lut.g_min_s + span * torch.rand(rows, cols // 2, generator=gen, dtype=torch.float64)
        for _ in range(2)
    )


def _inputs(rows: int, kind: str, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    v = torch.rand(32, rows, generator=gen, dtype=torch.float64)
    if kind == "sparse":  # most rows at 0 V, as after a ReLU
        v = v * (torch.rand(32, rows, generator=gen, dtype=torch.float64) < 0.3)
        v[:, 0] = 0.5  # no vector all zero (its currents would all be about 0 A)
    return v


@pytest.mark.parametrize("size", [8, 16, 32])
@pytest.mark.parametrize("v_gate", [0.75, 0.85, 1.0])
@pytest.mark.parametrize("kind", ["uniform", "sparse"])
def test_column_currents_match_the_reference_solver(
    lut: CellLUT, size: int, v_gate: float, kind: str
) -> None:
    """Within 0.2 % of the circuit solver (of each vector's largest column current), where the
    wires move the currents far more."""
    gp, gn = _pairs(lut, size, size, seed=size)
    config = MappingConfig(rows=size, cols=size, wires=WIRES)
    v = _inputs(size, kind, seed=size + 1)
    tile = pair_tiles(gp, gn, size, size // 2, lut.g_min_s)[0]
    reference = solve(lut, tile, v * lut.v_max, v_gate, CircuitConfig(WIRES)).column_currents
    reduced = reduce_tiles(lut, config, v_gate, gp, gn, differential=False)
    fast = column_currents(reduced, v.unsqueeze(0))[0]
    no_wires = lut.current(tile, (v * lut.v_max).unsqueeze(-1), v_gate).sum(dim=1)
    largest = reference.abs().amax(dim=1, keepdim=True)  # per input vector
    error = float(((fast - reference) / largest).abs().max())
    wire_effect = float(((no_wires - reference) / largest).abs().max())
    assert error < 2e-3
    assert wire_effect > 10 * error


@pytest.mark.parametrize("v_gate", [0.75, 1.0])
def test_the_summed_read_is_the_sum_of_the_tiles_reads(lut: CellLUT, v_gate: float) -> None:
    """The main family summed over the row tiles inside one product (no ADC) against each
    tile read on its own and the tiles summed after."""
    gp, gn = _pairs(lut, 40, 12, seed=3)  # 3 row tiles x 2 column tiles of 16 x 8
    config = MappingConfig(rows=16, cols=8, wires=WIRES)
    reduced = reduce_tiles(lut, config, v_gate, gp, gn, differential=False)
    v = torch.stack([_inputs(16, kind, seed=4) for kind in ("uniform", "sparse", "uniform")])
    per_tile = column_currents(reduced, v)
    assert per_tile.shape == (3, 32, 2 * 8)
    torch.testing.assert_close(column_currents(reduced, v, summed=True), per_tile.sum(0))


def test_the_column_mode_is_the_leading_eigenvector() -> None:
    lams, phis = column_modes(6, Wires(r_col=2.0, r_sense=1.0), 1)
    lam, phi = float(lams[0]), phis[:, 0]
    i = torch.arange(6, dtype=torch.float64)
    resistance = 1.0 + 2.0 * (5 - torch.maximum(i[:, None], i[None, :]))
    torch.testing.assert_close(resistance @ phi, lam * phi)
    assert float(phi.norm()) == pytest.approx(1.0) and bool((phi > 0).all())


def _net(size: int) -> nn.Module:
    torch.manual_seed(0)
    layers = [nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * size**2, 6)]
    return nn.Sequential(*layers).double()


@pytest.mark.parametrize("v_gate", [0.8, 1.0])
@pytest.mark.parametrize("size", [3, 8])
def test_layers_match_the_reference_path(lut: CellLUT, v_gate: float, size: int) -> None:
    """A conv and a linear layer, signed inputs (two phases) and several tiles per layer; the
    convolution read through its unfolded input (3 x 3) and through convolutions (8 x 8)."""
    x = torch.randn(3, 2, size, size, dtype=torch.float64)
    config = MappingConfig(rows=16, cols=8, v_gate=v_gate, wires=WIRES)
    with torch.no_grad():
        twin = convert(_net(size), lut, config)
        assert twin[0].reads_wired_kernels(x) == (size * size >= WIRED_KERNEL_POSITIONS)
        fast = twin(x)
        exact_config = MappingConfig(**{**config.__dict__, "path": "exact"})
        exact = convert(_net(size), lut, exact_config)(x)
        per_cell = convert(_net(size), lut, MappingConfig(rows=16, cols=8, v_gate=v_gate))(x)
    scale = float(exact.abs().max())
    assert float((fast - exact).abs().max()) < 2e-3 * scale
    assert float((per_cell - exact).abs().max()) > 10 * float((fast - exact).abs().max())


def test_gradients_are_those_of_the_fast_path(
    lut: CellLUT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gradcheck in the inputs and the weights (the once-per-weights work is differentiable).
    The families' bases are held fixed in the gradient, so they are made complete here (tiny
    budgets): the gradient is then exact."""
    import neatxbar.mapping.wired_fast as wired_fast

    for budget in ("MAIN_BUDGET", "RISE_BUDGET", "LOADING_BUDGET", "CROSS_BUDGET"):
        monkeypatch.setattr(wired_fast, budget, 1e-12)
    torch.manual_seed(1)
    layer = nn.Linear(5, 3).double()
    twin = convert(nn.Sequential(layer), lut, MappingConfig(rows=4, cols=4, wires=WIRES))[0]
    x = torch.rand(2, 5, dtype=torch.float64, requires_grad=True)

    def forward(inputs: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(twin, {"weight": weight, "bias": twin.bias}, (inputs,))

    weight = twin.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(forward, (x, weight), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradients_agree_with_the_reference_solver(lut: CellLUT) -> None:
    grads = {}
    for path in ("fast", "exact"):
        torch.manual_seed(2)
        net = nn.Sequential(nn.Linear(12, 4)).double()
        twin = convert(net, lut, MappingConfig(rows=8, cols=8, path=path, wires=WIRES))
        x = torch.rand(4, 12, dtype=torch.float64)
        twin(x).square().sum().backward()
        grads[path] = twin[0].weight.grad
    error = (grads["fast"] - grads["exact"]).norm() / grads["exact"].norm()
    assert float(error) < 1e-2


def test_the_reduction_follows_the_weights(lut: CellLUT, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built once while the weights stay (inference), again when they change, and at every
    forward that wants a gradient (training)."""
    import neatxbar.mapping.layers as layers

    calls = []
    real = layers.reduce_tiles

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(layers, "reduce_tiles", counting)
    twin = convert(nn.Sequential(nn.Linear(6, 2)).double(), lut, MappingConfig(wires=WIRES))
    x = torch.rand(3, 6, dtype=torch.float64)
    with torch.no_grad():
        first = twin(x)
        second = twin(x)
        assert len(calls) == 1
        torch.testing.assert_close(first, second)
        twin[0].weight.mul_(0.5)
        changed = twin(x)
        assert len(calls) == 2 and not torch.allclose(first, changed)
    twin(x).sum().backward()
    twin(x).sum().backward()
    assert len(calls) == 4


@pytest.mark.parametrize("wires", [Wires(r_row=2.0, r_driver=3.0), Wires(r_row=1.5)])
def test_row_drop_is_the_row_resistance_matrix(wires: Wires) -> None:
    """The cumulative-sum drop equals R_row @ I, R_row[j, l] = r_driver + r_row min(j, l)."""
    currents = torch.rand(3, 5, 7, dtype=torch.float64)
    j = torch.arange(7)
    resistance = wires.r_driver + wires.r_row * torch.minimum(j[:, None], j[None, :]).double()
    torch.testing.assert_close(row_drop(currents, wires), currents @ resistance.T)


@pytest.mark.parametrize("wires", [Wires(r_col=2.0, r_sense=3.0), Wires(r_col=1.5)])
def test_column_rise_is_the_column_resistance_matrix(wires: Wires) -> None:
    """The cumulative-sum rise equals R @ I along each column (sense at the last row)."""
    currents = torch.rand(2, 6, 4, dtype=torch.float64)
    i = torch.arange(6)
    resistance = wires.r_sense + wires.r_col * (5 - torch.maximum(i[:, None], i[None, :])).double()
    torch.testing.assert_close(column_rise(currents, wires), resistance @ currents)
