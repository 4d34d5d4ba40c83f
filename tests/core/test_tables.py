"""Tables: one DataFrame, three renderings that agree with it."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest

from neatxbar.core.tables import frame, to_csv_text, to_markdown, to_text, write_csv

ROWS = [
    {"setting": "naive", "v_gate_v": 0.75, "accuracy": 0.8333, "energy_pj": 12.5},
    {"setting": "NEAT", "v_gate_v": 0.8, "accuracy": 0.95, "energy_pj": math.nan},
]


def test_csv_round_trips_at_full_precision(tmp_path: Path) -> None:
    table = frame(ROWS)
    path = write_csv(table, tmp_path / "t.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == ["setting", "v_gate_v", "accuracy", "energy_pj"]
    assert back["accuracy"].tolist() == [0.8333, 0.95]
    assert math.isnan(back["energy_pj"][1])
    assert to_csv_text(table) == path.read_text()


@pytest.mark.parametrize("render", [to_text, to_markdown])
def test_renderings_hold_every_value_and_mark_missing_ones(render) -> None:
    text = render(frame(ROWS, columns=["setting", "accuracy", "energy_pj"]))
    lines = text.splitlines()
    assert "setting" in lines[0] and "energy_pj" in lines[0]
    assert "0.8333" in text and "12.5" in text and "NEAT" in text
    assert lines[-1].rstrip(" |").endswith("-")
    assert "v_gate_v" not in text


def test_console_text_aligns_numbers_right() -> None:
    lines = to_text(frame(ROWS)).splitlines()
    assert len({len(line) for line in lines[:2]}) == 1
    assert lines[1].split()[1] == "0.75"
    assert pd.read_csv(io.StringIO(to_csv_text(frame(ROWS)))).shape == (2, 4)
