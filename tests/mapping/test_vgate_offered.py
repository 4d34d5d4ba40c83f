"""Gate-voltage selection chooses among the LUT's offered gate voltages only, not its whole gate
grid: the `paper` LUT (real ngspice) has a 10 mV grid from 0.60 V and offers 0.70..1.30 V in
50 mV steps."""

from __future__ import annotations

import pytest
import torch

from neatxbar.core.errors import ConfigError
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping.vgate import data_driven, data_free


def _offered(lut: CellLUT, v: float) -> bool:
    return any(abs(v - w) <= 1e-9 for w in lut.offered_gates)


def test_the_paper_lut_offers_a_coarse_subset_of_its_fine_grid(paper_lut: CellLUT) -> None:
    assert paper_lut.vg_grid.numel() == 71
    assert paper_lut.offered_gates == pytest.approx([0.70 + 0.05 * i for i in range(13)])


def test_data_free_picks_the_lowest_offered_gate_voltage_that_covers(paper_lut: CellLUT) -> None:
    grid = paper_lut.vg_grid.tolist()
    w_max = paper_lut.w_max.tolist()
    # each bound of the grid, a hair below (the selection takes quantiles in float32)
    needs = sorted({w - 1e-6 for v, w in zip(grid, w_max, strict=True) if 0 < w < 1 and v >= 0.7})
    weights = {f"need {need:.4f}": torch.full((64,), need) for need in needs}
    chosen = data_free(weights, dict.fromkeys(weights, 1.0), paper_lut)
    off_grid_choice = 0  # layers the whole grid would give a gate voltage that is not offered
    for name, need in zip(weights, needs, strict=True):
        covers = [v for v, w in zip(grid, w_max, strict=True) if w >= need - 1e-12]
        expected = min(v for v in paper_lut.offered_gates if v in covers)
        assert chosen[name] == expected
        off_grid_choice += not _offered(paper_lut, min(covers))
    assert off_grid_choice > 0  # the test would notice a selection over the whole grid
    # nothing covers: the highest offered gate voltage at or below `highest`
    wide = {"wide": torch.full((8,), 2.0)}
    assert data_free(wide, {"wide": 1.0}, paper_lut, highest=0.99) == {"wide": pytest.approx(0.95)}
    with pytest.raises(LUTError, match=r"no offered gate voltage is <= 0\.65 V"):
        data_free(wide, {"wide": 1.0}, paper_lut, highest=0.65)


def test_data_driven_steps_through_offered_gate_voltages_only(paper_lut: CellLUT) -> None:
    tried: list[float] = []

    def accuracy(gates: dict[str, float]) -> float:
        tried.extend(gates.values())
        return 0.9  # never worse: every layer goes down to `lowest`

    # the baseline may be any grid value (0.97 V is not offered); the steps are offered values
    gates, reference, final = data_driven(["a", "b"], paper_lut, accuracy, 0.97, lowest=0.78)
    assert gates == {"a": pytest.approx(0.8), "b": pytest.approx(0.8)}
    assert reference == final == 0.9
    assert {round(v, 9) for v in tried} == {0.97, 0.95, 0.9, 0.85, 0.8}
    assert all(_offered(paper_lut, v) for v in tried if v != 0.97)
    with pytest.raises(LUTError, match="not on the LUT's gate grid"):
        data_driven(["a"], paper_lut, accuracy, baseline=0.975)
    with pytest.raises(ConfigError, match="above the baseline"):
        data_driven(["a"], paper_lut, accuracy, baseline=0.9, lowest=0.95)
