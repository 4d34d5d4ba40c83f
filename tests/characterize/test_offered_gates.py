"""The gate voltages a spec offers for mapping (``[v_gate] offered_v``): validated where the spec
enters, written by the runner into ``grid/v_gate_offered``, part of what makes an existing or
partial LUT match its spec, and read back as ``CellLUT.offered_gates``. Real ngspice, real HDF5."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from neatxbar.characterize.runner import characterize, partial_path
from neatxbar.characterize.spec import load_preset, parse_spec
from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT
from neatxbar.lut.errors import LUTError

OFFERED = [0.7, 0.8, 0.9, 1.0]
TINY = """
name = "offered"
chunk_size = 4
[conductance]
num = 4
[v_in]
start_v = 0.0
stop_v = 0.5
num = 6
[v_gate]
start_v = 0.6
stop_v = 1.0
num = 9
offered_v = {offered}
[transistor]
w_m = 4.7e-7
model_params = {{vth0 = 0.75}}
"""


def _tiny(offered: object = OFFERED) -> str:
    return TINY.format(offered=offered)


def _without_offered() -> str:
    return "\n".join(line for line in _tiny().splitlines() if not line.startswith("offered_v"))


@pytest.fixture(scope="module")
def tiny_lut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny spec characterized by ngspice (4 x 6 x 9 points)."""
    path = tmp_path_factory.mktemp("offered") / "tiny.h5"
    text = _tiny()
    assert characterize(parse_spec(text), text, path, workers=1, progress=False).complete
    return path


@pytest.mark.parametrize(
    ("offered", "message"),
    [
        ("[]", "non-empty list"),
        ("0.7", "non-empty list"),
        ('"0.7, 0.8"', "non-empty list"),
        ("[0.73]", "0.73 V is not on the v_gate grid"),
        ("[0.55]", "0.55 V is not on the v_gate grid"),
        ("[0.7, 1.05]", "1.05 V is not on the v_gate grid"),
        ("[0.7, 0.7000000001]", "must be sorted"),  # 0.1 nV apart: the same grid point twice
        ("[0.8, 0.7]", "must be sorted"),
        ("[0.7, 0.8, 0.8]", "without repeats"),
        ('[0.7, "0.8"]', "must be a number"),
        ("[0.7, true]", "must be a number"),
        ("[0.7, nan]", "must be finite"),
        ("[0.7, inf]", "must be finite"),
        ("[0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0, 1.0]", "more than the 9"),
    ],
)
def test_bad_offered_gate_voltages_are_refused_naming_the_key(offered: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"v_gate\.offered_v") as refused:
        parse_spec(_tiny(offered))
    assert message in str(refused.value)


def test_offered_gate_voltages_belong_to_the_gate_grid_only() -> None:
    text = _without_offered().replace("[v_in]", "[v_in]\noffered_v = [0.1]")
    with pytest.raises(ConfigError, match=r"unknown key v_in\.offered_v"):
        parse_spec(text)


def test_offered_values_snap_to_the_grid_and_leave_old_specs_hash_alone() -> None:
    spec = parse_spec(_tiny("[0.7000000005, 1.0]"))  # within 1 nV of the grid points
    grid = spec.v_gate.values()
    assert spec.v_gate.offered().tolist() == [grid[2], grid[8]]
    old = parse_spec(_without_offered())
    assert old.v_gate.offered_v is None
    assert old.v_gate.offered().tolist() == grid.tolist()
    # a spec without the key hashes exactly as before the key existed; a spec with it does not
    assert "offered_v" not in old.plain()["v_gate"]
    assert spec.plain()["v_gate"]["offered_v"] == [0.7000000005, 1.0]
    assert len({old.sha256(), parse_spec(_tiny()).sha256(), spec.sha256()}) == 3
    assert parse_spec(_tiny("[0.7, 1]")).sha256() == parse_spec(_tiny("[0.7, 1.0]")).sha256()


def test_the_paper_preset_has_a_fine_grid_and_offers_the_coarse_set() -> None:
    spec, _ = load_preset("paper")
    grid = spec.v_gate.values()
    assert (grid[0], grid[-1], grid.size) == (pytest.approx(0.6), pytest.approx(1.3), 71)
    assert np.diff(grid) == pytest.approx(0.01)
    assert spec.v_gate.offered() == pytest.approx([0.70 + 0.05 * i for i in range(13)])


def test_the_runner_writes_the_offered_gate_voltages_and_they_load(tiny_lut: Path) -> None:
    with h5py.File(tiny_lut, "r") as f:
        grid = f["grid/v_gate"][()]
        stored = f["grid/v_gate_offered"]
        assert stored.dtype == np.float64 and stored.attrs["units"] == "V"
        assert stored[()].tolist() == [grid[2], grid[4], grid[6], grid[8]]  # grid values exactly
    lut = CellLUT.load(tiny_lut)
    assert lut.vg_grid.numel() == 9
    assert lut.offered_gates == pytest.approx(tuple(OFFERED))
    assert all(v in lut.vg_grid.tolist() for v in lut.offered_gates)
    assert all(isinstance(v, float) for v in lut.offered_gates)
    # interpolation still uses the whole grid: a gate voltage between offered ones is on it
    assert lut.gate_index(0.65) == 1


def test_a_spec_without_offered_gates_writes_none_and_offers_the_whole_grid(
    tmp_path: Path,
) -> None:
    text = _without_offered()
    path = tmp_path / "old-style.h5"
    assert characterize(parse_spec(text), text, path, workers=1, progress=False).complete
    with h5py.File(path, "r") as f:
        assert "v_gate_offered" not in f["grid"]
    lut = CellLUT.load(path)
    assert lut.offered_gates == tuple(lut.vg_grid.tolist())


def test_the_offered_gate_voltages_decide_whether_a_lut_matches_its_spec(
    tiny_lut: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tiny.h5"
    shutil.copy(tiny_lut, out)
    same = _tiny()
    other = _tiny("[0.7, 0.9]")
    report = characterize(parse_spec(same), same, out, workers=1, progress=False)
    assert report.up_to_date
    with pytest.raises(LUTError, match="another spec"):
        characterize(parse_spec(other), other, out, workers=1, progress=False)
    with pytest.raises(LUTError, match="another spec"):
        characterize(parse_spec(_without_offered()), _without_offered(), out, progress=False)
    # a partial file (here: every point solved, not yet renamed) resumes only for its own spec
    out.rename(partial_path(out))
    with pytest.raises(LUTError, match="another spec"):
        characterize(parse_spec(other), other, out, workers=1, progress=False)
    report = characterize(parse_spec(same), same, out, workers=1, progress=False)
    assert report.complete and report.points_run == 0
    assert CellLUT.load(out).offered_gates == pytest.approx(tuple(OFFERED))
    # the stored list edited by hand (the spec's hash unchanged) no longer matches the spec
    with h5py.File(out, "r+") as f:
        f["grid/v_gate_offered"][...] = f["grid/v_gate"][()][[1, 3, 5, 7]]
    with pytest.raises(LUTError, match=r"grid/v_gate_offered does not match"):
        characterize(parse_spec(same), same, out, workers=1, progress=False)
    with h5py.File(out, "r+") as f:
        f["grid/v_gate_offered"][0] = 0.73  # not on the grid: refused as a damaged file
    with pytest.raises(LUTError, match=r"0\.73 V, not a value of grid/v_gate"):
        characterize(parse_spec(same), same, out, workers=1, progress=False)
