"""The CLI reference (``docs/cli.md``), generated from the click commands themselves.

Regenerate with ``python -m neatxbar.cli.reference > docs/cli.md``; a test keeps the file current.
"""

from __future__ import annotations

import click

from neatxbar.cli.main import cli

HEADER = """# CLI reference

Generated from the commands' own help by `python -m neatxbar.cli.reference > docs/cli.md`
(a test fails when this file is out of date). Every command answers bad input with one line on
stderr and exit code 2.
"""


def _commands(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _commands(command.commands[name], [*path, name])
    return found


def reference() -> str:
    """Markdown: one section per command, with its usage, help and options."""
    parts = [HEADER]
    for path, command in _commands(cli, ["neat"]):
        with click.Context(command, info_name=" ".join(path), terminal_width=100) as ctx:
            text = command.get_help(ctx)
        parts.append(f"## `{' '.join(path)}`\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(reference(), nl=False)
