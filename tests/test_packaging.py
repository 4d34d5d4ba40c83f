"""The package installs as ``neatxbar.*`` and works from any directory, in a wheel too."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ["spice", "characterize", "lut", "mapping", "training", "cli", "netlists"]


def _script(name: str) -> str:
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def test_imports_from_another_directory(tmp_path: Path) -> None:
    code = (
        "import importlib\n"
        f"for name in {SUBPACKAGES!r}:\n"
        "    module = importlib.import_module('neatxbar.' + name)\n"
        "    print(module.__name__)\n"
        "from importlib.resources import files\n"
        "print((files('neatxbar.netlists') / 'cell.cir').read_text().splitlines()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[: len(SUBPACKAGES)] == [f"neatxbar.{n}" for n in SUBPACKAGES]
    assert "1T-1R cell" in out.stdout


def test_neat_help_from_another_directory(tmp_path: Path) -> None:
    out = subprocess.run(
        [_script("neat"), "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert "doctor" in out.stdout and "map" in out.stdout


def test_neat_doctor_from_another_directory(tmp_path: Path) -> None:
    out = subprocess.run([_script("neat"), "doctor"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ngspice" in out.stdout and "OK:" in out.stdout


def test_neat_map_is_installed_as_its_own_command(tmp_path: Path) -> None:
    out = subprocess.run(
        [_script("neat-map"), "--checkpoint", str(tmp_path / "missing.pt"), "--lut", "x.h5"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "error:" in out.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list tracked files")
def test_wheel_contains_the_subpackages_and_netlists(tmp_path: Path) -> None:
    # Build from a copy of the tracked files, so the checkout gets no build/ or egg-info.
    source = tmp_path / "src"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("neat_xbar-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in SUBPACKAGES:
        assert f"neatxbar/{package}/__init__.py" in names
    for data in [
        "cell.cir",
        "cell_sweep.cir",
        "crossbar.cir",
        "elements.cir",
        "nmos45_bsim4.lib",
        "nmos_level1.lib",
    ]:
        assert f"neatxbar/netlists/{data}" in names
    assert "neatxbar/spice/session.py" in names
    assert not any(name.startswith("neatxbar/__init__") for name in names)
