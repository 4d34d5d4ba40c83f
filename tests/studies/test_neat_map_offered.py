"""``neat map``'s sweeps and ``auto`` choose among the LUT's offered gate voltages; a gate voltage
given explicitly may be any value of the (finer) gate grid. The `paper` LUT made by ngspice: a
10 mV grid from 0.60 V, offering 0.70..1.30 V in 50 mV steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neatxbar.core.errors import NeatError
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping.errors import MappingError
from neatxbar.studies.neat_map import gate_settings, sweep_values
from neatxbar.studies.neat_map.settings import auto_highest


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def test_a_sweep_gives_offered_gate_voltages_only(paper_lut: CellLUT) -> None:
    coarse = [round(0.7 + 0.05 * i, 9) for i in range(13)]
    assert sweep_values(paper_lut, "0.7:1.3:0.05") == coarse
    assert sweep_values(paper_lut, (0.8, 1.0, 0.1)) == [0.8, 0.9, 1.0]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("0.6:1.3:0.01", "below the spacing of the LUT's offered gate voltages (0.05 V"),
        ("0.65:0.75:0.05", "0.65 V is not one of the LUT's offered gate voltages"),
        ("0.7:0.8:0.07", "0.77 V is not one of the LUT's offered gate voltages"),
        ("0.05:5:0.05", "more than the LUT's 13 offered gate voltages"),
    ],
)
def test_a_sweep_off_the_offered_gate_voltages_is_refused(
    paper_lut: CellLUT, sweep: str, message: str
) -> None:
    with pytest.raises(MappingError) as refused:
        sweep_values(paper_lut, sweep)
    assert message in str(refused.value)
    assert isinstance(refused.value, NeatError)


def test_auto_chooses_offered_gate_voltages(paper_lut: CellLUT) -> None:
    assert auto_highest(paper_lut) == pytest.approx(1.3)
    model = _mlp()
    scales = {"1": 0.5, "3": 0.5}
    (auto,) = gate_settings(model, paper_lut, scales, "auto")
    assert auto.label == "auto"
    assert all(
        any(abs(v - w) <= 1e-9 for w in paper_lut.offered_gates) for v in auto.v_gate.values()
    )


def test_an_explicit_gate_voltage_may_be_any_grid_value(paper_lut: CellLUT) -> None:
    model = _mlp()
    (one,) = gate_settings(model, paper_lut, {}, 0.73)
    assert one.v_gate == {"1": 0.73, "3": 0.73}
    (per_layer,) = gate_settings(model, paper_lut, {}, {"1": 0.61, "default": 1.27})
    assert per_layer.v_gate == {"1": 0.61, "3": 1.27}
    with pytest.raises(LUTError, match="not on the LUT's gate grid"):
        gate_settings(model, paper_lut, {}, 0.735)
