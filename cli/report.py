"""``neat report``: reports and plots of the toolkit's files."""

from __future__ import annotations

from pathlib import Path

import click

from neatxbar.cli.errors import NeatGroup, user_errors


@click.group("report", cls=NeatGroup)
def report_group() -> None:
    """Reports and plots."""


@report_group.command("lut")
@click.argument("lut", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder [reports/<LUT stem>]; only files neat-xbar wrote there are replaced.",
)
def lut_command(lut: str, out: str | None) -> None:
    """Plot a fitted LUT into PNG and PDF figures.

    I-V curves, g_max against V_gate, and heat maps of the deviation from linear.
    """
    from neatxbar.characterize.plots import plot_lut  # matplotlib: ~0.3 s, only when plotting

    out_dir = Path(out) if out else Path("reports") / Path(lut).stem
    with user_errors():
        paths = plot_lut(Path(lut), out_dir)
    for path in paths:
        click.echo(str(path))


@report_group.command("experiment")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Experiment TOML (configs/experiment-*.toml).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder [reports/<name>]; it may hold other files, which are left alone.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start again if the folder holds another run (removes only that run's files).",
)
@click.option(
    "--temperature",
    "temperature_c",
    type=float,
    help="The LUT's temperature (degC) the rows are measured at; replaces the config's "
    "experiment.temperature_c [27 C, else the LUT's first].",
)
@click.option("--progress/--no-progress", default=True)
def experiment_command(
    config_path: str,
    out: str | None,
    overwrite: bool,
    temperature_c: float | None,
    progress: bool,
) -> None:
    """Run the NEAT experiment end to end (resumes) and write a Markdown report."""
    from neatxbar.studies.experiment import ExperimentConfig, run_experiment

    with user_errors():
        config = ExperimentConfig.from_toml(config_path)
        if temperature_c is not None:
            config = config.with_temperature(temperature_c)
        out_dir = Path(out) if out else Path("reports") / config.experiment.name
        result = run_experiment(config, out_dir, overwrite=overwrite, progress=progress)
    click.echo(result.table())
    click.echo(f"report: {result.report}")
