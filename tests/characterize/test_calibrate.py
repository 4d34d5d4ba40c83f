"""Calibration of the transistor to the paper's reported cut-offs."""

from __future__ import annotations

import pytest

from neatxbar.characterize.calibrate import PAPER_CUTOFFS_S, calibrate, cutoffs
from neatxbar.characterize.spec import load_preset


def test_paper_preset_reproduces_the_reported_cut_offs() -> None:
    spec, _ = load_preset("paper")
    found = cutoffs(spec, spec.cell_transistor(), [0.8, 0.9, 1.0, 1.1, 1.2, 1.3])
    assert found[0.8] == pytest.approx(PAPER_CUTOFFS_S[0.8], rel=0.02)
    assert found[1.0] == pytest.approx(PAPER_CUTOFFS_S[1.0], rel=0.02)
    assert found[1.3] > 1 / spec.memristor.r_on_ohm  # no cut-off inside the memristor's range


def test_calibration_from_scratch_finds_the_cut_offs_within_bounds() -> None:
    spec, _ = load_preset("quick")  # a coarse V_in grid keeps this quick
    result = calibrate(spec)
    assert 0.40 <= result.vth0_v <= 0.75
    assert 0 <= result.rdsw <= 420
    assert result.cutoffs_s[0.8] == pytest.approx(12.5e-6, rel=0.03)
    assert result.cutoffs_s[1.0] == pytest.approx(33.4e-6, rel=0.03)
    assert result.cutoffs_s[1.3] > result.g_on_s
