"""How the CLI reports a user's mistake: one line on stderr and exit code 2, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from neatxbar.spice.errors import SpiceError

USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, SpiceError, OSError)
USAGE_EXIT_CODE = 2


class UserError(click.ClickException):
    """A mistake in the command's input: printed as one line, exit code 2."""

    exit_code = USAGE_EXIT_CODE

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the library's user-facing exceptions into :class:`UserError`."""
    try:
        yield
    except USER_ERRORS as error:
        lines = str(error).splitlines()
        raise UserError(lines[0] if lines else type(error).__name__) from error
