"""The files of a ``neat map`` run: ``summary.json``, ``layers.csv`` and three figures, staged and
committed together into an output folder (:class:`~neatxbar.core.outputs.OutputFolder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from neatxbar.core.files import save_png, write_text
from neatxbar.core.outputs import OutputFolder
from neatxbar.studies.neat_map import figures
from neatxbar.studies.neat_map.results import MapReport
from neatxbar.studies.neat_map.tables import layers_csv, summary_json

#: Files :func:`write_report` writes into the output folder, in this order.
FILES = ("summary.json", "layers.csv", "accuracy_vs_vgate.png", "energy_vs_vgate.png", "layers.png")


def write_report(
    report: MapReport, out_dir: Path | str, inputs: Sequence[Path | str | None] = ()
) -> list[Path]:
    """Write :data:`FILES` into ``out_dir`` (created if missing), committed together.

    All files are staged first, then renamed into place: a failure changes no file there. Only
    files an earlier run wrote are replaced.

    Parameters
    ----------
    report
        What :func:`~neatxbar.studies.neat_map.run.deploy` measured; its ``files`` are set to the
        paths before ``summary.json`` is written (the summary lists them).
    out_dir
        The output folder.
    inputs
        The run's input files: an output that would replace one is refused.

    Returns
    -------
    list of Path
        The files' final paths, in the order of :data:`FILES`.

    Raises
    ------
    OutputError
        An output would replace a user's file or one of ``inputs``, or the folder is a file.
    """
    folder = OutputFolder(out_dir, inputs=inputs)
    folder.check(FILES)
    paths = [folder.path / name for name in FILES]
    report.files = paths
    with folder.staging() as stage:
        _write_files(report, [stage.file(name) for name in FILES])
    return paths


def _write_files(report: MapReport, paths: Sequence[Path]) -> None:
    """The report's files at ``paths`` (in the order of :data:`FILES`)."""
    summary, layers, *pictures = paths
    write_text(summary, summary_json(report))
    write_text(layers, layers_csv(report))
    # looked up at call time, so a test can replace one figure to fail between two files
    draws = (figures.accuracy_figure, figures.energy_figure, figures.layers_figure)
    for path, draw in zip(pictures, draws, strict=True):
        save_png(draw(report), path)
