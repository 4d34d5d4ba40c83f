"""Output folders lose nothing: only files the toolkit wrote are replaced or removed, a run's
files are committed together, and a killed run's staging folder is finished or removed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from neatxbar.core.files import write_text
from neatxbar.core.outputs import (
    COMMIT_RECORD,
    MANIFEST,
    STAGING_PREFIX,
    OutputError,
    OutputFolder,
)

NAMES = ("a.json", "b.csv", "c.png")


def _user_files(folder: Path) -> dict[str, str]:
    """A user's file and a sub-folder with a file, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "data").mkdir()
    (folder / "data" / "x.txt").write_text("also mine")
    return {"notes.txt": "mine", "data/x.txt": "also mine"}


def _write(folder: OutputFolder, text: str, fail_after: int | None = None) -> None:
    with folder.staging() as stage:
        for i, name in enumerate(NAMES):
            if fail_after is not None and i == fail_after:
                raise RuntimeError("killed between two files")
            write_text(stage.file(name), f"{text} {name}")


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_commit_writes_all_files_and_the_manifest(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "new" / "out")
    folder.check(NAMES)
    assert not (tmp_path / "new").exists()  # a check creates nothing
    _write(folder, "one")
    assert {p.name for p in folder.path.iterdir()} == {*NAMES, MANIFEST}
    assert json.loads((folder.path / MANIFEST).read_text())["files"] == sorted(NAMES)
    _write(folder, "two")  # a rerun replaces its own files
    assert (folder.path / "a.json").read_text() == "two a.json"


def test_a_failure_between_two_files_changes_nothing(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "out")
    user = _user_files(folder.path)
    _write(folder, "old")
    before = _tree(folder.path)
    with pytest.raises(RuntimeError, match="killed"):
        _write(folder, "new", fail_after=1)
    assert _tree(folder.path) == before  # old outputs intact, user files intact
    assert not [p for p in folder.path.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert not list(folder.path.glob("*.tmp")) and not list(folder.path.glob(".*.tmp"))
    assert all(_tree(folder.path)[k] == v for k, v in user.items())


def test_a_failed_first_run_leaves_no_folder(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path / "a" / "b")
    with pytest.raises(RuntimeError):
        _write(folder, "x", fail_after=0)
    assert list(tmp_path.iterdir()) == []


def test_a_users_file_is_never_replaced_or_removed(tmp_path: Path) -> None:
    folder = OutputFolder(tmp_path)
    user = _user_files(tmp_path)
    (tmp_path / "b.csv").write_text("the user's csv")
    with pytest.raises(OutputError, match="not written by neat-xbar"):
        folder.check(NAMES)
    with pytest.raises(OutputError, match="not written by neat-xbar"):
        _write(folder, "x")  # the commit checks again
    (tmp_path / "b.csv").unlink()
    _write(folder, "x")
    removed = folder.clear()
    assert sorted(p.name for p in removed) == sorted(NAMES)
    assert _tree(tmp_path) == {**user, MANIFEST: _tree(tmp_path)[MANIFEST]}
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == []


def test_clear_removes_no_folder_and_ignores_a_tampered_manifest(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    out = tmp_path / "out"
    _user_files(out)
    (out / "sub").mkdir()
    listed = ["../outside.txt", "data", "sub", "/etc/hostname", ".", "", 7]
    (out / MANIFEST).write_text(json.dumps({"files": listed}))
    assert OutputFolder(out).clear() == []
    assert outside.read_text() == "keep" and (out / "data" / "x.txt").exists()
    assert (out / "sub").is_dir()
    (out / MANIFEST).write_text("[1, 2")
    with pytest.raises(OutputError, match="damaged"):
        OutputFolder(out).clear()


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "a.json"
    source.write_text("input")
    (tmp_path / MANIFEST).write_text(json.dumps({"files": list(NAMES)}))  # even if "ours"
    with pytest.raises(OutputError, match="would replace the input"):
        OutputFolder(tmp_path, inputs=[source]).check(NAMES)
    with pytest.raises(OutputError, match="is a file"):
        OutputFolder(source, inputs=[source]).check(NAMES)
    with pytest.raises(OutputError, match="is under"):
        OutputFolder(source / "deeper").check(NAMES)
    removed = OutputFolder(tmp_path, inputs=[source]).clear()
    assert source not in removed and source.read_text() == "input"


def test_a_dot_folder_works_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    user = _user_files(tmp_path)
    folder = OutputFolder(".")
    _write(folder, "x")
    folder.clear()
    _write(folder, "y")
    tree = _tree(tmp_path)
    assert all(tree[k] == v for k, v in user.items())
    assert tree["a.json"] == "y a.json"


def test_a_stale_staging_folder_is_removed_and_a_recorded_commit_finished(
    tmp_path: Path,
) -> None:
    folder = OutputFolder(tmp_path)
    _write(folder, "old")
    dead = 2**31 - 1  # no such process
    # killed while staging (no commit record): removed, old outputs kept
    stale = tmp_path / f"{STAGING_PREFIX}{dead}-0"
    stale.mkdir()
    (stale / "a.json").write_text("half")
    # killed during the renames (commit record written): finished by the next run
    recorded = tmp_path / f"{STAGING_PREFIX}{dead}-1"
    recorded.mkdir()
    (recorded / "c.png").write_text("committed c.png")
    (recorded / "d.txt").write_text("committed d.txt")
    (recorded / COMMIT_RECORD).write_text(json.dumps({"files": ["b.csv", "c.png", "d.txt"]}))
    # a staging folder of a live process (ours, by pid) and a look-alike of the user's: left
    alive = tmp_path / f"{STAGING_PREFIX}{os.getppid()}-0"
    alive.mkdir()
    lookalike = tmp_path / f"{STAGING_PREFIX}mine"
    lookalike.mkdir()
    folder.record(["e.txt"])
    assert not stale.exists() and not recorded.exists()
    assert alive.is_dir() and lookalike.is_dir()
    assert (tmp_path / "a.json").read_text() == "old a.json"
    assert (tmp_path / "c.png").read_text() == "committed c.png"
    assert (tmp_path / "d.txt").read_text() == "committed d.txt"
    owned = OutputFolder(tmp_path).owned()
    assert {"a.json", "b.csv", "c.png", "d.txt", "e.txt"} <= owned
