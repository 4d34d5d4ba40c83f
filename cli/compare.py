"""``neat compare``: whole crossbars in ngspice against the emulation (fast, exact, ideal)."""

from __future__ import annotations

from pathlib import Path

import click

from neatxbar.cli.errors import user_errors
from neatxbar.core.errors import ConfigError
from neatxbar.core.jsonout import dumps_strict
from neatxbar.studies.compare import CompareConfig, compare
from neatxbar.studies.compare.tables import console_text


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"16,32,64"`` -> ``(16, 32, 64)``; ConfigError naming the bad item."""
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            sizes.append(int(item))
        except ValueError:
            raise ConfigError(
                f"--sizes must be whole numbers separated by commas (e.g. 16,32,64), "
                f"got {item!r} in {text!r}"
            ) from None
    return tuple(sizes)


@click.command("compare")
@click.option("--lut", "lut", required=True, type=click.Path(dir_okay=False), help="A LUT file.")
@click.option("--sizes", default="16,32,64", show_default=True, help="Array sizes n (n x n).")
@click.option("--v-gate", type=float, default=1.0, show_default=True, help="Gate voltage (V).")
@click.option(
    "--vectors",
    type=int,
    help="Input vectors per crossbar up to 64 x 64 [20]; larger arrays get fewer.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--trained/--no-trained",
    default=True,
    show_default=True,
    help="Also compare the first layer of a trained model, driven by its own held-out inputs.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    help="The trained model (a 'neat train' checkpoint) [an MLP trained on the digits here].",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Where the checkpoint's dataset lives (CIFAR); not needed for the digits.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="reports/compare",
    show_default=True,
    help="Folder for compare.json, compare.csv and the figures; of its files, only those an "
    "earlier run wrote are replaced.",
)
@click.option(
    "--wires",
    "wire_ohm",
    type=float,
    default=0.0,
    show_default=True,
    help="Ohm per row and column wire segment: ngspice with wires, the circuit solver and the "
    "wired fast path.",
)
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def compare_command(
    lut: str,
    sizes: str,
    v_gate: float,
    vectors: int | None,
    seed: int,
    trained: bool,
    checkpoint: str | None,
    data_dir: str | None,
    out: str,
    wire_ohm: float,
    progress: bool,
    as_json: bool,
) -> None:
    """Solve whole crossbars in ngspice and compare their column currents with the emulation."""
    with user_errors():
        config = CompareConfig(
            sizes=parse_sizes(sizes),
            v_gate=v_gate,
            vectors=CompareConfig.vectors if vectors is None else vectors,
            seed=seed,
            trained=trained,
            checkpoint=checkpoint,
            data_dir=data_dir,
            wire_ohm=wire_ohm,
        )
        report = compare(Path(lut), config, out_dir=Path(out), progress=progress)
    if as_json:
        click.echo(dumps_strict(report.to_dict(), indent=2))
        return
    click.echo(console_text(report))
    click.echo("wrote " + ", ".join(str(path) for path in report.files))
