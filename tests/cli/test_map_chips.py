"""``neat map --chips``: accuracy over sampled chips (Monte Carlo), reproducible per seed; the
temperature it reads the LUT at; bad values as one line and exit code 2. An MLP trained on the
digits here, the `paper` LUT made by ngspice, real evaluation."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from neatxbar.cli.main import cli
from neatxbar.lut import CellLUT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAMPLES = "120"


def _map(*args: str) -> Result:
    return CliRunner().invoke(cli, ["map", "--no-progress", *args])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A software MLP on the digits: four epochs, about 2 s."""
    out = tmp_path_factory.mktemp("chips") / "mlp.pt"
    result = CliRunner().invoke(
        cli, ["train", "--epochs", "4", "--device", "cpu", "--no-progress", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _chips(checkpoint: Path, lut: Path, out: Path, *extra: str) -> dict:
    """Run ``neat map`` with 3 chips from seed 5 at 0.8 and 1.3 V; return summary.json."""
    result = _map(
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(lut),
        "--sweep",
        "0.8:1.3:0.5",
        "--samples",
        SAMPLES,
        "--energy-samples",
        "16",
        "--out",
        str(out),
        *extra,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    summary["stdout"] = result.stdout
    return summary


@pytest.fixture(scope="module")
def runs(
    checkpoint: Path, paper_lut_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    """The same Monte Carlo twice, one from another seed, and the run without chips."""
    base = tmp_path_factory.mktemp("runs")
    options = ("--chips", "3", "--programming-sigma", "0.3", "--stuck-off", "0.05")
    options += ("--stuck-on", "0.1")
    return {
        "first": _chips(checkpoint, paper_lut_path, base / "a", *options, "--seed", "5"),
        "again": _chips(checkpoint, paper_lut_path, base / "b", *options, "--seed", "5"),
        "other": _chips(checkpoint, paper_lut_path, base / "c", *options, "--seed", "50"),
        "plain": _chips(checkpoint, paper_lut_path, base / "d"),
    }


def test_the_same_seed_gives_the_same_chips_and_another_seed_other_ones(
    runs: dict[str, dict],
) -> None:
    first, again, other = runs["first"], runs["again"], runs["other"]
    chips = [s["chips"] for s in first["settings"]]
    assert chips == [s["chips"] for s in again["settings"]]
    assert [c["accuracies"] for c in chips] != [s["chips"]["accuracies"] for s in other["settings"]]
    for c in chips:
        assert c["count"] == 3 and c["seeds"] == [5, 6, 7]
        assert all(0.0 <= a <= 1.0 for a in c["accuracies"])
        assert c["mean"] == pytest.approx(statistics.fmean(c["accuracies"]))
        assert c["std"] == pytest.approx(statistics.stdev(c["accuracies"]))
        assert c["worst"] == min(c["accuracies"]) and c["best"] == max(c["accuracies"])
        assert c["accuracies"][c["seeds"].index(c["worst_seed"])] == c["worst"]
    # 30 % programming variation, 10 % stuck-on and 5 % stuck-off cells cost accuracy on every chip
    low = first["settings"][0]
    assert low["chips"]["best"] < low["crossbar_accuracy"]


def test_the_summary_records_the_chips_the_variation_and_the_temperature(
    runs: dict[str, dict],
) -> None:
    first, plain = runs["first"], runs["plain"]
    carlo = first["monte_carlo"]
    assert carlo["chips"] == 3 and carlo["seed"] == 5 and carlo["seeds"] == [5, 6, 7]
    assert carlo["variation"]["programming_sigma"] == 0.3
    assert carlo["variation"]["stuck_off"] == 0.05 and carlo["variation"]["mismatch"] == 0.0
    assert first["mapping"]["variation"]["programming_sigma"] == 0.3
    assert first["temperature_c"] == 27.0 and 27.0 in first["lut_temperatures_c"]
    # without --chips: no Monte Carlo, and the nominal chip is what --chips reports as crossbar
    assert plain["monte_carlo"] is None and all(s["chips"] is None for s in plain["settings"])
    assert [s["crossbar_accuracy"] for s in first["settings"]] == [
        s["crossbar_accuracy"] for s in plain["settings"]
    ]


def test_the_console_table_has_mean_std_worst_and_best(runs: dict[str, dict]) -> None:
    text, plain = runs["first"]["stdout"], runs["plain"]["stdout"]
    for column in ("chips mean %", "chips std (pp)", "worst chip %", "best chip %"):
        assert column in text and column not in plain
    assert "Monte Carlo over 3 chips (seeds 5..7)" in text
    assert "programming sigma 30 % (gaussian)" in text and "stuck-off 5 %" in text
    assert "at 27 C" in text
    worst = runs["first"]["settings"][0]["chips"]["worst"]
    row = next(line for line in text.splitlines() if line.startswith("0.80 V"))
    assert f"{100 * worst:.2f}" in row


def test_the_figure_is_written(runs: dict[str, dict]) -> None:
    for name in runs["first"]["files"]:
        if name.endswith(".png"):
            assert Path(name).read_bytes()[:8] == PNG_SIGNATURE


def test_a_temperature_on_the_lut_is_selected_and_reported(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    temperature = CellLUT.load(paper_lut_path).temperatures_c[-1]
    summary = _chips(
        checkpoint, paper_lut_path, tmp_path / "t", "--temperature", f"{temperature:g}"
    )
    assert summary["temperature_c"] == temperature
    assert f"at {temperature:g} C" in summary["stdout"]


def test_a_variation_table_in_the_config_is_drawn(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    config = tmp_path / "mapping.toml"
    config.write_text("[mapping.variation]\nprogramming_sigma = 0.2\nseed = 9\n")
    summary = _chips(
        checkpoint, paper_lut_path, tmp_path / "v", "--config", str(config), "--chips", "2"
    )
    assert summary["monte_carlo"]["seeds"] == [9, 10]
    assert summary["monte_carlo"]["variation"]["programming_sigma"] == 0.2
    # an option replaces the table's value
    again = _chips(
        checkpoint,
        paper_lut_path,
        tmp_path / "w",
        "--config",
        str(config),
        "--chips",
        "2",
        "--programming-sigma",
        "0.1",
    )
    assert again["monte_carlo"]["variation"]["programming_sigma"] == 0.1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--chips", "0"], "--chips must be >= 1"),
        (["--chips", "-3"], "--chips must be >= 1"),
        (["--chips", "2", "--seed", "-1"], "--seed must be >= 0"),
        (["--chips", "two"], "'two' is not a valid integer"),
        (["--chips", "2", "--programming-sigma", "-0.05"], "--programming-sigma"),
        (["--chips", "2", "--programming-sigma", "nan"], "--programming-sigma"),
        (["--chips", "2", "--read-noise", "-1"], "--read-noise"),
        (["--chips", "2", "--stuck-on", "1.5"], "--stuck-on"),
        (["--chips", "2", "--mismatch", "-1"], "--mismatch"),
        (["--chips", "2", "--distribution", "uniform"], "--distribution"),
        (["--temperature", "nan"], "--temperature (C) must be finite"),
        (["--temperature", "-300"], "--temperature (C) must be >= -273.15"),
        (["--temperature", "123.5"], "123.5"),
    ],
    ids=[
        "no-chips",
        "negative-chips",
        "negative-seed",
        "chips-not-a-number",
        "negative-sigma",
        "nan-sigma",
        "negative-read-noise",
        "stuck-above-one",
        "negative-mismatch",
        "unknown-distribution",
        "nan-temperature",
        "below-absolute-zero",
        "temperature-not-in-the-lut",
    ],
)
def test_bad_values_exit_2_with_one_line(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "never"
    result = _map(
        "--checkpoint", str(checkpoint), "--lut", str(paper_lut_path), *extra, "--out", str(out)
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    assert not out.exists()
