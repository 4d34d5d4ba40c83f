"""``neat doctor`` through click, in process."""

from __future__ import annotations

from click.testing import CliRunner

from neatxbar.cli.main import cli


def test_doctor_reports_versions_and_a_simulated_cell() -> None:
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    for name in ["ngspice", "PySpice", "torch", "numpy", "h5py", "torch device"]:
        assert name in result.output
    cell_line = next(line for line in result.output.splitlines() if line.startswith("1T-1R cell"))
    assert "OK:" in cell_line
