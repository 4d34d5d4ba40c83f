"""The files of a comparison: ``compare.json``, ``compare.csv`` and two figures.

The files are staged and committed together (``neatxbar.core.outputs``): a failure changes no
file, and only files an earlier run wrote are replaced.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from neatxbar.core.files import save_png, write_text
from neatxbar.core.jsonout import dumps_strict
from neatxbar.core.outputs import OutputFolder
from neatxbar.core.tables import write_csv
from neatxbar.studies.compare.figures import histogram_figure, parity_figure
from neatxbar.studies.compare.results import CompareReport
from neatxbar.studies.compare.tables import rows_frame

FILES = ("compare.json", "compare.csv", "parity.png", "error_histogram.png")


def output_folder(out_dir: Path | str, inputs: Iterable[Path | str | None]) -> OutputFolder:
    """The comparison's output folder, checked: none of :data:`FILES` may replace an input
    (the LUT, the checkpoint) or a file neat-xbar did not write (OutputError)."""
    folder = OutputFolder(out_dir, inputs=tuple(inputs))
    folder.check(FILES)
    return folder


def write_report(report: CompareReport, out_dir: Path | str) -> list[Path]:
    """Write :data:`FILES` into ``out_dir`` (created if missing) and return their paths.

    The files are staged and committed together (:class:`~neatxbar.core.outputs.OutputFolder`):
    a failure leaves the folder as it was. Only files an earlier run wrote are replaced, and an
    output that would replace the LUT, the checkpoint or a user's file is refused (OutputError).
    """
    folder = output_folder(out_dir, (report.lut_path, report.config.checkpoint))
    paths = [folder.path / name for name in FILES]
    data = report.to_dict()
    data["files"] = [str(path) for path in paths]
    with folder.staging() as stage:
        write_text(stage.file("compare.json"), dumps_strict(data, indent=2) + "\n")
        write_csv(rows_frame(report), stage.file("compare.csv"))
        save_png(parity_figure(report), stage.file("parity.png"))
        save_png(histogram_figure(report), stage.file("error_histogram.png"))
    return paths
