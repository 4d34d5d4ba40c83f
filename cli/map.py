"""``neat map`` / ``neat-map``: map a trained model onto crossbars; accuracy and energy per V_gate.

Thin: parses the options, calls :func:`neatxbar.studies.neat_map.deploy`, prints its table (or
JSON). The same click command is the ``neat`` group's ``map`` and the ``neat-map`` script.
"""

from __future__ import annotations

import click

from neatxbar.cli.errors import NeatCommand, UserError, user_errors
from neatxbar.core.jsonout import dumps_strict


def parse_v_gate(text: str | None) -> float | str | None:
    """``--vgate``: a number of volts (checked by ``check_v_gate``: finite, in (0, 5] V) or
    ``auto``."""
    from neatxbar.mapping.config import check_v_gate

    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise UserError(
            f"--vgate {text!r}: give a gate voltage in volts (e.g. 0.8) or 'auto'"
        ) from None
    with user_errors():
        return check_v_gate("--vgate", value)


@click.command("map", cls=NeatCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--checkpoint",
    required=True,
    type=click.Path(dir_okay=False),
    help="A checkpoint of 'neat train' (or a plain state_dict, with --model).",
)
@click.option("--lut", required=True, type=click.Path(dir_okay=False), help="The cell LUT.")
@click.option(
    "--vgate",
    help="V_gate (V) of every layer, or 'auto' (data-free per-layer choice, at most 1.3 V). "
    "Default: the checkpoint's own V_gate, else 1.0.",
)
@click.option(
    "--vgate-per-layer",
    type=click.Path(dir_okay=False),
    help="TOML or JSON of layer = V_gate (with an optional default).",
)
@click.option(
    "--sweep",
    help="Also every layer at start, start+step, ... <= stop (V), e.g. 0.7:1.3:0.05; every value "
    "must be on the LUT's gate grid.",
)
@click.option("--dataset", help="digits, cifar10 or cifar100 [the checkpoint's].")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder of CIFAR's pickles.")
@click.option("--model", "model_name", help="The model of a plain state_dict (mlp, cnn, ...).")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="TOML with a [mapping] table (tiles, DAC, ADC, path, [mapping.wires]).",
)
@click.option(
    "--wires",
    type=float,
    metavar="OHM",
    help="Wire resistance (ohm, finite, >= 0; 0 = ideal wires) of every row and every column "
    "wire segment, driver and sense 0 ohm. Replaces the --config's [mapping.wires] (--wires "
    "wins). Solved by the wired fast path (path = fast, the default) or the reference circuit "
    "solver (path = exact, slow). The energy leaves the wires out, and says so.",
)
@click.option(
    "--chips",
    type=int,
    metavar="N",
    help="Also evaluate every setting on N sampled chips (N >= 1; seeds --seed .. --seed+N-1), "
    "each drawn with the variation below (or the --config's [mapping.variation]): accuracy "
    "mean, std, worst and best per setting, and every chip in the figure. 'crossbar %' is then "
    "the nominal chip (no variation).",
)
@click.option(
    "--seed",
    type=int,
    help="The first chip's seed (>= 0) [the variation's seed, 0 by default].",
)
@click.option(
    "--temperature",
    type=float,
    metavar="C",
    help="Evaluate at this temperature of the LUT (degC; one of its temperatures) [27 C, else "
    "the LUT's first].",
)
@click.option(
    "--programming-sigma",
    type=float,
    help="Relative sigma of every programmed conductance (e.g. 0.05 = 5 %).",
)
@click.option(
    "--distribution",
    type=click.Choice(["gaussian", "lognormal"]),
    help="Distribution of the programming variation [gaussian].",
)
@click.option(
    "--read-noise",
    type=float,
    help="Relative sigma of each cell current, drawn at every read.",
)
@click.option("--stuck-on", type=float, help="Fraction of cells stuck at G_on.")
@click.option("--stuck-off", type=float, help="Fraction of cells stuck at G_min.")
@click.option(
    "--mismatch",
    type=float,
    help="Threshold-voltage mismatch sigma in multiples of the LUT's card sigma_Vt (1.0: the "
    "card's Pelgrom mismatch).",
)
@click.option(
    "--coverage",
    type=float,
    default=0.995,
    show_default=True,
    help="Share of each layer's weights the bound must cover, for --vgate auto.",
)
@click.option(
    "--energy-samples",
    type=int,
    default=1000,
    show_default=True,
    help="Test inputs the energy per inference is averaged over.",
)
@click.option(
    "--samples",
    type=int,
    help="Evaluate on the first N test samples only (accuracy and energy; N >= 1) [all]. "
    "With wires, the reference solver (path = exact) solves a circuit per input: this bounds "
    "its time.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="reports/map",
    show_default=True,
    help="Folder for summary.json, layers.csv and the figures; of its files, only those an "
    "earlier run wrote are replaced.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
def map_command(
    checkpoint: str,
    lut: str,
    vgate: str | None,
    vgate_per_layer: str | None,
    sweep: str | None,
    dataset: str | None,
    data_dir: str | None,
    model_name: str | None,
    config: str | None,
    wires: float | None,
    chips: int | None,
    seed: int | None,
    temperature: float | None,
    programming_sigma: float | None,
    distribution: str | None,
    read_noise: float | None,
    stuck_on: float | None,
    stuck_off: float | None,
    mismatch: float | None,
    coverage: float,
    energy_samples: int,
    samples: int | None,
    out: str,
    as_json: bool,
    progress: bool,
) -> None:
    """Map a trained model onto crossbars: accuracy and energy per gate-voltage setting.

    Per setting (--vgate, --vgate-per-layer, --sweep; default the checkpoint's V_gate, else 1.0 V):
    crossbar accuracy, the share of each layer's weights in the linear region, the fast path's K and
    the energy per inference against every layer at 1.0 V. With --wires (or [mapping.wires]) the
    crossbars have wire resistance, which the report names with its solver; its energies leave
    the wires out. With --chips N, also the accuracy over N sampled chips (device variation and
    transistor mismatch; --programming-sigma, ..., or [mapping.variation]) per setting, at the
    LUT's --temperature. Also installed as neat-map.
    """
    from neatxbar.core.outputs import OutputFolder
    from neatxbar.mapping import MappingConfig
    from neatxbar.mapping.gates import load_gate_file
    from neatxbar.studies.neat_map import (
        FILES,
        VARIATION_OPTIONS,
        MonteCarlo,
        check_temperature,
        deploy,
        with_variation,
        with_wires,
    )

    if vgate is not None and vgate_per_layer is not None:
        raise UserError("give --vgate or --vgate-per-layer, not both")
    v_gate = parse_v_gate(vgate)
    with user_errors():
        # before any work: no output may replace an input or a file neat-xbar did not write
        OutputFolder(out, inputs=(checkpoint, lut, vgate_per_layer, config)).check(FILES)
        if vgate_per_layer is not None:
            v_gate = load_gate_file(vgate_per_layer)
        mapping = MappingConfig.from_toml(config) if config else MappingConfig()
        mapping = with_wires(mapping, wires, "--wires")
        mapping = with_variation(
            mapping,
            VARIATION_OPTIONS,
            programming_sigma=programming_sigma,
            distribution=distribution,
            read_noise_sigma=read_noise,
            stuck_on=stuck_on,
            stuck_off=stuck_off,
            mismatch=mismatch,
        )
        mapping, monte_carlo = MonteCarlo.from_options(mapping, chips, seed, ("--chips", "--seed"))
        if temperature is not None:
            check_temperature(temperature, "--temperature")
        report = deploy(
            checkpoint,
            lut,
            v_gate=v_gate,
            sweep=sweep,
            dataset=dataset,
            data_dir=data_dir,
            model_name=model_name,
            mapping=mapping,
            coverage=coverage,
            energy_samples=energy_samples,
            samples=samples,
            monte_carlo=monte_carlo,
            temperature_c=temperature,
            out_dir=out,
            progress=progress,
        )
    if as_json:
        click.echo(dumps_strict(report.to_dict(), indent=2))
        return
    click.echo(report.table())
    click.echo("wrote " + ", ".join(str(path) for path in report.files))


if __name__ == "__main__":
    map_command()
