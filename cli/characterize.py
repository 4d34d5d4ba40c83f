"""``neat characterize`` (sweeps into a LUT), ``neat characterize calibrate`` and ``neat fit``."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click

from neatxbar.characterize.calibrate import PAPER_CUTOFFS_S, PAPER_NO_CUTOFF_V, calibrate
from neatxbar.characterize.fit import LinearRegion, compute_fit, write_fit
from neatxbar.characterize.runner import characterize, partial_path
from neatxbar.characterize.spec import SweepSpec, load_preset, load_spec
from neatxbar.cli.errors import NeatCommand, NeatGroup, UserError, user_errors
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.tables import frame, to_text
from neatxbar.lut.schema import (
    check_attrs_and_grids,
    open_lut,
    read_offered,
    select_temperature,
)


def _load(preset: str | None, spec_file: str | None) -> tuple[SweepSpec, str]:
    if (preset is None) == (spec_file is None):
        raise UserError("give exactly one of --preset NAME or --spec FILE")
    with user_errors():
        return load_preset(preset) if preset else load_spec(spec_file)


def _paper_column(v_gate: float) -> str:
    for reported_v, g in PAPER_CUTOFFS_S.items():
        if math.isclose(v_gate, reported_v, abs_tol=1e-9):
            return f"{g * 1e6:.1f}"
    if any(math.isclose(v_gate, v, abs_tol=1e-9) for v in PAPER_NO_CUTOFF_V):
        return "none"
    return ""


#: The temperature (degC) the paper's reported cut-offs are shown at (the paper states none:
#: nominal conditions assumed).
NOMINAL_C = 27.0


def _micro(g: float) -> str:
    return "none" if math.isinf(g) else f"{g * 1e6:.2f}"


def offered_gates(path: Path) -> list[float] | None:
    """The gate voltages (V) a LUT file offers for mapping (None: its whole grid)."""
    with open_lut(path) as f:
        offered = read_offered(f, check_attrs_and_grids(f, path), path)
    return None if offered is None else offered.tolist()


def region_rows(region: LinearRegion, v_gate: list[float]) -> list[dict[str, object]]:
    return [
        {
            "v_gate_v": v,
            "g_max_s": float(region.g_max_s[m]),
            "w_max": float(region.w_max[m]),
            "crossing_s": float(region.crossing_s[m]),
            "paper_reported_us": _paper_column(v),
        }
        for m, v in enumerate(v_gate)
    ]


def region_text(
    region: LinearRegion,
    v_gate: list[float],
    offered: list[float] | None = None,
    paper: bool = True,
) -> str:
    """The bounds as a console table: the rows of the ``offered`` gate voltages (V) only, when
    they are fewer than the grid's (the --json output has every row); the paper's reported
    cut-offs beside them when ``paper`` (they are the nominal temperature's)."""
    rows = region_rows(region, v_gate)
    shown = rows
    if offered is not None and len(offered) < len(v_gate):
        shown = [
            r for r in rows if any(math.isclose(r["v_gate_v"], v, abs_tol=1e-9) for v in offered)
        ]
    table = frame(
        {
            "V_gate (V)": row["v_gate_v"],
            "g_max (uS)": row["g_max_s"] * 1e6,
            "w_max": row["w_max"],
            "cut-off (uS)": _micro(row["crossing_s"]),
            **({"paper (uS, reported)": row["paper_reported_us"]} if paper else {}),
        }
        for row in shown
    )
    formats = {"V_gate (V)": ".2f", "g_max (uS)": ".2f", "w_max": ".3f"}
    head = f"linear region: tolerance {region.tolerance:.2%}, metric {region.metric!r}"
    if len(shown) < len(rows):
        head += (
            f" (the {len(shown)} gate voltages offered for mapping of the {len(rows)}-point gate "
            "grid; --json lists all)"
        )
    return head + "\n" + to_text(table, formats=formats, align_right=True)


def print_region(
    region: LinearRegion, v_gate: list[float], offered: list[float] | None = None
) -> None:
    click.echo(region_text(region, v_gate, offered))


def regions_text(
    regions: list[LinearRegion],
    temperatures_c: list[float],
    v_gate: list[float],
    offered: list[float] | None = None,
) -> str:
    """The bounds of each temperature (degC) as console tables; one table, as before, when
    there is one temperature."""
    if len(regions) == 1:
        return region_text(regions[0], v_gate, offered)
    return "\n".join(
        f"at {t:g} degC (0 V threshold shift): "
        + region_text(region, v_gate, offered, paper=math.isclose(t, NOMINAL_C))
        for t, region in zip(temperatures_c, regions, strict=True)
    )


def regions_json(
    regions: list[LinearRegion], temperatures_c: list[float], v_gate: list[float]
) -> list[dict[str, object]]:
    """The bounds of each temperature as JSON rows: ``temperature_c`` and ``rows``."""
    return [
        {"temperature_c": t, "rows": region_rows(region, v_gate)}
        for t, region in zip(temperatures_c, regions, strict=True)
    ]


@click.group("characterize", cls=NeatGroup, invoke_without_command=True)
@click.option("--preset", help="A preset of configs/ (quick, paper).")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="A sweep spec (TOML).")
@click.option("--out", type=click.Path(dir_okay=False), help="LUT file [luts/<name>.h5].")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes [cores; small runs stay in this process].",
)
@click.option("--scheduler", help="Address of a Dask distributed scheduler to run chunks on.")
@click.option("--overwrite", is_flag=True, help="Start again instead of resuming or refusing.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@click.pass_context
def characterize_command(
    ctx: click.Context,
    preset: str | None,
    spec_file: str | None,
    out: str | None,
    workers: int | None,
    scheduler: str | None,
    overwrite: bool,
    progress: bool,
    as_json: bool,
) -> None:
    """Sweep the 1T-1R cell in ngspice into an HDF5 LUT (resumes an interrupted run)."""
    if ctx.invoked_subcommand is not None:
        return
    spec, text = _load(preset, spec_file)
    path = Path(out) if out else Path("luts") / f"{spec.name}.h5"
    executor, client = None, None
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UserError(
                "--scheduler needs dask: pip install 'neat-xbar[distributed]'"
            ) from None
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, ValueError) as error:  # unreachable, or a malformed address
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
        executor = client.get_executor()
    try:
        with user_errors():
            report = characterize(
                spec,
                text,
                path,
                workers=workers,
                executor=executor,
                overwrite=overwrite,
                progress=progress,
            )
    except KeyboardInterrupt:
        click.echo(
            f"interrupted: finished chunks are kept in {partial_path(path)}; "
            "run the same command again to resume",
            err=True,
        )
        sys.exit(130)
    finally:
        if client is not None:
            client.close()
    summary = {
        "path": str(report.path),
        "complete": report.complete,
        "up_to_date": report.up_to_date,
        "points_total": report.points_total,
        "points_run": report.points_run,
        "points_failed": report.points_failed,
        "chunks_retried": report.chunks_retried,
        "failed_examples": report.failed_examples,
        "seconds": round(report.seconds, 3),
        "points_per_second": round(report.points_run / report.seconds) if report.seconds else None,
    }
    if report.region is not None:
        v_gate = spec.v_gate.values().tolist()
        summary["linear_region"] = region_rows(report.region, v_gate)
        summary["linear_region_by_temperature"] = regions_json(
            report.regions, report.temperatures_c, v_gate
        )
    if as_json:
        click.echo(dumps_strict(summary, indent=2))
    elif report.up_to_date:
        click.echo(f"{path}: up to date (same spec); nothing to run")
    elif report.complete:
        rate = summary["points_per_second"]
        click.echo(
            f"{path}: {report.points_run} points in {report.seconds:.1f} s ({rate} points/s)"
        )
        click.echo(
            regions_text(
                report.regions,
                report.temperatures_c,
                spec.v_gate.values().tolist(),
                spec.v_gate.offered().tolist(),
            )
        )
    if not report.complete:
        examples = ", ".join(
            f"(G {g * 1e6:.2f} uS, V_in {v:.3f} V, V_gate {vg:.2f} V, delvto {d * 1e3:.2f} mV, "
            f"{t:g} degC)"
            for g, v, vg, d, t in report.failed_examples
        )
        click.echo(
            f"error: {report.points_failed} of {report.points_total} points did not converge, "
            f"even with gmin and source stepping: {examples}. Results so far are in "
            f"{report.path}; fix the spec (transistor, ngspice options) and rerun.",
            err=True,
        )
        sys.exit(1)


