"""Numbers where they enter `neat map`, `neat train` and `neat report experiment` (issue 10, cases
4, 9, 13 and 14): NaN, infinities and out-of-range values refused with one line and exit 2 before
any work; `neat map --samples`; `neat train --out` checked before the training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from neatxbar.cli.main import cli
from neatxbar.training import run as run_module

FAST = ["--device", "cpu", "--no-progress"]


def _cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _one_line_exit_2(result: Result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output


def _file(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A software MLP on the digits (two epochs, a few seconds)."""
    out = tmp_path_factory.mktemp("numbers") / "mlp.pt"
    result = _cli("train", *FAST, "--epochs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


# ---------------------------------------------------------------------------------------------
# neat map


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: ["--vgate", "nan"], "--vgate (V) must be finite"),
        (lambda t: ["--vgate", "inf"], "--vgate (V) must be finite"),
        (lambda t: ["--vgate", "-0.8"], "--vgate must be a gate voltage in (0, 5] V"),
        (lambda t: ["--vgate", "1e300"], "--vgate must be a gate voltage in (0, 5] V"),
        (
            lambda t: ["--vgate-per-layer", _file(t, "g.toml", "1 = nan\ndefault = 1.0\n")],
            "V_gate of '1' (V) must be finite",
        ),
        (
            lambda t: ["--vgate-per-layer", _file(t, "g.json", '{"default": NaN}')],
            "V_gate of 'default' (V) must be finite",
        ),
        (lambda t: ["--vgate-per-layer", _file(t, "g.toml", "default = -inf\n")], "must be finite"),
        (
            lambda t: ["--sweep", "0.7:0.7000000009:1e-16"],
            "below the spacing of the LUT's offered gate voltages",
        ),
        (lambda t: ["--sweep", "0.05:5:0.05"], "more than the LUT's 13 offered gate voltages"),
        (lambda t: ["--sweep", "0.7:nan:0.05"], "must be finite"),
        (lambda t: ["--sweep", "0.7:1e300:0.05"], "stop must be a gate voltage in (0, 5] V"),
        (lambda t: ["--samples", "0"], "samples must be >= 1"),
        (
            lambda t: [
                "--config",
                _file(t, "m.toml", "[mapping]\nrows = 32\n[wires]\nr_row = 2.5\n"),
            ],
            "[wires] belongs under [mapping.wires]",
        ),
        (
            lambda t: [
                "--config",
                _file(t, "m.toml", "[mapping]\nrows = 32\n[wire]\nr_row = 2.5\n"),
            ],
            "unknown top-level [wire]",
        ),
        (
            lambda t: ["--config", _file(t, "m.toml", "[mapping]\nadc_range = inf\n")],
            "adc_range must be finite",
        ),
        (
            lambda t: ["--config", _file(t, "m.toml", "[mapping]\nw_cut = nan\n")],
            "w_cut must be finite",
        ),
        (
            lambda t: ["--config", _file(t, "m.toml", "[mapping]\nv_gate = nan\n")],
            "v_gate must be finite",
        ),
        (
            lambda t: ["--config", _file(t, "m.toml", "[mapping.wires]\nr_row = inf\n")],
            "wires.r_row must be finite",
        ),
    ],
    ids=[
        "vgate-nan",
        "vgate-inf",
        "vgate-negative",
        "vgate-huge",
        "gate-file-nan",
        "gate-json-nan",
        "gate-file-minus-inf",
        "sweep-tiny-step",
        "sweep-too-many",
        "sweep-nan",
        "sweep-huge",
        "samples-0",
        "misplaced-wires",
        "unknown-table",
        "adc-range-inf",
        "w-cut-nan",
        "mapping-vgate-nan",
        "wire-inf",
    ],
)
def test_map_refuses_bad_numbers_before_any_work(
    tmp_path: Path, checkpoint: Path, paper_lut_path: Path, make: object, message: str
) -> None:
    out = tmp_path / "never"
    extra = make(tmp_path)  # type: ignore[operator]
    result = _cli(
        "map",
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        *extra,
        "--out",
        str(out),
    )
    _one_line_exit_2(result, message)
    assert result.stdout == "" and not out.exists()


def test_map_samples_takes_the_first_n_test_samples(
    tmp_path: Path, checkpoint: Path, paper_lut_path: Path
) -> None:
    runs = []
    for name in ("a", "b"):
        result = _cli(
            "map",
            "--no-progress",
            "--checkpoint",
            str(checkpoint),
            "--lut",
            str(paper_lut_path),
            "--samples",
            "7",
            "--json",
            "--out",
            str(tmp_path / name),
        )
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout))
    assert runs[0]["test_samples"] == 7 and runs[0]["energy_samples"] == 7
    same = ("crossbar_accuracy", "energy_j")
    assert [{k: s[k] for k in same if k in s} for s in runs[0]["settings"]] == [
        {k: s[k] for k in same if k in s} for s in runs[1]["settings"]
    ]  # deterministic: the same samples each time
    # more samples than the split holds: all of them
    big = _cli(
        "map",
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        "--samples",
        "100000",
        "--json",
        "--out",
        str(tmp_path / "c"),
    )
    assert big.exit_code == 0, big.output
    assert json.loads(big.stdout)["test_samples"] == 360  # the digits' test split


