"""Output folders of `neat map`, `neat compare` and `neat report lut` lose nothing: a user's files
survive, a run's files are committed together (a failure between two files leaves the old ones),
an output that would replace an input is refused before any work, and a failed run changes no
file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import neatxbar.studies.neat_map.figures as figures_module
from neatxbar.cli.main import cli
from neatxbar.core.outputs import MANIFEST
from neatxbar.studies.neat_map import FILES


def _neat(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _one_line_exit_2(result: Result, text: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert text in result.output, result.output


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A software MLP on the digits, one epoch."""
    out = tmp_path_factory.mktemp("ckpt") / "mlp.pt"
    result = _neat("train", "--epochs", "1", "--device", "cpu", "--no-progress", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture()
def user_folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    (out / "thesis").mkdir(parents=True)
    (out / "notes.txt").write_text("a user's notes")
    (out / "thesis" / "chapter.tex").write_text("a user's chapter")
    return out


def _map(checkpoint: Path, lut: Path, out: Path, *extra: str) -> Result:
    return _neat(
        "map",
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(lut),
        "--out",
        str(out),
        "--energy-samples",
        "8",
        "--no-progress",
        *extra,
    )


def test_map_commits_its_files_together_and_keeps_the_users(
    checkpoint: Path, paper_lut_path: Path, user_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _map(checkpoint, paper_lut_path, user_folder, "--vgate", "1.0")
    assert first.exit_code == 0, first.output
    before = _tree(user_folder)
    assert set(FILES) | {MANIFEST, "notes.txt", "thesis/chapter.tex"} == set(before)

    # a failure between two files (summary.json and layers.csv staged, the figures not yet)
    def fail(*args: object) -> None:
        raise RuntimeError("killed while writing the outputs")

    monkeypatch.setattr(figures_module, "accuracy_figure", fail)
    failed = _map(checkpoint, paper_lut_path, user_folder, "--vgate", "0.8")
    # an internal error: its traceback and exit 1, not a one-line user error
    assert failed.exit_code == 1, failed.output
    assert "RuntimeError: killed while writing the outputs" in failed.output
    assert _tree(user_folder) == before  # the old outputs, all intact; no stray file
    assert {p.name for p in user_folder.iterdir()} == {*FILES, MANIFEST, "notes.txt", "thesis"}
    monkeypatch.undo()
    # bad input: one line, exit 2, no file changed
    _one_line_exit_2(_map(checkpoint, paper_lut_path, user_folder, "--vgate", "0.815"), "0.815")
    assert _tree(user_folder) == before
    again = _map(checkpoint, paper_lut_path, user_folder, "--vgate", "0.8")
    assert again.exit_code == 0, again.output
    after = _tree(user_folder)
    assert after["summary.json"] != before["summary.json"]
    assert {k: after[k] for k in ("notes.txt", "thesis/chapter.tex")} == {
        k: before[k] for k in ("notes.txt", "thesis/chapter.tex")
    }


def test_map_refuses_to_replace_an_input_or_a_users_file(
    checkpoint: Path, paper_lut_path: Path, user_folder: Path
) -> None:
    before = _tree(user_folder)
    as_output = user_folder / "summary.json"
    shutil.copy(checkpoint, as_output)
    _one_line_exit_2(_map(as_output, paper_lut_path, user_folder), "would replace the input")
    as_output.unlink()
    (user_folder / "layers.csv").write_text("a user's table")
    _one_line_exit_2(_map(checkpoint, paper_lut_path, user_folder), "not written by neat-xbar")
    (user_folder / "layers.csv").unlink()
    assert _tree(user_folder) == before
    _one_line_exit_2(_map(checkpoint, paper_lut_path, checkpoint), "is a file")


def test_report_lut_keeps_the_users_files_and_refuses_its_input_as_output(
    paper_lut_path: Path, user_folder: Path
) -> None:
    result = _neat("report", "lut", str(paper_lut_path), "--out", str(user_folder))
    assert result.exit_code == 0, result.output
    tree = _tree(user_folder)
    assert tree["notes.txt"] == b"a user's notes" and "iv_curves.png" in tree
    lut_named_like_a_figure = user_folder / "g_max_vs_vgate.pdf"
    lut_named_like_a_figure.unlink()
    shutil.copy(paper_lut_path, lut_named_like_a_figure)
    before = _tree(user_folder)
    refused = _neat("report", "lut", str(lut_named_like_a_figure), "--out", str(user_folder))
    _one_line_exit_2(refused, "would replace the input")
    assert _tree(user_folder) == before


def test_compare_refuses_its_lut_as_an_output_before_any_work(
    paper_lut_path: Path, user_folder: Path
) -> None:
    lut = user_folder / "compare.csv"
    shutil.copy(paper_lut_path, lut)
    before = _tree(user_folder)
    refused = _neat(
        "compare",
        "--lut",
        str(lut),
        "--sizes",
        "4",
        "--no-trained",
        "--no-progress",
        "--out",
        str(user_folder),
    )
    _one_line_exit_2(refused, "would replace the input")
    assert _tree(user_folder) == before
