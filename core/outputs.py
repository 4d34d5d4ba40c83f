"""Output folders that lose nothing: the toolkit replaces or removes only files it wrote.

An output folder (``neat map --out``, ``neat compare --out``, ``neat report ... --out``) may hold
a user's other work. :class:`OutputFolder` keeps a manifest, the hidden file
``.neat-outputs.json`` in the folder, of the file names the toolkit wrote there; it

- refuses, before any work (:meth:`OutputFolder.check`), an output that would replace a file it
  did not write (not in the manifest), an output that would replace an input of the run, and an
  output folder that is a file;
- removes only files named in the manifest (:meth:`OutputFolder.clear`, for ``--overwrite``),
  never a folder and never a file it did not write;
- commits a run's files together (:meth:`OutputFolder.staging`): every file is written into a
  hidden staging folder ``.neat-staging-<pid>-<n>`` inside the output folder, then a commit
  record is written there, the manifest updated, and the files renamed into place. A failure
  before the commit record removes the staging folder and changes nothing else; a run killed
  during the renames is completed by the next run in that folder (roll forward), a run killed
  before the commit record has its staging folder removed by the next run. Only staging
  folders of this module's name, of processes no longer running, are touched.

Torch-free (the bottom floor). The folder is created only when something is written to it; a
run that fails removes the folders it created.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from neatxbar.core.errors import NeatError
from neatxbar.core.files import write_text

MANIFEST = ".neat-outputs.json"
FORMAT = "neat-outputs/1"
STAGING_PREFIX = ".neat-staging-"
COMMIT_RECORD = ".commit.json"
_STAGING_NAME = re.compile(r"\.neat-staging-(\d{1,10})-(\d{1,10})")

_counter = itertools.count()
_active: set[str] = set()  # staging folder names of this process still being written
_active_lock = threading.Lock()


class OutputError(NeatError, ValueError):
    """An output would replace a file the toolkit did not write or an input, or the output
    folder is not a folder; the message says which and how to mend it."""


def _valid_name(name: object) -> bool:
    """A plain file name directly inside the folder (no folder part, not hidden machinery)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..", MANIFEST)
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and not name.startswith(STAGING_PREFIX)
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # a live process of another user
    return True


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (flock on the folder itself: no lock file) while the
    manifest is read, changed and written."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class OutputFolder:
    """A folder of a run's outputs; see the module docstring.

    Parameters
    ----------
    path
        The output folder (created when the first file is written).
    inputs
        Files the run reads: an output that would replace one is refused.
    """

    def __init__(self, path: Path | str, inputs: Iterable[Path | str | None] = ()) -> None:
        self.path = Path(path)
        self.inputs = tuple(Path(p) for p in inputs if p is not None)

    # -- the manifest -------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def owned(self) -> set[str]:
        """The file names the manifest lists (the toolkit wrote them, or was writing them).

        Raises
        ------
        OutputError
            The manifest is damaged.
        """
        path = self.manifest_path
        if not path.is_file():
            return set()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("files"), list):
            raise OutputError(
                f"{path} is damaged (not a neat-xbar output manifest); remove it only if no file "
                "in the folder matters, or choose another output folder"
            )
        return {name for name in data["files"] if _valid_name(name)}

    def _write_manifest(self, names: Iterable[str]) -> None:
        data = {"format": FORMAT, "files": sorted(set(names))}
        write_text(self.manifest_path, json.dumps(data, indent=2) + "\n")

    # -- checks -------------------------------------------------------------------------------

    def check(self, names: Iterable[str]) -> None:
        """Refuse, before any work, outputs ``names`` this run may not write.

        Raises
        ------
        OutputError
            The folder is a file (or under one); a name is not a plain file name; an output would
            replace an input of the run, a folder, or a file the toolkit did not write.
        """
        names = list(names)
        for parent in (self.path, *self.path.parents):
            if parent.exists() or parent.is_symlink():
                if not parent.is_dir():
                    what = "is" if parent == self.path else f"is under {parent}, which is"
                    raise OutputError(f"the output folder {self.path} {what} a file; give a folder")
                break
        for name in names:
            if not _valid_name(name):
                raise OutputError(f"{name!r} is not a plain file name for an output")
        for name in names:
            target = self.path / name
            for source in self.inputs:
                if _same_file(target, source):
                    raise OutputError(
                        f"the output {target} would replace the input {source}; choose another "
                        "output folder or move the input"
                    )
        owned = self.owned() if self.path.is_dir() else set()
        for name in names:
            target = self.path / name
            if target.is_dir() and not target.is_symlink():
                raise OutputError(
                    f"{target} is a folder; the output {name} cannot be written there; choose "
                    "another output folder"
                )
            if (target.exists() or target.is_symlink()) and name not in owned:
                raise OutputError(
                    f"{target} exists and was not written by neat-xbar (not in {MANIFEST}); move "
                    "it or choose another output folder"
                )

    # -- changes ------------------------------------------------------------------------------

    def _make(self) -> list[Path]:
        """Create the folder and its missing parents; return those created, deepest first."""
        created = []
        for folder in (self.path, *self.path.parents):
            if folder.is_dir():
                break
            created.append(folder)
        self.path.mkdir(parents=True, exist_ok=True)
        return created

    def record(self, names: Iterable[str]) -> None:
        """Add ``names`` to the manifest before their files are written (a run killed while
        writing them leaves files the toolkit still knows as its own). Creates the folder."""
        names = list(names)
        self.check(names)
        self._make()
        with _locked(self.path):
            self._recover()
            self._write_manifest(self.owned() | set(names))

    def clear(self) -> list[Path]:
        """Remove the files the manifest lists (not folders, not inputs of this run); return the
        paths removed. Nothing else in the folder is touched."""
        if not self.path.is_dir():
            return []
        removed = []
        with _locked(self.path):
            self._recover()
            owned = self.owned()
            kept = set()
            for name in sorted(owned):
                target = self.path / name
                if any(_same_file(target, source) for source in self.inputs):
                    kept.add(name)
                elif target.is_symlink() or target.is_file():
                    target.unlink()
                    removed.append(target)
                elif target.exists():
                    kept.add(name)  # became a folder: never removed
            if owned or self.manifest_path.exists():
                self._write_manifest(kept)
        return removed

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        """Stage a run's files and commit them together on a normal exit.

        Write each file to ``stage.file(name)``; when the ``with`` block ends normally the files
        are checked again (:meth:`check`), recorded and renamed into place together. An
        exception in the block removes the staging folder (and the output folders this call
        created): the output folder is left as it was.
        """
        created = self._make()
        name = f"{STAGING_PREFIX}{os.getpid()}-{next(_counter)}"
        with _active_lock:
            _active.add(name)
        stage = Staging(self.path / name)
        recorded = False
        try:
            with _locked(self.path):
                self._recover()
            stage.dir.mkdir()
            yield stage
            self.check(stage.names)
            with _locked(self.path):
                write_text(stage.dir / COMMIT_RECORD, json.dumps({"files": stage.names}))
                recorded = True
                self._commit(stage.dir)
        except BaseException:
            if not recorded:  # else the next run in the folder completes the commit
                _discard(stage.dir)
                for folder in created:
                    with contextlib.suppress(OSError):
                        folder.rmdir()  # only when empty
            raise
        finally:
            with _active_lock:
                _active.discard(name)

    def _commit(self, staged: Path) -> None:
        """Record the staged files in the manifest, rename them into place, remove the staging
        folder. Idempotent: a commit interrupted by a kill is completed by running it again."""
        record = json.loads((staged / COMMIT_RECORD).read_text(encoding="utf-8"))
        names = [n for n in record.get("files", []) if _valid_name(n)]
        self._write_manifest(self.owned() | set(names))
        for name in names:
            source = staged / name
            if source.is_file() and not source.is_symlink():
                os.replace(source, self.path / name)
        _discard(staged)

    def _recover(self) -> None:
        """Finish or remove the staging folders of runs that were killed (by name: only
        ``.neat-staging-<pid>-<n>`` of a process no longer running, or of this process and not
        being written)."""
        for entry in self.path.iterdir():
            match = _STAGING_NAME.fullmatch(entry.name)
            if match is None or not entry.is_dir() or entry.is_symlink():
                continue
            pid = int(match.group(1))
            with _active_lock:
                busy = entry.name in _active
            if busy or (pid != os.getpid() and _pid_alive(pid)):
                continue
            if (entry / COMMIT_RECORD).is_file():
                try:
                    self._commit(entry)
                    continue
                except (OSError, ValueError):
                    pass
            _discard(entry)


class Staging:
    """The files of one run being staged (see :meth:`OutputFolder.staging`)."""

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.names: list[str] = []

    def file(self, name: str) -> Path:
        """The staging path to write the output ``name`` to."""
        if not _valid_name(name):
            raise OutputError(f"{name!r} is not a plain file name for an output")
        if name not in self.names:
            self.names.append(name)
        return self.dir / name


def _discard(staged: Path) -> None:
    """Remove a staging folder: its plain files, then the folder if it is empty then (a
    sub-folder someone put there is left, and so is the folder)."""
    if not staged.is_dir() or staged.is_symlink():
        return
    for entry in staged.iterdir():
        if entry.is_symlink() or entry.is_file():
            with contextlib.suppress(OSError):
                entry.unlink()
    with contextlib.suppress(OSError):
        staged.rmdir()
