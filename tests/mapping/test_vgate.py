"""Gate-voltage selection: data-free (Algorithm 1) and data-driven (greedy)."""

from __future__ import annotations

import pytest
import torch

from neatxbar.lut import CellLUT
from neatxbar.mapping.vgate import data_driven, data_free


def test_data_free_picks_the_lowest_gate_voltage_that_covers_the_weights(lut: CellLUT) -> None:
    # the selection chooses among the offered gate voltages (the paper LUT's grid is finer)
    w_max = {round(v, 2): float(lut.w_max[lut.gate_index(v)]) for v in lut.offered_gates}
    # Layer "a" needs 0.2 of the range: 0.8 V covers 0.30, 0.75 V only 0.13.
    a = torch.linspace(-0.2, 0.2, 1001)
    # Layer "b" has 0.3 % outliers at full scale: at 99.5 % coverage they do not count.
    b = torch.cat([torch.linspace(-0.1, 0.1, 997), torch.ones(3)])
    chosen = data_free({"a": a, "b": b}, {"a": 1.0, "b": 1.0}, lut)
    assert chosen["a"] == pytest.approx(min(v for v, w in w_max.items() if w >= 0.2))
    assert chosen["b"] == pytest.approx(min(v for v, w in w_max.items() if w >= 0.1))
    strict = data_free({"b": b}, {"b": 1.0}, lut, coverage=1.0)
    assert strict["b"] == pytest.approx(min(v for v, w in w_max.items() if w >= 1.0))


def test_data_driven_lowers_each_layer_while_accuracy_holds(lut: CellLUT) -> None:
    # A model whose accuracy drops 0.2 points per 50 mV below 1.0 V in layer "x" and
    # 3 points per 50 mV in layer "y": within 0.5 points, x goes down two steps, y none.
    def accuracy(gates: dict[str, float]) -> float:
        return (
            0.95
            - 0.002 * round((1.0 - gates["x"]) / 0.05)
            - 0.03 * round((1.0 - gates["y"]) / 0.05)
        )

    gates, reference, final = data_driven(["x", "y"], lut, accuracy, baseline=1.0, budget=0.005)
    assert gates == {"x": pytest.approx(0.9), "y": pytest.approx(1.0)}
    assert reference == pytest.approx(0.95) and final == pytest.approx(0.946)
    with pytest.raises(ValueError, match="not on the LUT's gate grid"):
        data_driven(["x"], lut, accuracy, baseline=0.995)
