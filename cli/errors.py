"""How the CLI reports a user's mistake: one line on stderr and exit code 2, no traceback.

Two sources: the library's user-facing exceptions (:func:`user_errors` turns them into
:class:`UserError`), and click's own usage errors (an unknown option, a missing argument, a bad
choice), which :class:`NeatGroup` and :class:`NeatCommand` print as one line too, instead of
click's three (usage, hint, error).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from neatxbar.core.errors import NeatError
from neatxbar.spice.errors import SpiceError

USER_ERRORS: tuple[type[BaseException], ...] = (NeatError, ValueError, SpiceError, OSError)
USAGE_EXIT_CODE = 2


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


@contextmanager
def _one_line_usage(command_path: str) -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `neat` alone prints its help
    except click.UsageError as error:
        if isinstance(error, OneLineUsageError):
            raise
        path = error.ctx.command_path if error.ctx is not None else command_path
        raise OneLineUsageError(error.format_message(), error.ctx, path) from error


def _path(info_name: str | None, parent: click.Context | None) -> str:
    return " ".join(part for part in (parent and parent.command_path, info_name) if part)


class NeatCommand(click.Command):
    """A click command whose usage errors take one line and exit 2."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        with _one_line_usage(_path(info_name, parent)):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_usage(ctx.command_path):
            return super().invoke(ctx)


class NeatGroup(click.Group):
    """A click group whose usage errors, its sub-commands' included, take one line and exit 2."""

    command_class = NeatCommand

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        with _one_line_usage(_path(info_name, parent)):
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_usage(ctx.command_path):
            return super().invoke(ctx)


NeatGroup.group_class = NeatGroup


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing exceptions into :class:`UserError`."""
    try:
        yield
    except USER_ERRORS as error:
        lines = str(error).splitlines()
        raise UserError(lines[0] if lines else type(error).__name__) from error
