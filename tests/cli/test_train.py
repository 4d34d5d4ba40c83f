"""``neat train`` through click, in process: checkpoints and their headers, NEAT, user errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from neatxbar.cli.main import cli
from neatxbar.training.checkpoint import load_checkpoint

FAST = ["--device", "cpu", "--no-progress"]


def _train(*args: str) -> Result:
    return CliRunner().invoke(cli, ["train", *FAST, *args])


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short software run on digits (two epochs)."""
    out = tmp_path_factory.mktemp("train") / "digits.pt"
    result = _train("--epochs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "software accuracy" in result.stdout and f"saved {out}" in result.stdout
    return out


def test_a_digits_run_writes_a_checkpoint_with_its_header(digits_checkpoint: Path) -> None:
    header, state = load_checkpoint(digits_checkpoint)
    assert (header["model"], header["dataset"]) == ("mlp", "digits")
    assert (header["num_classes"], header["in_channels"], header["image_size"]) == (10, 1, 8)
    assert header["accuracy"] > 0.8
    assert header["train"]["epochs"] == 2 and header["train"]["device"] == "cpu"
    assert "created" in header and "git_revision" in header
    assert "v_gate" not in header and "crossbar_accuracy" not in header
    assert state


def test_neat_on_the_paper_lut(tmp_path: Path, paper_lut_path: Path) -> None:
    out = tmp_path / "neat.pt"
    result = _train(
        "--epochs",
        "2",
        "--lut",
        str(paper_lut_path),
        "--vgate",
        "0.8",
        "--neat",
        "--iterations",
        "1",
        "--neat-epochs",
        "1",
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    header, _ = load_checkpoint(out)
    assert json.loads(result.stdout) == {
        k: v for k, v in header.items() if k not in ("created", "git_revision")
    }
    layers = ["1", "3", "5"]  # the MLP's Linear layers
    assert header["v_gate"] == dict.fromkeys(layers, 0.8)
    assert sorted(header["weight_scales"]) == layers
    assert all(scale > 0 for scale in header["weight_scales"].values())
    assert header["linear_share"] == dict.fromkeys(layers, 1.0)  # clipped into the linear region
    assert len(header["neat_accuracy"]) == 1 and header["neat"]["iterations"] == 1
    assert 0.0 <= header["crossbar_accuracy"] <= 1.0
    assert 0.0 <= header["accuracy"] <= 1.0
    assert header["lut"] == str(paper_lut_path)


def test_from_a_checkpoint_evaluates_on_crossbars_without_training(
    tmp_path: Path, digits_checkpoint: Path, paper_lut_path: Path
) -> None:
    out = tmp_path / "again.pt"
    result = _train(
        "--from",
        str(digits_checkpoint),
        "--lut",
        str(paper_lut_path),
        "--vgate",
        "1.0",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "crossbar accuracy" in result.stdout
    old, _ = load_checkpoint(digits_checkpoint)
    header, _ = load_checkpoint(out)
    assert header["accuracy"] == old["accuracy"]  # the same weights, not retrained
    assert header["v_gate"] == 1.0  # as given; NEAT writes one per layer
    assert 0.0 <= header["crossbar_accuracy"] <= 1.0


def _not_a_checkpoint(tmp_path: Path) -> list[str]:
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n", encoding="utf-8")
    return ["--from", str(path)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda tmp, lut: ["--model", "transformer"], "unknown model 'transformer'"),
        (lambda tmp, lut: ["--dataset", "mnist"], "unknown dataset 'mnist'"),
        (lambda tmp, lut: ["--neat"], "NEAT needs --lut"),
        (lambda tmp, lut: ["--neat", "--lut", lut], "NEAT needs --lut and --vgate"),
        (lambda tmp, lut: ["--lut", lut, "--vgate", "0.815", "--neat"], "V_gate 0.815 V is not on"),
        (lambda tmp, lut: ["--lut", lut, "--vgate", "0.815"], "V_gate 0.815 V is not on"),
        (lambda tmp, lut: _not_a_checkpoint(tmp), "not a checkpoint"),
        (lambda tmp, lut: ["--dataset", "cifar10"], "CIFAR-10 needs a data directory"),
        (
            lambda tmp, lut: ["--dataset", "cifar10", "--data-dir", str(tmp / "none")],
            "does not exist",
        ),
        (lambda tmp, lut: ["--epochs", "-1"], "epochs must be >= 0"),
        (
            lambda tmp, lut: ["--lut", lut, "--vgate", "0.8", "--vgate-per-layer", "x.toml"],
            "not both",
        ),
        (lambda tmp, lut: ["--lut", str(tmp / "absent.h5"), "--vgate", "0.8"], "absent.h5"),
    ],
    ids=[
        "model",
        "dataset",
        "neat-no-lut",
        "neat-no-vgate",
        "vgate-off-grid-neat",
        "vgate-off-grid",
        "from-text-file",
        "cifar-no-data-dir",
        "cifar-missing-dir",
        "epochs",
        "two-vgates",
        "missing-lut",
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, paper_lut_path: Path, args: object, message: str
) -> None:
    out = tmp_path / "never.pt"
    argv = args(tmp_path, str(paper_lut_path))  # type: ignore[operator]
    result = _train("--epochs", "1", *argv, "--out", str(out))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    assert not out.exists()
