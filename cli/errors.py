"""How the CLI reports what went wrong: a user's mistake in one line, a bug with its traceback.

- A user's mistake, i.e. a toolkit error (:class:`~neatxbar.core.errors.NeatError`) or a file the
  user named that is missing or unreadable: one line on stderr (``error: ...``) and exit code 2, no
  traceback (:func:`user_errors` turns them into :class:`UserError`).
- click's own usage errors (an unknown option, a missing argument, a bad choice): one line and exit
  code 2 too, instead of click's three (usage, hint, error); :class:`NeatGroup` and
  :class:`NeatCommand` do this.
- Ctrl-C (a :class:`KeyboardInterrupt` anywhere, also while the inputs load): one line, exit 130.
- Anything else is a bug in the toolkit: its traceback, then one line asking to report it, exit 1.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import click

from neatxbar.core.errors import NeatError

USAGE_EXIT_CODE = 2
BUG_EXIT_CODE = 1
INTERRUPT_EXIT_CODE = 130

# A file the user named that is missing or cannot be read or written: their mistake, not a bug.
FILE_ERRORS: tuple[type[OSError], ...] = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)
USER_ERRORS: tuple[type[BaseException], ...] = (NeatError, *FILE_ERRORS)


class UserError(click.ClickException):
    """A mistake in the command's input: printed as one line, exit code 2."""

    exit_code = USAGE_EXIT_CODE

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineUsageError(click.UsageError):
    """A click usage error printed as one line (``error: ... (see '<command> --help')``)."""

    exit_code = USAGE_EXIT_CODE

    def __init__(self, message: str, ctx: click.Context | None, command_path: str) -> None:
        super().__init__(message, ctx)
        self.command_path = command_path

    def show(self, file: object = None) -> None:
        message = " ".join(self.format_message().split())
        where = f" (see '{self.command_path} --help')" if self.command_path else ""
        click.echo(f"error: {message}{where}", err=True)


def _own_folders() -> tuple[Path, ...]:
    """Folders whose files belong to the installation: Python's, the toolkit's package data."""
    folders = [Path(sys.prefix), Path(sys.base_prefix)]
    for package in ("neatxbar.netlists", "neatxbar.configs"):
        spec = find_spec(package)
        folders += [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    return tuple(folders)


def is_user_file_error(error: BaseException) -> bool:
    """Whether ``error`` is a missing or unreadable file the user named (not one of ours).

    A :data:`FILE_ERRORS` exception that names a file outside the installation (a missing package
    data file is a bug, not the user's mistake).
    """
    if not isinstance(error, FILE_ERRORS) or error.filename is None:
        return False
    try:
        path = Path(str(error.filename)).resolve()
    except (OSError, RuntimeError, ValueError):
        return True
    return not any(path.is_relative_to(folder.resolve()) for folder in _own_folders())


def issue_tracker() -> str:
    """Where to report a bug: the package's issue-tracker URL if its metadata names one."""
    try:
        urls = metadata("neat-xbar").get_all("Project-URL") or []
    except PackageNotFoundError:  # pragma: no cover - run from an uninstalled tree
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() in {"issues", "bug tracker", "bugs", "tracker"} and url.strip():
            return url.strip()
    return "neat-xbar's issue tracker"


def report_bug(command_path: str) -> None:
    """Print the current exception's traceback and one line asking to report it (stderr)."""
    click.echo(traceback.format_exc().rstrip("\n"), err=True)
    where = f" in '{command_path}'" if command_path else ""
    click.echo(
        f"error: an internal error{where} (a bug in neat-xbar, not in your input); please report "
        f"it on {issue_tracker()} with the command you ran and the traceback above",
        err=True,
    )


@contextmanager
def _guard(command_path: str) -> Iterator[None]:
    """One line and exit 2 for usage errors, one line and exit 130 for Ctrl-C, the traceback
    and a request to report it (exit 1) for anything that is not a user's mistake."""
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `neat` alone prints its help
    except click.UsageError as error:
        if isinstance(error, OneLineUsageError):
            raise
        path = error.ctx.command_path if error.ctx is not None else command_path
        raise OneLineUsageError(error.format_message(), error.ctx, path) from error
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise  # already reported (a UserError included), or an exit code chosen on purpose
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        raise click.exceptions.Exit(INTERRUPT_EXIT_CODE) from None
    except USER_ERRORS as error:  # raised outside a `user_errors()` block
        if not isinstance(error, NeatError) and not is_user_file_error(error):
            report_bug(command_path)
            raise click.exceptions.Exit(BUG_EXIT_CODE) from None
        raise _user_error(error) from error
    except Exception:
        report_bug(command_path)
        raise click.exceptions.Exit(BUG_EXIT_CODE) from None


def _path(info_name: str | None, parent: click.Context | None) -> str:
    return " ".join(part for part in (parent and parent.command_path, info_name) if part)


class _Guarded:
    """What :class:`NeatCommand` and :class:`NeatGroup` share: parsing and running inside
    :func:`_guard` (one-line usage errors, Ctrl-C as exit 130, bugs with their traceback)."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with _guard(_path(info_name, parent)):
            return super().make_context(info_name, args, parent, **extra)  # type: ignore[misc]

    def invoke(self, ctx: click.Context) -> Any:
        with _guard(ctx.command_path):
            return super().invoke(ctx)  # type: ignore[misc]


class NeatCommand(_Guarded, click.Command):
    """A click command whose usage errors take one line and exit 2, whose Ctrl-C takes one line
    and exits 130, and whose bugs show their traceback and exit 1."""


class NeatGroup(_Guarded, click.Group):
    """A click group that treats errors as :class:`NeatCommand` does, its sub-commands' included."""

    command_class = NeatCommand


NeatGroup.group_class = NeatGroup


def _user_error(error: BaseException) -> UserError:
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return UserError(f"{error.filename}: {error.strerror}")
    lines = str(error).splitlines()
    return UserError(lines[0] if lines else type(error).__name__)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user's mistake (a toolkit error, a missing or unreadable file the user named) into
    :class:`UserError`: one line, exit code 2. Anything else passes through as a bug."""
    try:
        yield
    except USER_ERRORS as error:
        if isinstance(error, NeatError) or is_user_file_error(error):
            raise _user_error(error) from error
        raise
