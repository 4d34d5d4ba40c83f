"""The progress bar draws on a terminal only: a log or a pipe gets no per-step bars."""

from __future__ import annotations

import io

import pytest

from neatxbar.core.progress import ProgressBar, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _draw(stream: io.StringIO, **kwargs: object) -> str:
    with ProgressBar(total=5, desc="work", file=stream, mininterval=0, **kwargs) as bar:
        for _ in range(5):
            bar.update(1)
    return stream.getvalue()


def test_a_terminal_gets_the_bar() -> None:
    assert "work" in _draw(_Terminal()) and "5/5" in _draw(_Terminal())


def test_a_log_gets_nothing_even_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEAT_PROGRESS", raising=False)
    assert _draw(io.StringIO(), disable=False) == ""


def test_the_bar_can_be_forced_on_for_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEAT_PROGRESS", "always")
    assert "5/5" in _draw(io.StringIO())


def test_off_stays_off_on_a_terminal() -> None:
    assert _draw(_Terminal(), disable=True) == ""
    assert progress_bar(3, "x", enabled=False).disable
