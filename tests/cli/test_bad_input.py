"""Every command answers a user's mistake with one line on stderr and exit code 2.

One walk over the commands and the kinds of bad input: a missing file, a file of the wrong kind or
schema, a gate voltage off the LUT's grid, malformed TOML, an unknown model or preset.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from click.testing import CliRunner

from neatxbar.cli.main import cli


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, paper_lut_path: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    foreign = root / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["schema"] = "someone-else/1"
    text = root / "text.txt"
    text.write_text("not what you think")
    toml = root / "bad.toml"
    toml.write_text("[section\nkey = ")
    return {
        "lut": paper_lut_path,
        "foreign": foreign,
        "text": text,
        "toml": toml,
        "missing": root / "missing.h5",
        "out": root / "out",
    }


CASES = {
    "characterize: unknown preset": ["characterize", "--preset", "nope"],
    "characterize: malformed TOML": ["characterize", "--spec", "{toml}", "--out", "{out}/x.h5"],
    "characterize: missing spec": ["characterize", "--spec", "{missing}", "--out", "{out}/x.h5"],
    "fit: missing file": ["fit", "{missing}"],
    "fit: wrong schema": ["fit", "{foreign}"],
    "fit: not HDF5": ["fit", "{text}"],
    "compare: wrong schema": ["compare", "--lut", "{foreign}", "--sizes", "4", "--no-progress"],
    "compare: V_gate off the grid": [
        "compare",
        "--lut",
        "{lut}",
        "--sizes",
        "4",
        "--v-gate",
        "0.815",
        "--no-progress",
    ],
    "report lut: missing": ["report", "lut", "{missing}", "--out", "{out}/r"],
    "report lut: not HDF5": ["report", "lut", "{text}", "--out", "{out}/r"],
    "report experiment: malformed TOML": ["report", "experiment", "--config", "{toml}"],
    "train: unknown model": [
        "train",
        "--model",
        "transformer",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        "{out}/m.pt",
    ],
    "train: V_gate off the grid": [
        "train",
        "--epochs",
        "1",
        "--lut",
        "{lut}",
        "--vgate",
        "0.815",
        "--no-progress",
        "--out",
        "{out}/m.pt",
    ],
    "train: wrong LUT schema": [
        "train",
        "--epochs",
        "1",
        "--lut",
        "{foreign}",
        "--vgate",
        "1.0",
        "--no-progress",
        "--out",
        "{out}/m.pt",
    ],
    "train: not a checkpoint": [
        "train",
        "--from",
        "{text}",
        "--no-progress",
        "--out",
        "{out}/m.pt",
    ],
    "train: malformed per-layer TOML": [
        "train",
        "--epochs",
        "1",
        "--lut",
        "{lut}",
        "--vgate-per-layer",
        "{toml}",
        "--no-progress",
        "--out",
        "{out}/m.pt",
    ],
    "map: missing checkpoint": ["map", "--checkpoint", "{missing}", "--lut", "{lut}"],
    "map: not a checkpoint": ["map", "--checkpoint", "{text}", "--lut", "{lut}"],
    "map: wrong LUT schema": ["map", "--checkpoint", "{text}", "--lut", "{foreign}"],
    "map: --out is a file": ["map", "--checkpoint", "{text}", "--lut", "{lut}", "--out", "{text}"],
    "report lut: --out is a file": ["report", "lut", "{lut}", "--out", "{text}"],
    "compare: --out is a file": ["compare", "--lut", "{lut}", "--out", "{text}"],
}

# click's own usage errors: one line too (they were three: usage, hint, error)
USAGE_CASES = {
    "unknown command": ["nope"],
    "unknown option": ["map", "--bogus"],
    "unknown option of the group": ["--bogus"],
    "missing option": ["map", "--lut", "{lut}"],
    "missing argument": ["report", "lut"],
    "bad choice": ["train", "--optimizer", "rmsprop"],
    "not a number": ["compare", "--lut", "{lut}", "--v-gate", "abc"],
    "option without its value": ["fit", "{lut}", "--tolerance"],
    "unknown subcommand": ["report", "nope"],
}
CASES |= {f"usage: {name}": args for name, args in USAGE_CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_exit_2(case: str, files: dict[str, Path]) -> None:
    args = [arg.format(**files) for arg in CASES[case]]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, (case, result.output)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, (case, result.output)
    assert lines[0].startswith("error: "), (case, result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["--bogus"], [], ["--checkpoint"], ["--json", "--lut"]])
def test_neat_map_usage_errors_are_one_line(args: list[str]) -> None:
    """The ``neat-map`` script (the same click command, run on its own)."""
    from neatxbar.cli.map import map_command

    result = CliRunner().invoke(map_command, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "neat-map --help" in lines[0] or "map --help" in lines[0]


def test_neat_alone_still_prints_its_help() -> None:
    result = CliRunner().invoke(cli, [])
    assert "Usage:" in result.output and "Commands:" in result.output
