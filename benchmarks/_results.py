"""Print a benchmark's table and write it into benchmarks/RESULTS.md (its own section)."""

from __future__ import annotations

import platform
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np


def write_section(path: Path, name: str, command: str, table: str) -> None:
    """Replace (or append) the section ``## name`` of ``path`` with ``table``.

    The section records the command that made it, the date and the machine, so every number in
    RESULTS.md can be reproduced.
    """
    machine = f"{platform.machine()}, {platform.python_version()}, numpy {np.__version__}"
    body = (
        f"## {name}\n\nCommand: `{command}` ({date.today().isoformat()}, {machine}; "
        f"ratios are what to compare across machines)\n\n{table}\n"
    )
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: body + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + body
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def publish(
    script: str, caption: str, header: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Print ``caption`` and a Markdown table, and write both into RESULTS.md.

    ``script`` is the benchmark's file (``__file__``); its stem names the section.
    """
    path = Path(script)
    lines = [
        caption,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows],
    ]
    table = "\n".join(lines)
    print(table)
    write_section(path.with_name("RESULTS.md"), path.stem, f"python benchmarks/{path.name}", table)
