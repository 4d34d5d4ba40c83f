"""Every JSON document the toolkit prints or writes is strict: no NaN or Infinity (null)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from click.testing import CliRunner

from neatxbar.cli.main import cli
from neatxbar.core.jsonout import dumps_strict, to_strict

CLI = Path(__file__).resolve().parents[2] / "cli"


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not strict JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_everywhere_in_a_document() -> None:
    data = {
        "inf": math.inf,
        "nan": float("nan"),
        "ninf": -math.inf,
        "ok": 0.5,
        "flag": True,
        "np": np.float32("inf"),
        "int": np.int64(3),
        "tuple": (1.0, math.nan),
        "array": np.array([1.0, np.inf]),
        "tensor": torch.tensor([np.nan, 2.0]),
        "nested": [{"x": [math.inf]}],
    }
    assert _strict(dumps_strict(data, indent=2)) == {
        "inf": None,
        "nan": None,
        "ninf": None,
        "ok": 0.5,
        "flag": True,
        "np": None,
        "int": 3,
        "tuple": [1.0, None],
        "array": [1.0, None],
        "tensor": [None, 2.0],
        "nested": [{"x": [None]}],
    }
    assert to_strict(Path("a")) == Path("a")  # left for json's default
    assert _strict(dumps_strict({"p": Path("a")}, default=str)) == {"p": "a"}


def test_characterize_json_is_strict(tmp_path: Path) -> None:
    """The paper preset has no cut-off at 1.3 V: crossing_s is inf, printed as null."""
    out = tmp_path / "p.h5"
    result = CliRunner().invoke(
        cli,
        [
            "characterize",
            "--preset",
            "paper",
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = _strict(result.stdout)
    crossing = {round(r["v_gate_v"], 2): r["crossing_s"] for r in summary["linear_region"]}
    assert crossing[1.3] is None and crossing[0.8] > 0


def test_the_commands_print_json_only_through_the_strict_writer() -> None:
    for source in CLI.glob("*.py"):
        assert "json.dumps(" not in source.read_text(encoding="utf-8"), source.name
