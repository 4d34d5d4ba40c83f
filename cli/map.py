"""``neat map`` / ``neat-map``: map a trained model onto crossbars (not built yet)."""

from __future__ import annotations

import click

from neatxbar.cli.errors import UserError


@click.command(
    "map",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    help="Map a trained model onto 1T-1R crossbars and report accuracy and energy (not built yet).",
)
def map_command() -> None:
    raise UserError("neat map is not built yet: it arrives with the mapping issue")
