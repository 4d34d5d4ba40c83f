"""The CLI reference (``docs/cli.md``), generated from the click commands themselves.

Regenerate with ``python -m neatxbar.cli.reference > docs/cli.md``; a test keeps the file current.
"""

from __future__ import annotations

import click

from neatxbar.cli.main import cli

HEADER = """# CLI reference

Generated from the commands' own help by `python -m neatxbar.cli.reference > docs/cli.md`
(a test fails when this file is out of date). Every command answers bad input with one line on
stderr and exit code 2, and Ctrl-C with one line and exit code 130. Anything else is a bug in
neat-xbar: its traceback, a line asking you to report it, and exit code 1.
"""


def _sections(command: click.Command, name: str, parent: click.Context | None) -> list[str]:
    """This command's section and its subcommands', each help rendered in its real context
    chain (so settings such as ``-h`` for help reach every command)."""
    settings = {"terminal_width": 100, **command.context_settings}
    with click.Context(command, info_name=name, parent=parent, **settings) as ctx:
        path = ctx.command_path
        parts = [f"## `{path}`\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n"]
        if isinstance(command, click.Group):
            for child in sorted(command.commands):
                parts += _sections(command.commands[child], child, ctx)
    return parts


def reference() -> str:
    """Markdown: one section per command, with its usage, help and options."""
    return "\n".join([HEADER, *_sections(cli, "neat", None)])


if __name__ == "__main__":
    click.echo(reference(), nl=False)
