"""Numbers entering the mapping (issue 10, cases 4, 9 and 13): one gate-voltage check, every
config number finite, TOML tables in their place, and the wired path's memory bounded."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from neatxbar.core.errors import ConfigError
from neatxbar.lut import CellLUT
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping import wired as wired_module
from neatxbar.mapping.circuit import CircuitConfig, solve
from neatxbar.mapping.config import V_GATE_MAX, check_v_gate
from neatxbar.mapping.energy import EnergyConfig
from neatxbar.mapping.layers import CrossbarLinear
from neatxbar.mapping.vgate import data_driven, data_free
from neatxbar.spice.params import Wires

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    "value", [NAN, INF, -INF, 0.0, -0.8, V_GATE_MAX * 1.001, 1e300, "high", True, None]
)
def test_check_v_gate_refuses_what_is_not_a_gate_voltage(value: object) -> None:
    with pytest.raises(ConfigError, match="V_gate"):
        check_v_gate("V_gate", value)


@pytest.mark.parametrize("value", [0.7, 1, 1.3, V_GATE_MAX])
def test_check_v_gate_accepts_gate_voltages(value: float) -> None:
    assert check_v_gate("V_gate", value) == float(value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (lambda: MappingConfig(adc_range=INF), "adc_range must be finite"),
        (lambda: MappingConfig(adc_range=NAN), "adc_range must be finite"),
        (lambda: MappingConfig(w_cut=INF), "w_cut must be finite"),
        (lambda: MappingConfig(w_cut=NAN), "w_cut must be finite"),
        (lambda: MappingConfig(error_budget=NAN), "error_budget must be finite"),
        (lambda: MappingConfig(v_gate=NAN), "v_gate must be finite"),
        (lambda: MappingConfig(v_gate=6.0), "v_gate must be a gate voltage"),
        (lambda: MappingConfig(rows=32.0), "rows must be an integer"),  # type: ignore[arg-type]
        (lambda: MappingConfig(adc_bits=True), "adc_bits must be an integer"),  # type: ignore[arg-type]
        (lambda: MappingConfig(wires=Wires(r_col=NAN)), "wires.r_col must be finite"),
        (lambda: EnergyConfig(baseline_v_gate=NAN), "baseline_v_gate must be finite"),
        (lambda: EnergyConfig(baseline_v_gate=9.0), "baseline_v_gate must be a gate voltage"),
    ],
    ids=[
        "adc-range-inf",
        "adc-range-nan",
        "w-cut-inf",
        "w-cut-nan",
        "error-budget-nan",
        "v-gate-nan",
        "v-gate-huge",
        "rows-float",
        "bits-bool",
        "wire-nan",
        "baseline-nan",
        "baseline-huge",
    ],
)
def test_configs_refuse_non_finite_numbers_in_validate(config: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config().validate()  # type: ignore[operator]


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_misplaced_tables_are_refused_saying_where_they_belong(tmp_path: Path) -> None:
    misplaced = _toml(tmp_path, "[mapping]\nrows = 32\n\n[wires]\nr_row = 2.5\n")
    with pytest.raises(ConfigError, match=r"\[wires\] belongs under \[mapping.wires\]"):
        MappingConfig.from_toml(misplaced)
    key = _toml(tmp_path, "adc_bits = 8\n[mapping]\nrows = 32\n")
    with pytest.raises(ConfigError, match=r"adc_bits belongs under \[mapping\]"):
        MappingConfig.from_toml(key)
    unknown = _toml(tmp_path, "[mapping]\nrows = 32\n[mappings]\ncols = 8\n")
    with pytest.raises(ConfigError, match=r"unknown top-level \[mappings\]"):
        MappingConfig.from_toml(unknown)


def test_tables_that_belong_are_accepted(tmp_path: Path) -> None:
    nested = _toml(tmp_path, "[mapping]\nrows = 32\n[mapping.wires]\nr_row = 2.5\n")
    assert MappingConfig.from_toml(nested).wires.r_row == 2.5
    flat = _toml(tmp_path, "rows = 32\n[wires]\nr_col = 1.5\n")  # the whole file is [mapping]
    assert MappingConfig.from_toml(flat).wires.r_col == 1.5
    experiment = _toml(
        tmp_path, "[experiment]\nname = 'x'\n[train]\nepochs = 1\n[mapping]\nrows = 16\n"
    )
    assert MappingConfig.from_toml(experiment).rows == 16


def test_crossbar_layers_check_their_gate_voltage_and_scale(lut: CellLUT) -> None:
    linear = nn.Linear(4, 2)
    for v_gate in (NAN, INF, -1.0, 7.0):
        with pytest.raises(ConfigError, match="v_gate"):
            CrossbarLinear(linear, lut, MappingConfig(), v_gate)
        with pytest.raises(ConfigError, match="V_gate of '0'"):
            convert(nn.Sequential(linear), lut, MappingConfig(), v_gate={"0": v_gate})
    for scale in (NAN, INF, 0.0):
        with pytest.raises(ConfigError, match="w_scale"):
            CrossbarLinear(linear, lut, MappingConfig(), 1.0, w_scale=scale)


def test_gate_selection_checks_its_numbers(lut: CellLUT) -> None:
    weights, scales = {"0": torch.ones(2, 2)}, {"0": 1.0}
    with pytest.raises(ConfigError, match="coverage"):
        data_free(weights, scales, lut, coverage=NAN)
    with pytest.raises(ConfigError, match="highest V_gate"):
        data_free(weights, scales, lut, highest=NAN)
    with pytest.raises(ConfigError, match="budget"):
        data_driven(["0"], lut, lambda gates: 1.0, baseline=1.0, budget=NAN)
    with pytest.raises(ConfigError, match="baseline V_gate"):
        data_driven(["0"], lut, lambda gates: 1.0, baseline=NAN)


def _recording_solve(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Cells of every circuit solve the wired path starts (the real solver runs)."""
    cells: list[int] = []

    def recording(lut: CellLUT, g: torch.Tensor, v: torch.Tensor, *rest: object) -> object:
        cells.append(v.shape[0] * v.shape[1] * g.shape[-2] * g.shape[-1])
        return solve(lut, g, v, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(wired_module, "solve", recording)
    return cells


def test_the_solver_runs_in_bounded_chunks_with_the_same_result(
    lut: CellLUT, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    tiles = lut.g_min_s + torch.rand(3, 8, 6, dtype=torch.float64) * (lut.g_on_s - lut.g_min_s)
    volts = torch.rand(3, 10, 8, dtype=torch.float64) * lut.v_max
    config = CircuitConfig(Wires(r_row=2.5, r_col=2.5))
    whole = solve(lut, tiles, volts, 1.0, config).column_currents
    cells = _recording_solve(monkeypatch)
    for bound in (3 * 48 * 4, 3 * 48, 100, 1):  # 4 vectors of every tile; 1; 2 tiles; 1 tile
        cells.clear()
        chunked = wired_module.solve_in_chunks(lut, tiles, volts, 1.0, config, chunk_cells=bound)
        torch.testing.assert_close(chunked, whole, rtol=1e-9, atol=1e-15)
        assert max(cells) <= max(bound, 48), (bound, cells)  # 48: one vector of one tile
        assert sum(cells) == 3 * 10 * 48  # every (tile, vector) solved once


def test_a_wired_layer_never_solves_more_than_the_bound_at_once(
    lut: CellLUT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large batch through a wired layer: each solve stays within WIRED_CHUNK_CELLS (here made
    small), so memory does not grow with the batch; the output equals the unchunked one."""
    torch.manual_seed(1)
    layer = nn.Sequential(nn.Linear(20, 6)).double()
    config = MappingConfig(
        rows=8, cols=4, v_gate=1.0, wires=Wires(r_row=2.5, r_col=2.5), path="exact"
    )
    x = torch.rand(40, 20, dtype=torch.float64)
    twin = convert(layer, lut, config)
    with torch.no_grad():
        reference = twin(x)
        cells = _recording_solve(monkeypatch)
        monkeypatch.setattr(wired_module, "WIRED_CHUNK_CELLS", 200)
        chunked = twin(x)
    torch.testing.assert_close(chunked, reference, rtol=1e-9, atol=1e-12)
    tile_cells = 8 * 4  # rows x cols
    assert cells and max(cells) <= max(200, tile_cells)
