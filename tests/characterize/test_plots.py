"""``neat report lut`` and :func:`plot_lut` on a LUT made by the real toolkit (quick preset)."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from neatxbar.characterize.plots import plot_lut
from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.cli.main import cli
from neatxbar.lut.errors import LUTError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = ["iv_curves", "g_max_vs_vgate", "deviation_heatmaps"]


@pytest.fixture(scope="module")
def quick_lut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete, fitted LUT of the quick preset (about a second of ngspice)."""
    spec, text = load_preset("quick")
    path = tmp_path_factory.mktemp("lut") / "q.h5"
    report = characterize(spec, text, path, workers=1, progress=False)
    assert report.complete
    return path


def test_report_lut_writes_png_and_pdf_of_each_figure(quick_lut: Path, tmp_path: Path) -> None:
    out = tmp_path / "fig"
    result = CliRunner().invoke(cli, ["report", "lut", str(quick_lut), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = [out / f"{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")]
    assert result.output.splitlines() == [str(path) for path in expected]
    for path in expected:
        assert path.stat().st_size > 0, path
    for path in expected[::2]:
        assert path.read_bytes().startswith(PNG_SIGNATURE), path


def test_report_lut_on_a_file_that_is_not_hdf5_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"this is not an HDF5 file\n" * 4)
    result = CliRunner().invoke(cli, ["report", "lut", str(bogus), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("error:") and "HDF5" in result.output
    assert not (tmp_path / "f").exists()


def test_plot_lut_without_linear_region_says_to_run_fit(quick_lut: Path, tmp_path: Path) -> None:
    unfitted = tmp_path / "unfitted.h5"
    shutil.copyfile(quick_lut, unfitted)
    with h5py.File(unfitted, "r+") as f:
        del f["linear_region"]
    with pytest.raises(LUTError, match="neat fit"):
        plot_lut(unfitted, tmp_path / "fig")


def test_plot_lut_takes_chosen_conductances(quick_lut: Path, tmp_path: Path) -> None:
    paths = plot_lut(quick_lut, tmp_path / "fig", conductances_us=[5.0, 30.0, 31.0])
    assert [path.name for path in paths] == [f"{n}.{e}" for n in FIGURES for e in ("png", "pdf")]
    with pytest.raises(ValueError, match="conductances"):
        plot_lut(quick_lut, tmp_path / "none", conductances_us=[])
    assert not (tmp_path / "none").exists()
