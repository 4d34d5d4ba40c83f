"""The ``neat`` command group."""

from __future__ import annotations

from importlib.metadata import version

import click

from neatxbar.cli.characterize import characterize_command, fit_command
from neatxbar.cli.compare import compare_command
from neatxbar.cli.doctor import doctor_command
from neatxbar.cli.errors import NeatGroup
from neatxbar.cli.map import map_command
from neatxbar.cli.report import report_group
from neatxbar.cli.train import train_command


@click.group(cls=NeatGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version("neat-xbar"), prog_name="neat-xbar")
def cli() -> None:
    """neat-xbar: SPICE-in-the-loop 1T-1R crossbar characterization and NEAT training."""


cli.add_command(characterize_command)
cli.add_command(fit_command)
cli.add_command(doctor_command)
cli.add_command(map_command)
cli.add_command(report_group)
cli.add_command(train_command)
cli.add_command(compare_command)


if __name__ == "__main__":
    cli()