@characterize_command.command("calibrate")
@click.option("--preset", help="A preset of configs/ [paper].")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False), help="A sweep spec (TOML).")
def calibrate_command(preset: str | None, spec_file: str | None) -> None:
    """Fit the transistor (width, vth0, rdsw) to the paper's reported cut-offs."""
    spec, _ = _load(preset or (None if spec_file else "paper"), spec_file)
    with user_errors():
        result = calibrate(spec)
    click.echo(
        f"calibrated: w_m = {result.w_m:.4g} m, vth0 = {result.vth0_v:.4f} V, "
        f"rdsw = {result.rdsw:.2f} ohm*um (G_ON = {result.g_on_s * 1e6:.2f} uS)"
    )
    table = frame(
        {
            "V_gate (V)": v,
            "cut-off (uS)": _micro(g),
            "in the LUT": "none" if g > result.g_on_s else f"{g * 1e6:.2f}",
            "paper (uS, reported)": _paper_column(v),
        }
        for v, g in result.cutoffs_s.items()
    )
    click.echo(to_text(table, formats={"V_gate (V)": ".2f"}, align_right=True))
    click.echo("(cut-offs above G_ON lie outside the memristor's range: no cut-off in the LUT)")
    click.echo("\nFor the spec's [transistor] table:")
    click.echo(
        f"w_m = {result.w_m:.4g}\n[transistor.model_params]\n"
        f"vth0 = {result.vth0_v:.4f}\nrdsw = {result.rdsw:.2f}"
    )


