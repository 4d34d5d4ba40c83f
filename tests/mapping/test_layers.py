"""Crossbar layers and model conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping import CrossbarConv2d, CrossbarLinear, MappingConfig, convert, describe
from neatxbar.mapping.quantize import quantize_symmetric, quantize_unit


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1, stride=2),
        nn.ReLU(),
        nn.Conv2d(6, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 20),
        nn.ReLU(),
        nn.Linear(20, 5),
    ).double()


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_an_ideal_cell_reproduces_the_model_exactly(linear_lut: CellLUT, path: str) -> None:
    net = _net()
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)  # signed inputs: two phases
    twin = convert(net, linear_lut, MappingConfig(path=path, rows=16))
    torch.testing.assert_close(twin(x), net(x), rtol=1e-9, atol=1e-12)


def test_conversion_copies_and_leaves_the_original_untouched(paper: CellLUT) -> None:
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    twin = convert(net, paper, MappingConfig(v_gate=0.8))
    assert isinstance(twin[0], CrossbarConv2d) and isinstance(twin[7], CrossbarLinear)
    assert isinstance(net[0], nn.Conv2d) and isinstance(net[7], nn.Linear)
    with torch.no_grad():
        twin[0].weight.add_(1.0)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def test_fast_and_exact_layers_agree_on_the_paper_lut(paper: CellLUT) -> None:
    net = _net()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    fast = convert(net, paper, MappingConfig(v_gate=0.75))(x)
    exact = convert(net, paper, MappingConfig(v_gate=0.75, path="exact"))(x)
    assert (fast - exact).abs().max() <= 5e-3 * exact.abs().max()
    # The non-linearity shows: far from the ideal model at 0.75 V, closer at 1.3 V.
    ideal_out = net(x)
    at_13 = convert(net, paper, MappingConfig(v_gate=1.3))(x)
    assert (at_13 - ideal_out).norm() < (fast - ideal_out).norm()


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_gradients_of_a_small_layer(paper: CellLUT, path: str) -> None:
    torch.manual_seed(1)
    layer = CrossbarLinear(nn.Linear(5, 3).double(), paper, MappingConfig(v_gate=0.8, path=path))
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    layer(x).sum().backward()
    assert layer.weight.grad is not None and torch.all(torch.isfinite(layer.weight.grad))
    assert layer.weight.grad.abs().sum() > 0


def test_conv_gradients_flow_on_the_fast_path(paper: CellLUT) -> None:
    conv = CrossbarConv2d(nn.Conv2d(2, 3, 3, padding=1).double(), paper, MappingConfig())
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(conv, (x,))


def test_per_layer_gate_voltages_by_name(paper: CellLUT) -> None:
    twin = convert(_net(), paper, MappingConfig(), v_gate={"0": 1.3, "default": 0.8})
    rows = {row["layer"]: row for row in describe(twin)}
    assert rows["0"]["v_gate"] == 1.3 and rows["2"]["v_gate"] == 0.8
    assert rows["0"]["rank"] >= 1 and rows["0"]["fast_error"] <= 1e-3
    with pytest.raises(ValueError, match="does not have: nope"):
        convert(_net(), paper, MappingConfig(), v_gate={"nope": 1.0})
    with pytest.raises(LUTError, match="gate grid"):
        convert(_net(), paper, MappingConfig(), v_gate=0.815)


def test_unsupported_layers_are_named(paper: CellLUT) -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Conv1d(1, 1, 3)))
    with pytest.raises(ValueError, match=r"'1\.0' \(Conv1d\)"):
        convert(net, paper)
    circular = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular"))
    with pytest.raises(ValueError, match=r"layer '0'.*padding_mode"):
        convert(circular, paper)


@pytest.mark.parametrize(
    "setting",
    [{"dac_bits": 4}, {"adc_bits": 6, "adc_range": 0.1}, {"conductance_bits": 3}, {"w_cut": 0.05}],
)
def test_quantizers_and_clipping_change_the_output_boundedly(paper: CellLUT, setting: dict) -> None:
    net = _net()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    plain = convert(net, paper, MappingConfig(rows=32))(x)
    changed = convert(net, paper, MappingConfig(rows=32, **setting))(x)
    assert torch.all(torch.isfinite(changed))
    assert not torch.allclose(plain, changed)
    assert (changed - plain).norm() < plain.norm()


def test_adc_on_fast_and_exact_paths_agree(paper: CellLUT) -> None:
    net = _net()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    cfg = {"rows": 16, "adc_bits": 12, "adc_range": 0.25, "v_gate": 1.0}
    fast = convert(net, paper, MappingConfig(**cfg))(x)
    exact = convert(net, paper, MappingConfig(path="exact", **cfg))(x)
    assert (fast - exact).abs().max() <= 0.02 * exact.abs().max()


def test_quantizer_levels() -> None:
    x = torch.linspace(0, 1, 101)
    assert torch.unique(quantize_unit(x, 2)).numel() == 4
    y = quantize_symmetric(torch.linspace(-2, 2, 401), 1.0, 3)
    assert torch.unique(y).numel() == 8 and y.abs().max() < 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0),
        ("cols", 3),
        ("path", "quick"),
        ("adc_bits", 0),
        ("error_budget", 2.0),
        ("w_cut", -1.0),
    ],
)
def test_mapping_config_names_the_bad_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        MappingConfig(**{field: value}).validate()


def test_mapping_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text("[mapping]\nrows = 32\nadc_bits = 8\nv_gate = 0.8\n")
    assert MappingConfig.from_toml(path) == MappingConfig(rows=32, adc_bits=8, v_gate=0.8)
    path.write_text("[mapping]\nrowz = 32\n")
    with pytest.raises(ConfigError, match="rowz"):
        MappingConfig.from_toml(path)


def test_changing_a_layers_gate_voltage_takes_effect(paper: CellLUT) -> None:
    layer = CrossbarLinear(nn.Linear(6, 4).double(), paper, MappingConfig(v_gate=1.3)).eval()
    x = torch.rand(3, 6, dtype=torch.float64)
    with torch.no_grad():
        high = layer(x)
        layer.v_gate = 0.7
        low = layer(x)
    fresh = CrossbarLinear(nn.Linear(6, 4).double(), paper, MappingConfig(v_gate=0.7))
    fresh.load_state_dict(layer.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(low, fresh(x))
    assert not torch.allclose(high, low)
