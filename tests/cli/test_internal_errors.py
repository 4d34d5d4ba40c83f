"""A bug is not a user's mistake: an internal error shows its traceback, one line asking to report
it, and exit code 1; Ctrl-C anywhere is one line and exit 130; a missing file the user named stays
one line and exit 2.

The errors are injected by monkeypatching a library function a command calls (a RuntimeError, a
plain ValueError: neither is a toolkit error).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from neatxbar.characterize import fit as fit_module
from neatxbar.characterize import runner
from neatxbar.characterize.spec import SweepSpec
from neatxbar.cli.errors import BUG_EXIT_CODE, INTERRUPT_EXIT_CODE, is_user_file_error
from neatxbar.cli.main import cli
from neatxbar.core.outputs import OutputFolder
from neatxbar.training import data as data_module
from neatxbar.training.trainer import TrainConfig


def _raiser(error: BaseException) -> Callable[..., None]:
    def boom(*args: object, **kwargs: object) -> None:
        raise error

    return boom


def _assert_bug(result: Result, message: str) -> None:
    assert result.exit_code == BUG_EXIT_CODE, result.output
    assert "Traceback (most recent call last)" in result.stderr, result.stderr
    assert message in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: an internal error") and "please report it" in last, last
    assert "issue tracker" in last or "://" in last


# (command line, where to inject, attribute); {lut}: the shared paper LUT, {out}: a fresh folder
TARGETS = {
    "characterize": (
        [
            "characterize",
            "--preset",
            "quick",
            "--out",
            "{out}/q.h5",
            "--workers",
            "1",
            "--no-progress",
        ],
        runner,
        "run_chunk",
    ),
    "characterize (spec)": (
        ["characterize", "--preset", "quick", "--out", "{out}/q.h5"],
        SweepSpec,
        "validate",
    ),
    "fit": (["fit", "{lut}"], fit_module, "fit_linear_region"),
    "map": (
        ["map", "--checkpoint", "{lut}", "--lut", "{lut}", "--out", "{out}/map"],
        OutputFolder,
        "check",
    ),
    "train": (
        ["train", "--epochs", "1", "--no-progress", "--out", "{out}/m.pt"],
        TrainConfig,
        "validate",
    ),
    "train (data)": (
        ["train", "--epochs", "1", "--no-progress", "--out", "{out}/m.pt"],
        data_module,
        "load_dataset",
    ),
    "report lut": (["report", "lut", "{lut}", "--out", "{out}/r"], OutputFolder, "check"),
}


def _args(name: str, lut: Path, out: Path) -> list[str]:
    return [a.format(lut=lut, out=out) for a in TARGETS[name][0]]


@pytest.mark.parametrize("error", [RuntimeError, ValueError, TypeError])
@pytest.mark.parametrize("name", list(TARGETS))
def test_an_internal_error_shows_its_traceback_and_exit_1(
    name: str,
    error: type[Exception],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    paper_lut_path: Path,
) -> None:
    _, owner, attribute = TARGETS[name]
    monkeypatch.setattr(owner, attribute, _raiser(error("injected bug 7f3a")))
    before = paper_lut_path.stat().st_mtime_ns
    result = CliRunner().invoke(cli, _args(name, paper_lut_path, tmp_path))
    _assert_bug(result, f"{error.__name__}: injected bug 7f3a")
    assert paper_lut_path.stat().st_mtime_ns == before  # `fit` wrote nothing


def test_a_file_error_inside_the_installation_is_a_bug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, paper_lut_path: Path
) -> None:
    """A package-data file that is missing is the toolkit's fault, not the user's."""
    import neatxbar.netlists

    ours = Path(next(iter(neatxbar.netlists.__path__))) / "gone.cir"
    missing = FileNotFoundError(2, "No such file or directory", str(ours))
    monkeypatch.setattr(fit_module, "fit_linear_region", _raiser(missing))
    _assert_bug(CliRunner().invoke(cli, ["fit", str(paper_lut_path)]), "gone.cir")


@pytest.mark.parametrize("kind", [FileNotFoundError, PermissionError, IsADirectoryError])
def test_a_file_the_user_named_is_one_line_and_exit_2(
    kind: type[OSError], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, paper_lut_path: Path
) -> None:
    theirs = tmp_path / "their-file.h5"
    error = kind(13, "cannot open", str(theirs))
    assert is_user_file_error(error)
    monkeypatch.setattr(fit_module, "fit_linear_region", _raiser(error))
    result = CliRunner().invoke(cli, ["fit", str(paper_lut_path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {theirs}: cannot open"


def test_an_os_error_without_a_file_is_a_bug(
    monkeypatch: pytest.MonkeyPatch, paper_lut_path: Path
) -> None:
    assert not is_user_file_error(FileNotFoundError("no path here"))
    monkeypatch.setattr(fit_module, "fit_linear_region", _raiser(OSError(5, "I/O error")))
    _assert_bug(CliRunner().invoke(cli, ["fit", str(paper_lut_path)]), "I/O error")


@pytest.mark.parametrize("name", ["characterize (spec)", "fit", "map", "train", "report lut"])
def test_ctrl_c_anywhere_is_one_line_and_exit_130(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, paper_lut_path: Path
) -> None:
    _, owner, attribute = TARGETS[name]
    monkeypatch.setattr(owner, attribute, _raiser(KeyboardInterrupt()))
    result = CliRunner().invoke(cli, _args(name, paper_lut_path, tmp_path))
    assert result.exit_code == INTERRUPT_EXIT_CODE, result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == ["interrupted"]
    assert "Traceback" not in result.output


def test_neat_map_script_reports_a_bug_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, paper_lut_path: Path
) -> None:
    """The ``neat-map`` script: the same click command run on its own."""
    from neatxbar.cli.map import map_command

    monkeypatch.setattr(OutputFolder, "check", _raiser(RuntimeError("injected bug 7f3a")))
    lut = str(paper_lut_path)
    result = CliRunner().invoke(
        map_command, ["--checkpoint", lut, "--lut", lut, "--out", str(tmp_path / "m")]
    )
    _assert_bug(result, "RuntimeError: injected bug 7f3a")
