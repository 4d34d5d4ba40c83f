"""docs/cli.md is generated from the commands; it must match them."""

from __future__ import annotations

from pathlib import Path

from neatxbar.cli.reference import reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_cli_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is out of date: run `python -m neatxbar.cli.reference > docs/cli.md`"
    )


def test_every_command_is_in_the_reference() -> None:
    text = reference()
    for command in (
        "neat characterize",
        "neat characterize calibrate",
        "neat fit",
        "neat train",
        "neat compare",
        "neat report lut",
        "neat report experiment",
        "neat doctor",
        "neat map",
    ):
        assert f"## `{command}`" in text