def test_map_with_wires_on_a_few_samples(
    tmp_path: Path, checkpoint: Path, paper_lut_path: Path
) -> None:
    """The case that peaked at 8.8 GB: 2.5-ohm wires on the digits MLP, now on 3 samples (the
    solver works in bounded chunks, see tests/mapping/test_entry_numbers.py)."""
    config = _file(tmp_path, "w.toml", "[mapping.wires]\nr_row = 2.5\nr_col = 2.5\n")
    result = _cli(
        "map",
        "--no-progress",
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        "--config",
        config,
        "--samples",
        "3",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["test_samples"] == 3
    assert 0.0 <= summary["settings"][0]["crossbar_accuracy"] <= 1.0


# ---------------------------------------------------------------------------------------------
# neat train


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records a call of the trainer (a refused run never reaches it)."""
    calls: list[str] = []
    real = run_module.train

    def recording(*args: object, **kwargs: object) -> object:
        calls.append("train")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "train", recording)
    return calls


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lr", "inf"], "train.lr must be finite"),
        (["--lr", "nan"], "train.lr must be finite"),
        (["--lr", "0"], "lr must be > 0"),
        (["--lr", "-1e-3"], "lr must be > 0"),
        (["--neat", "--vgate", "nan"], "--vgate (V) must be finite"),
        (["--neat", "--vgate", "0"], "--vgate must be a gate voltage in (0, 5] V"),
        (["--neat", "--vgate", "0.8", "--neat-lr", "inf"], "neat.lr must be finite"),
    ],
    ids=[
        "lr-inf",
        "lr-nan",
        "lr-0",
        "lr-negative",
        "neat-vgate-nan",
        "neat-vgate-0",
        "neat-lr-inf",
    ],
)
def test_train_refuses_bad_numbers_before_training(
    tmp_path: Path, paper_lut_path: Path, no_training: list[str], args: list[str], message: str
) -> None:
    out = tmp_path / "model.pt"
    result = _cli("train", *FAST, "--lut", str(paper_lut_path), *args, "--out", str(out))
    _one_line_exit_2(result, message)
    assert not out.exists() and no_training == []


def test_train_reads_gate_files_with_the_one_loader(
    tmp_path: Path, paper_lut_path: Path, no_training: list[str]
) -> None:
    out = tmp_path / "model.pt"
    bad = [
        (_file(tmp_path, "nan.toml", "default = nan\n"), "must be finite"),
        (_file(tmp_path, "broken.toml", "default = [\n"), "not valid TOML"),
        (str(tmp_path / "absent.toml"), "cannot read gate-voltage file"),
    ]
    for path, message in bad:
        result = _cli(
            "train",
            *FAST,
            "--neat",
            "--lut",
            str(paper_lut_path),
            "--vgate-per-layer",
            path,
            "--out",
            str(out),
        )
        _one_line_exit_2(result, message)
    assert not out.exists() and no_training == []


def test_train_out_is_checked_before_training(
    tmp_path: Path, checkpoint: Path, paper_lut_path: Path, no_training: list[str]
) -> None:
    before = checkpoint.read_bytes()
    lut_before = paper_lut_path.read_bytes()
    blocker = Path(_file(tmp_path, "a-file", "not a folder\n"))
    cases = [
        (["--from", str(checkpoint), "--out", str(checkpoint)], "is the --from checkpoint"),
        (
            ["--lut", str(paper_lut_path), "--vgate", "1.0", "--out", str(paper_lut_path)],
            "is the LUT",
        ),
        (["--out", str(blocker / "model.pt")], "cannot write in"),
        (["--out", str(tmp_path)], "is a directory"),  # click refuses it
    ]
    for args, message in cases:
        _one_line_exit_2(_cli("train", *FAST, "--epochs", "1", *args), message)
    assert no_training == []
    assert checkpoint.read_bytes() == before and paper_lut_path.read_bytes() == lut_before
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


def test_train_out_in_a_place_nobody_may_write(no_training: list[str]) -> None:
    # sysfs refuses new files to every user, root included (a chmod 500 folder would not stop root)
    result = _cli("train", *FAST, "--epochs", "1", "--out", "/sys/neat-xbar-test/model.pt")
    _one_line_exit_2(result, "cannot write in")
    assert no_training == [] and not Path("/sys/neat-xbar-test").exists()


def test_train_out_with_missing_folders_creates_them(tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper" / "model.pt"
    result = _cli("train", *FAST, "--epochs", "1", "--max-steps", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["model.pt"]  # no probe file left


# ---------------------------------------------------------------------------------------------
# neat report experiment

EXPERIMENT = """
[experiment]
name = "tiny"
lut_preset = "quick"
v_gates = {v_gates}

[train]
epochs = 1
device = "cpu"
{extra}
"""


@pytest.mark.parametrize(
    ("v_gates", "extra", "message"),
    [
        ("[0.8, nan]", "", "experiment.v_gates (V) must be finite"),
        ("[0.8, 9.0]", "", "experiment.v_gates must be a gate voltage in (0, 5] V"),
        ("[0.8]", "[wires]\nr_row = 2.5\n", "[wires] belongs under [mapping.wires]"),
        ("[0.8]", "[mapping]\nadc_range = inf\n", "adc_range must be finite"),
        ("[0.8]", "[neat]\nlr = nan\n", "neat.lr must be finite"),
        ("[0.8]", "[experiment2]\n", "unknown top-level [experiment2]"),
    ],
    ids=[
        "vgate-nan",
        "vgate-huge",
        "misplaced-wires",
        "adc-range-inf",
        "neat-lr-nan",
        "unknown-table",
    ],
)
def test_experiment_config_numbers_and_tables(
    tmp_path: Path, v_gates: str, extra: str, message: str
) -> None:
    config = _file(tmp_path, "e.toml", EXPERIMENT.format(v_gates=v_gates, extra=extra))
    out = tmp_path / "out"
    result = _cli("report", "experiment", "--config", config, "--out", str(out), "--no-progress")
    _one_line_exit_2(result, message)
    assert not out.exists()
