"""Crossbar layers with wire resistance: physical tiles, on the wired fast path (the default) and
the reference circuit solver (``path = "exact"``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.spice.params import Wires


def _net() -> nn.Module:
    torch.manual_seed(0)
    layers = [
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 20),
        nn.ReLU(),
        nn.Linear(20, 5),
    ]
    return nn.Sequential(*layers).double()


def test_tiny_wires_reproduce_the_per_cell_path(lut: CellLUT) -> None:
    x = torch.randn(3, 1, 6, 6, dtype=torch.float64)
    per_cell = convert(_net(), lut, MappingConfig(rows=16, cols=8, path="exact"))(x)
    tiny = Wires(r_row=1e-6, r_col=1e-6)
    wired = convert(_net(), lut, MappingConfig(rows=16, cols=8, wires=tiny))(x)
    torch.testing.assert_close(wired, per_cell, rtol=1e-5, atol=1e-8)


def test_wire_resistance_costs_accuracy_and_more_with_bigger_tiles(lut: CellLUT) -> None:
    x = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    net = _net()
    ideal = net(x)
    errors = {}
    for rows, cols in ((16, 8), (64, 64)):
        wires = Wires(r_row=5.0, r_col=5.0)
        out = convert(net, lut, MappingConfig(rows=rows, cols=cols, v_gate=1.3, wires=wires))(x)
        per_cell = convert(net, lut, MappingConfig(rows=rows, cols=cols, v_gate=1.3))(x)
        errors[rows] = float((out - per_cell).detach().norm() / per_cell.detach().norm())
        assert float((out - ideal).detach().norm()) > 0
    assert 0 < errors[16] < errors[64]


def test_gradients_flow_through_the_circuit(lut: CellLUT) -> None:
    net = nn.Sequential(nn.Linear(6, 3)).double()
    twin = convert(net, lut, MappingConfig(rows=4, cols=4, wires=Wires(2.0, 2.0)))
    x = torch.randn(2, 6, dtype=torch.float64, requires_grad=True)
    twin(x).sum().backward()
    assert x.grad is not None and torch.all(torch.isfinite(x.grad)) and x.grad.abs().sum() > 0
    assert twin[0].weight.grad.abs().sum() > 0


def test_negative_wire_resistance_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"wires\.r_col"):
        MappingConfig(wires=Wires(r_col=-1.0)).validate()


def test_float32_layers_at_the_ends_of_the_conductance_range(lut: CellLUT) -> None:
    net = nn.Sequential(nn.Linear(8, 4))  # float32: G_ON rounds a hair above the grid's end
    twin = convert(net, lut, MappingConfig(rows=8, cols=8, wires=Wires(2.5, 2.5)))
    with torch.no_grad():
        assert torch.all(torch.isfinite(twin(torch.randn(3, 8))))


def test_one_wire_type_from_the_toml_file_to_the_solver(
    lut: CellLUT, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``[mapping.wires]`` loads as spice.params.Wires, and the very same object reaches the
    circuit solver (no translation into another type on the way)."""
    import neatxbar.mapping.wired as wired

    path = tmp_path / "m.toml"
    path.write_text(
        '[mapping]\nrows = 4\ncols = 4\npath = "exact"\n[mapping.wires]\nr_row = 2.0\nr_col = 3.0\n'
    )
    config = MappingConfig.from_toml(path)
    assert type(config.wires) is Wires and config.wires == Wires(r_row=2.0, r_col=3.0)
    seen = []
    real_solve = wired.solve

    def recording_solve(lut, g, v, v_gate, solver):
        seen.append(solver.wires)
        return real_solve(lut, g, v, v_gate, solver)

    monkeypatch.setattr(wired, "solve", recording_solve)
    twin = convert(nn.Sequential(nn.Linear(3, 2)).double(), lut, config)
    twin(torch.rand(2, 3, dtype=torch.float64))
    assert seen and all(w is config.wires for w in seen)
    assert not hasattr(wired, "circuit_config")
    import neatxbar.mapping.config as mapping_config

    assert not hasattr(mapping_config, "WireResistance")