@click.command("fit", cls=NeatCommand)
@click.argument("lut", type=click.Path(dir_okay=False))
@click.option("--tolerance", type=float, help="Tolerance as a fraction [the file's].")
@click.option("--metric", type=click.Choice(["ideal", "fit"]), help="Deviation metric [ideal].")
@click.option("--json", "as_json", is_flag=True, help="Print the bounds as JSON.")
def fit_command(lut: str, tolerance: float | None, metric: str | None, as_json: bool) -> None:
    """Compute linear-region bounds (g_max, w_max per V_gate) and write them into LUT.

    A LUT with several temperatures gets bounds at each (at 0 V threshold shift); "rows" of
    the --json output are those of 27 degC (or the file's first temperature).

    A symbolic link LUT is followed (its target is rewritten, the link stays). In --json
    output a cut-off of "none" (crossing_s = inf) is null.
    """
    with user_errors():
        regions, grids = compute_fit(Path(lut), tolerance, metric)
        v_gate = grids.v_gate.tolist()
        temps = grids.temperature_c.tolist()
        region = regions[select_temperature(grids.temperature_c, None, Path(lut))]
        # everything rendered before the file is touched: a failure changes nothing
        if as_json:
            payload = {
                "tolerance": region.tolerance,
                "metric": region.metric,
                "rows": region_rows(region, v_gate),
                "by_temperature": regions_json(regions, temps, v_gate),
            }
            text = dumps_strict(payload, indent=2)
        else:
            text = regions_text(regions, temps, v_gate, offered_gates(Path(lut)))
        write_fit(Path(lut), regions)
    click.echo(text)
