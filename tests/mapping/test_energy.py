"""The energy model of crossbar inference: read energy against cell-by-cell sums, gate energy,
conversions, and the model-level report against its baseline."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping import CrossbarConv2d, CrossbarLinear, MappingConfig, convert
from neatxbar.mapping.energy import (
    GATE_CAP_PER_AREA_F_M2,
    EnergyConfig,
    layer_energy,
    model_energy,
)

T_READ = 10e-9


def _gate(v_gate: float) -> torch.Tensor:
    # a float64 tensor, as the layers keep their gate voltages
    return torch.tensor(v_gate, dtype=torch.float64)


def _linear(lut: CellLUT, n_in: int = 12, n_out: int = 5, **mapping: object) -> CrossbarLinear:
    torch.manual_seed(0)
    return CrossbarLinear(nn.Linear(n_in, n_out).double(), lut, MappingConfig(**mapping))


def _exact_linear_read(layer: CrossbarLinear, x: torch.Tensor, v_gate: float) -> float:
    """t_read * sum over phases, vectors, rows and both columns of V * I, cell by cell."""
    u, _ = layer.normalized_inputs(x, dims=(1,))
    gp, gn = layer.conductance_pair(layer.weight.detach())
    total = 0.0
    for mask in (u > 0, u < 0):  # the two phases of signed inputs
        volts = (u.abs() * mask * layer.lut.v_max).unsqueeze(-1)  # (n, in, 1)
        for g in (gp.t(), gn.t()):  # (in, out): both columns of the differential pair
            cells = layer.lut.current(g.unsqueeze(0), volts, _gate(v_gate))  # (n, in, out)
            total += float((volts * cells).sum())
    return T_READ * total


def _exact_conv_read(layer: CrossbarConv2d, x: torch.Tensor, v_gate: float) -> float:
    """t_read * sum of V * I over every cell read at every output position (unfold), per group."""
    u, _ = layer.normalized_inputs(x, dims=(1, 2, 3))
    gp, gn = layer.conductance_pair(layer.weight.detach())
    groups, c_g = layer.groups, layer.in_channels // layer.groups
    o_g = layer.out_channels // groups
    total = 0.0
    for k in range(groups):
        part = u[:, k * c_g : (k + 1) * c_g]
        cols = F.unfold(part, layer.kernel_size, layer.dilation, layer.padding, layer.stride)
        volts = (cols.abs() * layer.lut.v_max).unsqueeze(2)  # (n, rows, 1, positions)
        for g in (gp, gn):
            rows = g[k * o_g : (k + 1) * o_g].reshape(o_g, -1).t()  # (rows, o_g)
            cells = layer.lut.current(rows[None, :, :, None], volts, _gate(v_gate))
            total += float((volts * cells).sum())
    return T_READ * total


@pytest.mark.parametrize("v_gate", [0.7, 0.8, 1.0])
def test_linear_read_energy_equals_the_cell_by_cell_sum(paper: CellLUT, v_gate: float) -> None:
    layer = _linear(paper, v_gate=v_gate)
    x = torch.randn(7, 12, dtype=torch.float64)  # signed: both phases
    energy = layer_energy(layer, x, EnergyConfig())
    exact = _exact_linear_read(layer, x, v_gate) / 7
    assert energy.read_j == pytest.approx(exact, rel=1e-10)
    assert energy.v_gate == v_gate and energy.kind == "CrossbarLinear"


@pytest.mark.parametrize(
    ("conv", "shape"),
    [
        (dict(in_channels=3, out_channels=4, kernel_size=3, padding=1, stride=2), (2, 3, 7, 6)),
        (
            dict(in_channels=4, out_channels=6, kernel_size=(2, 3), dilation=(1, 2), groups=2),
            (2, 4, 6, 8),
        ),
    ],
)
def test_conv_read_energy_equals_the_unfolded_cell_by_cell_sum(
    paper: CellLUT, conv: dict, shape: tuple
) -> None:
    torch.manual_seed(1)
    layer = CrossbarConv2d(nn.Conv2d(**conv).double(), paper, MappingConfig(v_gate=0.75))
    x = torch.randn(*shape, dtype=torch.float64)
    energy = layer_energy(layer, x, EnergyConfig())
    assert energy.read_j == pytest.approx(_exact_conv_read(layer, x, 0.75) / 2, rel=1e-10)
    assert energy.kind == "CrossbarConv2d"


def test_with_an_ideal_cell_the_read_energy_is_t_sum_v2_g(linear_lut: CellLUT) -> None:
    layer = _linear(linear_lut, n_in=9, n_out=4)
    x = torch.randn(5, 9, dtype=torch.float64)
    g_min, g_max = linear_lut.g_min_s, linear_lut.g_on_s
    f = (layer.weight.detach() / layer.weight.detach().abs().max()).t()  # (in, out)
    row_g = (2 * g_min + f.abs() * (g_max - g_min)).sum(dim=1)  # sum_j G+_ij + G-_ij
    volts = x / x.abs().amax(dim=1, keepdim=True) * linear_lut.v_max
    expected = T_READ * float((volts**2 * row_g).sum()) / 5
    assert layer_energy(layer, x, EnergyConfig()).read_j == pytest.approx(expected, rel=1e-12)


def test_gate_energy_is_c_v2_per_row_activation_in_every_column_tile(paper: CellLUT) -> None:
    layer = _linear(paper, n_in=10, n_out=40, cols=64)  # 80 cells per row: 2 column tiles
    x = torch.randn(3, 10, dtype=torch.float64)
    x[0, :4] = 0.0  # inactive rows
    config = EnergyConfig(dac_energy_j=2e-15)
    low = layer_energy(layer, x, config, v_gate=0.8)
    high = layer_energy(layer, x, config, v_gate=1.0)
    assert low.gate_j / high.gate_j == pytest.approx(0.64, rel=1e-12)
    active = int(torch.count_nonzero(x))
    assert low.row_activations == pytest.approx(2 * active / 3)
    assert low.dac_conversions == low.row_activations
    assert low.dac_j == pytest.approx(2e-15 * 2 * active / 3)
    cell_cap = GATE_CAP_PER_AREA_F_M2 * 472.9e-9 * 45e-9 + 0.1e-15
    assert config.cell_cap_f == pytest.approx(cell_cap)
    assert pytest.approx(0.0276, rel=1e-3) == GATE_CAP_PER_AREA_F_M2
    assert high.gate_j == pytest.approx(active * 80 * cell_cap * 1.0**2 / 3, rel=1e-12)
    full = layer_energy(layer, x, dataclasses.replace(config, charge_full_tile=True), v_gate=1.0)
    assert full.gate_j == pytest.approx(high.gate_j * 128 / 80, rel=1e-12)


def test_adc_conversions_count_column_pairs_per_tile_per_phase_read(paper: CellLUT) -> None:
    layer = _linear(paper, n_in=100, n_out=5, rows=64)  # 2 row tiles
    x = torch.rand(3, 100, dtype=torch.float64)
    x[1, ::2] *= -1  # both phases
    x[2] = 0.0  # nothing to read
    energy = layer_energy(layer, x, EnergyConfig(adc_energy_j=1e-12))
    assert energy.adc_conversions == pytest.approx((1 + 2 + 0) * 2 * 5 / 3)
    assert energy.adc_j == pytest.approx(energy.adc_conversions * 1e-12)
    assert energy.input_vectors == pytest.approx(1.0)


def test_conv_counts_read_every_kernel_row_at_every_position(paper: CellLUT) -> None:
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 40, 3, padding=1).double()  # 80 cells per row: 2 column tiles of 64
    layer = CrossbarConv2d(conv, paper, MappingConfig(v_gate=0.8, rows=18))  # 2 channels/tile
    x = torch.relu(torch.randn(2, 3, 5, 5, dtype=torch.float64))
    energy = layer_energy(layer, x, EnergyConfig())
    cols = F.unfold(x, 3, padding=1)
    assert energy.row_activations == pytest.approx(2 * int(torch.count_nonzero(cols)) / 2)
    reads = int(torch.count_nonzero(cols.abs().sum(dim=1)))  # positions with an input on
    assert energy.adc_conversions == pytest.approx(reads * 2 * 40 / 2)
    assert energy.input_vectors == 25


def test_lower_gate_voltage_reads_less_energy_on_the_paper_lut(paper: CellLUT) -> None:
    layer = _linear(paper, n_in=32, n_out=16)
    x = torch.rand(8, 32, dtype=torch.float64)
    reads = [layer_energy(layer, x, EnergyConfig(), v_gate=v).read_j for v in (0.7, 0.8, 1.0)]
    assert reads[0] < reads[1] < reads[2]


def test_all_zero_inputs_cost_no_read_gate_or_conversion_energy(paper: CellLUT) -> None:
    config = EnergyConfig(dac_energy_j=1e-15, adc_energy_j=1e-12)
    conv = CrossbarConv2d(nn.Conv2d(2, 3, 3).double(), paper, MappingConfig())
    for layer, x in ((_linear(paper), torch.zeros(4, 12)), (conv, torch.zeros(2, 2, 5, 5))):
        energy = layer_energy(layer, x, config)
        assert energy.read_j == energy.gate_j == energy.dac_j == energy.adc_j == 0.0
        assert energy.total_j == 0.0 and energy.input_vectors > 0


def test_float32_and_unbatched_inputs(paper: CellLUT) -> None:
    layer = _linear(paper)
    x = torch.randn(12, dtype=torch.float64)
    one = layer_energy(layer, x, EnergyConfig())
    assert one.input_vectors == 1.0
    assert layer_energy(layer, x.float().unsqueeze(0), EnergyConfig()).read_j == pytest.approx(
        one.read_j, rel=1e-6
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("read_time_s", 0.0),
        ("gate_cap_per_area_f_m2", -1.0),
        ("transistor_w_m", 0.0),
        ("transistor_l_m", -45e-9),
        ("wire_cap_per_cell_f", -1e-15),
        ("dac_energy_j", -1.0),
        ("adc_energy_j", float("nan")),
        ("baseline_v_gate", 0.0),
        ("charge_full_tile", "yes"),
    ],
)
def test_config_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        EnergyConfig(**{field: value}).validate()


def test_config_from_lut_and_toml(paper: CellLUT, linear_lut: CellLUT, tmp_path: Path) -> None:
    config = EnergyConfig.from_lut(paper, adc_energy_j=1e-12)
    assert config.transistor_w_m == pytest.approx(472.9e-9)
    assert config.transistor_l_m == pytest.approx(45e-9)
    assert config.read_time_s == pytest.approx(10e-9) and config.adc_energy_j == 1e-12
    assert EnergyConfig.from_lut(linear_lut) == EnergyConfig()  # no transistor W, L in the file
    path = tmp_path / "e.toml"
    path.write_text("[energy]\nwire_cap_per_cell_f = 0.2e-15\nbaseline_v_gate = 1.3\n")
    assert EnergyConfig.from_toml(path).baseline_v_gate == 1.3
    path.write_text("[energy]\nwire_cap = 1\n")
    with pytest.raises(ConfigError, match="wire_cap"):
        EnergyConfig.from_toml(path)


def _net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 16),
        nn.ReLU(),
        nn.Linear(16, 10),
    ).double()


def test_model_energy_reports_every_layer_and_its_baseline(paper: CellLUT) -> None:
    twin = convert(_net(), paper, MappingConfig(v_gate=0.8))
    twin.train()
    x = torch.rand(4, 1, 6, 6, dtype=torch.float64)
    config = EnergyConfig(dac_energy_j=1e-15, adc_energy_j=1e-13)
    report = model_energy(twin, x, config)
    assert [row.name for row in report.layers] == ["0", "3", "5"]
    assert [row.name for row in report.baseline] == ["0", "3", "5"]
    assert all(row.v_gate == 0.8 for row in report.layers)
    assert all(row.v_gate == 1.0 for row in report.baseline)
    assert twin.training and all(m.v_gate == 0.8 for m in (twin[0], twin[3], twin[5]))
    # the first layer's row is the layer's energy for the model's input
    assert report.layers[0] == layer_energy(twin[0], x, config, name="0")
    assert report.total_j == pytest.approx(sum(row.total_j for row in report.layers))
    assert report.relative_to_baseline == pytest.approx(report.total_j / report.baseline_total_j)
    assert 0 < report.saving < 1
    for row, base in zip(report.layers, report.baseline, strict=True):
        assert row.dac_j == base.dac_j and row.adc_j == base.adc_j  # same inputs, same counts
        assert row.read_j < base.read_j and row.gate_j < base.gate_j
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["saving"] == pytest.approx(report.saving) and len(data["layers"]) == 3
    table = report.table()
    assert "saving" in table and len(table.splitlines()) == 6


def test_model_energy_adds_up_a_layer_called_twice_and_refuses_plain_models(
    paper: CellLUT,
) -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc, self.unused = nn.Linear(6, 6), nn.Linear(6, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.relu(self.fc(x)))

    torch.manual_seed(4)
    twin = convert(Twice().double(), paper, MappingConfig(v_gate=0.9))
    report = model_energy(twin, torch.rand(3, 6, dtype=torch.float64), EnergyConfig())
    fc, unused = report.layers
    assert fc.calls == 2 and unused.calls == 0 and unused.total_j == 0.0
    assert fc.input_vectors == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no crossbar layers"):
        model_energy(Twice(), torch.rand(3, 6), EnergyConfig())
    with pytest.raises(LUTError, match="gate grid"):
        model_energy(twin, torch.rand(3, 6), EnergyConfig(baseline_v_gate=0.935))
    assert math.isfinite(report.saving)
