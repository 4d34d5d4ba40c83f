"""``neat map`` / ``neat-map``: an MLP trained on the digits here, the `paper` LUT made by ngspice,
real evaluation and energy; the files it writes, the console script, and user errors."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch
from click.testing import CliRunner, Result
from torch import nn

from neatxbar.cli.main import cli
from neatxbar.cli.map import map_command
from neatxbar.lut import CellLUT
from neatxbar.studies.neat_map import FILES, MapReport, deploy, gate_settings, sweep_values
from neatxbar.training.checkpoint import load_checkpoint, save_checkpoint
from neatxbar.training.models import MODELS, build_model
from neatxbar.training.run import model_from_checkpoint

LAYERS = ["1", "3", "5"]  # the MLP's Linear layers
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _map(*args: str) -> Result:
    return CliRunner().invoke(cli, ["map", "--no-progress", *args])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A software MLP on the digits: eight epochs, about 3 s."""
    out = tmp_path_factory.mktemp("map") / "mlp.pt"
    result = CliRunner().invoke(
        cli, ["train", "--epochs", "8", "--device", "cpu", "--no-progress", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def sweep_run(
    checkpoint: Path, paper_lut_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("map") / "report"
    result = _map(
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        "--sweep",
        "0.8:1.3:0.25",
        "--out",
        str(out),
    )
    return result, out


def test_a_sweep_reports_accuracy_energy_and_linear_share(
    sweep_run: tuple[Result, Path], checkpoint: Path, paper_lut_path: Path
) -> None:
    result, out = sweep_run
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    header, _ = load_checkpoint(checkpoint)
    assert summary["checkpoint"] == str(checkpoint) and summary["lut"] == str(paper_lut_path)
    assert (summary["dataset"], summary["model"]) == ("digits", "mlp")
    assert summary["software_accuracy"] == pytest.approx(header["accuracy"])
    assert summary["scale_source"] == "max |w|" and summary["test_samples"] == 360
    settings = summary["settings"]
    assert [s["label"] for s in settings] == ["0.80 V", "1.05 V", "1.30 V"]
    for s, v in zip(settings, (0.8, 1.05, 1.3), strict=True):
        assert s["v_gate"] == dict.fromkeys(LAYERS, v)
        assert sorted(s["linear_share"]) == LAYERS and sorted(s["fast_path_k"]) == LAYERS
        assert all(0.0 <= share <= 1.0 for share in s["linear_share"].values())
        assert all(isinstance(k, int) and k >= 1 for k in s["fast_path_k"].values())
        assert s["energy_j"] > 0 and s["saving"] == pytest.approx(1 - s["energy_relative"])
        assert s["energy_relative"] == pytest.approx(s["energy_j"] / s["baseline_energy_j"])
        assert sum(row["total_j"] for row in s["layers"]) == pytest.approx(s["energy_j"])
        breakdown = s["energy_breakdown_j"]
        assert sum(breakdown.values()) == pytest.approx(s["energy_j"])
    low, _, high = settings
    # 1.3 V: the cell is linear for every conductance, so the mapping loses (almost) nothing
    assert abs(high["crossbar_accuracy"] - summary["software_accuracy"]) <= 0.01
    assert high["linear_share"] == dict.fromkeys(LAYERS, 1.0)
    assert low["fast_path_k"]["1"] >= high["fast_path_k"]["1"]
    assert low["energy_relative"] < 1.0 < high["energy_relative"]  # vs every layer at 1.0 V
    assert low["energy_breakdown_j"]["gate"] < high["energy_breakdown_j"]["gate"]
    assert "software accuracy" in result.stdout and "0.80 V" in result.stdout


def test_the_files_are_complete_and_the_figures_are_pngs(sweep_run: tuple[Result, Path]) -> None:
    from matplotlib.image import imread

    _, out = sweep_run
    # no temporary files left; the manifest lists what neat-xbar wrote
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, ".neat-outputs.json"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["files"] == [str(out / name) for name in FILES]
    with (out / "layers.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * len(LAYERS)
    assert {
        "setting",
        "layer",
        "v_gate",
        "linear_share",
        "read_j",
        "gate_j",
        "dac_j",
        "adc_j",
        "total_j",
        "fast_path_k",
    } <= set(rows[0])
    first = [r for r in rows if r["setting"] == "0.80 V"]
    assert [r["layer"] for r in first] == LAYERS and float(first[0]["v_gate"]) == 0.8
    for name in ("accuracy_vs_vgate.png", "energy_vs_vgate.png", "layers.png"):
        path = out / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = imread(path)
        assert image.shape[0] > 200 and image.shape[1] > 200


def test_auto_gate_voltages_and_json(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    result = _map(
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        "--vgate",
        "auto",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    (auto,) = printed["settings"]
    assert auto["label"] == "auto"
    grid = [round(v, 9) for v in CellLUT.load(paper_lut_path).vg_grid.tolist()]
    assert all(v in grid and v <= 1.3 for v in auto["v_gate"].values())
    # data-free: the lowest V_gate whose bound covers 99.5 % of each layer's |w|
    assert all(share >= 0.99 for share in auto["linear_share"].values())


def test_a_neat_checkpoint_deploys_at_its_own_gate_voltages_and_scales(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    model, header = model_from_checkpoint(checkpoint)
    scales = {
        name: 2.0 * float(model.get_submodule(name).weight.detach().abs().max()) for name in LAYERS
    }
    gates = {"1": 0.9, "3": 1.0, "5": 1.3}
    neat = save_checkpoint(
        tmp_path / "neat.pt", model, {**header, "v_gate": gates, "weight_scales": scales}
    )
    report = deploy(neat, paper_lut_path, out_dir=None, progress=False)
    assert isinstance(report, MapReport) and report.files == []
    (setting,) = report.settings
    assert (setting.label, setting.v_gate) == ("checkpoint", gates)
    assert report.scale_source == "checkpoint" and report.weight_scales == pytest.approx(scales)
    assert [row.w_scale for row in setting.layers] == pytest.approx(list(scales.values()))
    assert {row.name: row.bound for row in setting.layers}["1"] == pytest.approx(
        0.6825396825396827 * scales["1"], rel=1e-6
    )  # w_max(0.9 V) of the paper LUT
    assert abs(setting.crossbar_accuracy - report.software_accuracy) <= 0.02


def test_gate_settings_from_a_file_a_sweep_and_the_default(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    lut = CellLUT.load(paper_lut_path)
    model, _ = model_from_checkpoint(checkpoint)
    scales = dict.fromkeys(LAYERS, 1.0)
    (only,) = gate_settings(model, lut, scales)
    assert (only.label, only.v_gate) == ("1.00 V", dict.fromkeys(LAYERS, 1.0))
    settings = gate_settings(model, lut, scales, {"1": 0.8, "default": 1.0}, "0.7:1.3:0.3")
    assert [s.label for s in settings] == ["per-layer", "0.70 V", "1.00 V", "1.30 V"]
    assert settings[0].v_gate == {"1": 0.8, "3": 1.0, "5": 1.0}
    assert sweep_values(lut, (0.7, 1.3, 0.05)) == [round(0.7 + 0.05 * i, 9) for i in range(13)]
    assert sweep_values(lut, "1.3:1.3:0.1") == [1.3]
    gates = tmp_path / "gates.json"
    gates.write_text(json.dumps({"v_gate": {"1": 0.75, "default": 0.9}}), encoding="utf-8")
    out = tmp_path / "out"
    result = _map(
        "--checkpoint",
        str(checkpoint),
        "--lut",
        str(paper_lut_path),
        "--vgate-per-layer",
        str(gates),
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    (setting,) = json.loads(result.stdout)["settings"]
    assert setting["v_gate"] == {"1": 0.75, "3": 0.9, "5": 0.9}


def test_wires_map_on_the_wired_fast_path_and_the_report_says_so(
    checkpoint: Path, paper_lut_path: Path, tmp_path: Path
) -> None:
    common = ["--checkpoint", str(checkpoint), "--lut", str(paper_lut_path), "--vgate", "1.0"]
    common += ["--samples", "8", "--energy-samples", "8"]
    wired = _map(*common, "--wires", "2.5", "--out", str(tmp_path / "wired"))
    assert wired.exit_code == 0, wired.output
    summary = json.loads((tmp_path / "wired" / "summary.json").read_text(encoding="utf-8"))
    assert summary["mapping"]["wires"] == {
        "r_row": 2.5,
        "r_col": 2.5,
        "r_driver": 0.0,
        "r_sense": 0.0,
    }
    wires = summary["wires"]
    assert (wires["on"], wires["r_row_ohm"], wires["r_col_ohm"]) == (True, 2.5, 2.5)
    assert (wires["r_driver_ohm"], wires["r_sense_ohm"], wires["path"]) == (0.0, 0.0, "fast")
    assert wires["solver"].startswith("wired fast path")
    assert wires["energy_includes_wires"] is False and "without the wires" in wires["energy_note"]
    assert summary["test_samples"] == 8 and summary["energy_samples"] == 8
    lines = wired.stdout.splitlines()
    assert lines[2].startswith("wires on: 2.5 ohm per row and per column wire segment")
    assert "wired fast path" in lines[2]
    assert lines[3].startswith("energy is computed without the wires")
    # --wires wins over the config's [mapping.wires]; 0 ohm: ideal wires, the wire-free path
    config = _file(tmp_path, "m.toml", "[mapping.wires]\nr_row = 2.5\nr_col = 2.5\n")
    ideal = _map(
        *common, "--config", config, "--wires", "0", "--json", "--out", str(tmp_path / "0")
    )
    assert ideal.exit_code == 0, ideal.output
    plain = json.loads(ideal.stdout)
    assert plain["wires"]["on"] is False and plain["wires"]["solver"] is None
    assert plain["mapping"]["wires"] == dict.fromkeys(
        ("r_row", "r_col", "r_driver", "r_sense"), 0.0
    )
    # the wires changed what the crossbars compute: layer 1's outputs, so what layers 3 and 5 read
    (with_wires,), (without,) = summary["settings"], plain["settings"]
    assert with_wires["energy_j"] != pytest.approx(without["energy_j"], rel=1e-4)
    assert with_wires["layers"][0]["read_j"] == pytest.approx(without["layers"][0]["read_j"])


def test_neat_map_is_installed_as_a_console_script() -> None:
    script = Path(sys.executable).parent / "neat-map"
    assert script.exists(), f"{script}: run `pip install -e .`"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    in_group = CliRunner().invoke(cli, ["map", "--help"])
    standalone = CliRunner().invoke(map_command, ["--help"])
    body = lambda text: " ".join(text.split("\n", 1)[1].split())  # noqa: E731 (after "Usage:")
    assert body(done.stdout) == body(in_group.stdout) == body(standalone.stdout)
    for flag in ("--checkpoint", "--lut", "--vgate", "--vgate-per-layer", "--sweep", "--json"):
        assert flag in done.stdout
    missing = subprocess.run(
        [str(script), "--checkpoint", "/nonexistent/mlp.pt", "--lut", "x.h5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "error: /nonexistent/mlp.pt: no such checkpoint file"
    ]


def _conv1d_model(num_classes: int, in_channels: int, image_size: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Unflatten(1, (in_channels, image_size**2)),
        nn.Conv1d(in_channels, 2, 3),
        nn.Flatten(),
        nn.Linear(2 * (image_size**2 - 2), num_classes),
    )


def _other_schema(tmp: Path, lut: Path) -> str:
    path = tmp / "other.h5"
    shutil.copy(lut, path)
    with h5py.File(path, "r+") as f:
        f.attrs["schema"] = "other/2"
    return str(path)


def _file(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _plain(tmp: Path, model: str) -> str:
    torch.manual_seed(0)
    path = tmp / f"{model}.pt"
    builder = MODELS[model] if model == "conv1d" else build_model
    net = builder(10, 1, 8) if model == "conv1d" else builder(model, 10, 1, 8)
    torch.save(net.state_dict(), path)
    return str(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            lambda t, c, lut: ["--checkpoint", str(t / "absent.pt"), "--lut", lut],
            "no such checkpoint file",
        ),
        (
            lambda t, c, lut: ["--checkpoint", _file(t, "notes.pt", "not weights\n"), "--lut", lut],
            "not a checkpoint",
        ),
        (lambda t, c, lut: ["--checkpoint", c, "--lut", str(t / "absent.h5")], "absent.h5"),
        (lambda t, c, lut: ["--checkpoint", c, "--lut", _other_schema(t, Path(lut))], "schema"),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--vgate", "0.835"],
            "V_gate 0.835 V is not on the LUT's gate grid",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--vgate", "high"],
            "give a gate voltage in volts",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--sweep", "0.7:1.3:0.08"],
            "0.78 V is not one of the LUT's offered gate voltages",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--sweep", "0.7-1.3"],
            "expected start:stop:step",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--sweep", "1.3:0.7:0.1"],
            "below start",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate-per-layer",
                _file(t, "g.toml", "1 = 'low'\n"),
            ],
            "is not a number",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate-per-layer",
                _file(t, "g.toml", "1 = [\n"),
            ],
            "not valid TOML",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate-per-layer",
                _file(t, "g.json", '{"1": 0.8'),
            ],
            "not valid JSON",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate-per-layer",
                _file(t, "g.toml", "7 = 0.8\n"),
            ],
            "layers the model does not have: 7",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate-per-layer",
                _file(t, "g.toml", "1 = 0.8\n"),
            ],
            "no V_gate for layers '3', '5'",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--vgate",
                "0.8",
                "--vgate-per-layer",
                _file(t, "g.toml", "1 = 0.8\n"),
            ],
            "not both",
        ),
        (lambda t, c, lut: ["--checkpoint", _plain(t, "mlp"), "--lut", lut], "--model"),
        (
            lambda t, c, lut: ["--checkpoint", _plain(t, "mlp"), "--lut", lut, "--model", "gpt"],
            "unknown model 'gpt'",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--dataset", "mnist"],
            "unknown dataset 'mnist'",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                _plain(t, "conv1d"),
                "--lut",
                lut,
                "--model",
                "conv1d",
            ],
            "layer '2' (Conv1d) cannot be mapped",
        ),
        (
            lambda t, c, lut: [
                "--checkpoint",
                c,
                "--lut",
                lut,
                "--config",
                _file(t, "m.toml", "[mapping]\nrows = 0\n"),
            ],
            "rows must be >= 1",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--wires", "-1"],
            "--wires (ohm) must be >= 0",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--wires", "nan"],
            "--wires (ohm) must be finite",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--wires", "inf"],
            "--wires (ohm) must be finite",
        ),
        (
            lambda t, c, lut: ["--checkpoint", c, "--lut", lut, "--wires", "thin"],
            "'thin' is not a valid float",
        ),
    ],
    ids=[
        "missing-checkpoint",
        "not-a-checkpoint",
        "missing-lut",
        "lut-schema",
        "vgate-off-grid",
        "vgate-not-a-number",
        "sweep-off-grid",
        "sweep-malformed",
        "sweep-reversed",
        "per-layer-not-a-number",
        "per-layer-bad-toml",
        "per-layer-bad-json",
        "per-layer-unknown-layer",
        "per-layer-missing-layers",
        "two-vgates",
        "plain-without-model",
        "unknown-model",
        "unknown-dataset",
        "unsupported-layer",
        "bad-config",
        "wires-negative",
        "wires-nan",
        "wires-infinite",
        "wires-not-a-number",
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path,
    checkpoint: Path,
    paper_lut_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: object,
    message: str,
) -> None:
    monkeypatch.setitem(MODELS, "conv1d", _conv1d_model)
    out = tmp_path / "never"
    argv = args(tmp_path, str(checkpoint), str(paper_lut_path))  # type: ignore[operator]
    result = _map(*argv, "--out", str(out))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    assert not out.exists()
