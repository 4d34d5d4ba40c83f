"""``neat compare``: whole crossbars in ngspice against the emulation (fast, exact, ideal)."""

from __future__ import annotations

from pathlib import Path

import click

from neatxbar.cli.errors import user_errors
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.outputs import OutputFolder
from neatxbar.mapping.compare import CompareConfig, CompareReport, compare
from neatxbar.mapping.compare_report import FILES


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"16,32,64"`` -> ``(16, 32, 64)``; ValueError naming the bad item."""
    sizes = []
    for item in text.split(","):
        item = item.strip()
        try:
            sizes.append(int(item))
        except ValueError:
            raise ValueError(
                f"--sizes must be whole numbers separated by commas (e.g. 16,32,64), "
                f"got {item!r} in {text!r}"
            ) from None
    return tuple(sizes)


def _pct(x: float) -> str:
    return f"{100 * x:.3g}"


def print_table(report: CompareReport) -> None:
    """The report as a fixed-width table on stdout."""
    form = report.degree if report.degree is not None else "interpolated"
    click.echo(
        f"{report.lut_path}: V_gate {report.config.v_gate:.2f} V, fast path K = {report.rank} "
        f"(degree {form}), ngspice {report.ngspice_version}"
    )
    if report.trained_accuracy is not None:
        click.echo(
            f"trained case: MLP on the digits, held-out accuracy {report.trained_accuracy:.1%}"
        )
    click.echo("relative error |I_model - I_spice| / |I_spice| of the column currents, in %")
    click.echo(
        f"{'size':>7} {'case':>7} {'model':>5} {'vec':>4} {'rms %':>9} {'median %':>9} "
        f"{'p99 %':>9} {'max %':>9} {'spice s':>8} {'spice ms/v':>10} {'emu us/v':>9} "
        f"{'speed-up':>9}"
    )
    for row in report.rows:
        click.echo(
            f"{row.size:>3}x{row.size:<3} {row.case:>7} {row.model:>5} {row.vectors:>4} "
            f"{_pct(row.rel_err_rms):>9} {_pct(row.rel_err_median):>9} "
            f"{_pct(row.rel_err_p99):>9} {_pct(row.rel_err_max):>9} "
            f"{row.spice_seconds:>8.3f} {1e3 * row.spice_seconds_per_vector:>10.2f} "
            f"{1e6 * row.emulation_seconds_per_vector:>9.2f} {row.speedup:>9.0f}"
        )


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
    help="Also compare a layer of an MLP trained on the digits.",
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
    help="Ohm per row and column wire segment: ngspice with wires, and the circuit solver.",
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
    out: str,
    wire_ohm: float,
    progress: bool,
    as_json: bool,
) -> None:
    """Solve whole crossbars in ngspice and compare their column currents with the emulation."""
    with user_errors():
        # before any work: no output may replace the LUT or a file neat-xbar did not write
        OutputFolder(out, inputs=(lut,)).check(FILES)
        config = CompareConfig(
            sizes=parse_sizes(sizes),
            v_gate=v_gate,
            vectors=CompareConfig.vectors if vectors is None else vectors,
            seed=seed,
            trained=trained,
            wire_ohm=wire_ohm,
        )
        report = compare(Path(lut), config, out_dir=Path(out), progress=progress)
    if as_json:
        click.echo(dumps_strict(report.to_dict(), indent=2))
        return
    print_table(report)
    click.echo("wrote " + ", ".join(str(path) for path in report.files))
