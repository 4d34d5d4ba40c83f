"""``neat compare``: whole crossbars in ngspice against the fast, exact and ideal models, on random
arrays and on the first layer of a trained model (trained here through the training floor, or
given as a checkpoint); with wires, also against the circuit solver and the wired fast path."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from neatxbar.cli.main import cli
from neatxbar.core.config import ConfigError
from neatxbar.lut import CellLUT, LUTError
from neatxbar.mapping import Crossbar
from neatxbar.mapping.errors import MappingError
from neatxbar.studies.compare import (
    CASES,
    MODELS,
    WIRED_MODELS,
    CompareConfig,
    CompareReport,
    compare,
    input_voltages,
    layer_of,
    trained_conductances,
)
from neatxbar.training.checkpoint import save_checkpoint
from neatxbar.training.models import build_model

SIZES = (8, 16)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILES = ("compare.json", "compare.csv", "parity.png", "error_histogram.png")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare")


@pytest.fixture(scope="module")
def report(paper_lut_path: Path, out_dir: Path) -> CompareReport:
    config = CompareConfig(sizes=SIZES, v_gate=1.0, vectors=5, seed=0)
    return compare(paper_lut_path, config, out_dir=out_dir, progress=False)


def test_the_report_has_a_row_for_every_size_case_and_model(report: CompareReport) -> None:
    keys = [(row.size, row.case, row.model) for row in report.rows]
    assert keys == [(n, c, m) for n in SIZES for c in CASES for m in MODELS]
    for row in report.rows:
        assert row.vectors == 5
        assert 0 <= row.rel_err_median <= row.rel_err_p99 <= row.rel_err_max
        assert row.rel_err_rms <= row.rel_err_max
        assert row.spice_seconds > 0 and row.emulation_seconds_per_vector > 0
        assert row.speedup == pytest.approx(
            row.spice_seconds_per_vector / row.emulation_seconds_per_vector
        )


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_the_emulation_matches_ngspice_and_the_ideal_model_does_not(
    report: CompareReport, size: int, case: str
) -> None:
    fast, exact, ideal = (report.row(size, case, m) for m in ("fast", "exact", "ideal"))
    assert fast.rel_err_max <= 3e-3
    assert exact.rel_err_max <= 3e-3
    # the transistor matters: G^T V misses by far more than the LUT-backed models
    assert ideal.rel_err_median > max(fast.rel_err_max, exact.rel_err_max)
    assert ideal.rel_err_rms > 10 * max(fast.rel_err_rms, exact.rel_err_rms)


def test_both_sides_simulate_the_same_arrays(report: CompareReport, paper_lut_path: Path) -> None:
    lut = CellLUT.load(paper_lut_path)
    for case in report.cases:
        assert case.g_siemens.shape == (case.size, case.size)
        assert case.i_spice.shape == case.v_in.shape == (5, case.size)
        assert lut.g_min_s - 1e-15 <= case.g_siemens.min()
        assert case.g_siemens.max() <= lut.g_on_s + 1e-15
        assert case.v_in.min() >= 0
        assert case.v_in.max() <= lut.v_max + 1e-12
        assert np.all(case.v_in.max(axis=1) > 0)
        np.testing.assert_allclose(case.i_model["ideal"], case.v_in @ case.g_siemens)
    assert report.rank == Crossbar(lut, 1.0, 8, 8).form.rank
    assert report.trained_accuracy is not None and report.trained_accuracy > 0.9
    assert report.trained_source == "mlp trained on the digits here"
    assert report.trained_layer == "1"  # the mlp: Flatten, then its first Linear


def test_files_are_written_and_readable(report: CompareReport, out_dir: Path) -> None:
    assert [p.name for p in report.files] == list(FILES)
    # no temporary files left; the manifest lists what neat-xbar wrote
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([*FILES, ".neat-outputs.json"])
    data = json.loads((out_dir / "compare.json").read_text())
    assert data["fast_path"]["rank"] == report.rank
    assert data["config"]["sizes"] == list(SIZES)
    assert data["lut"] == str(report.lut_path)
    assert len(data["rows"]) == len(report.rows)
    with (out_dir / "compare.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(report.rows)
    assert float(rows[0]["rel_err_max"]) == pytest.approx(report.rows[0].rel_err_max)
    from matplotlib.image import imread

    for name in ("parity.png", "error_histogram.png"):
        path = out_dir / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300


def test_config_validation_names_the_field() -> None:
    for bad, field in [
        (CompareConfig(sizes=()), "sizes"),
        (CompareConfig(sizes=(16, 1)), "sizes"),
        (CompareConfig(sizes=(16, 16)), "sizes"),
        (CompareConfig(vectors=0), "vectors"),
        (CompareConfig(v_gate=-1.0), "v_gate"),
        (CompareConfig(seed=-1), "seed"),
    ]:
        with pytest.raises(ConfigError, match=field):
            bad.validate()


def test_large_arrays_get_fewer_vectors() -> None:
    config = CompareConfig(vectors=20)
    assert [config.vectors_for(n) for n in (16, 32, 64, 128, 256)] == [20, 20, 20, 5, 5]
    assert CompareConfig(vectors=100).vectors_for(128) == 25
    assert CompareConfig(vectors=3).vectors_for(256) == 3


def test_a_gate_voltage_off_the_grid_is_a_lut_error(paper_lut_path: Path) -> None:
    with pytest.raises(LUTError, match="gate grid"):
        compare(paper_lut_path, CompareConfig(sizes=(8,), v_gate=0.835), progress=False)


def test_trained_layers_and_images_are_tiled_to_larger_arrays() -> None:
    weight = np.array([[1.0, -2.0], [0.5, 0.0]])
    g = trained_conductances(weight, 3, 1.0, 3.0)
    # G+ = G_min + (G_on - G_min) * max(w, 0) / max|w|, max|w| = 2, tiled
    np.testing.assert_allclose(g, [[2.0, 1.0, 2.0], [1.5, 1.0, 1.5], [2.0, 1.0, 2.0]])
    images = np.array([[0.0, 0.0, 4.0], [0.0, 8.0, 2.0], [4.0, 0.0, 0.0]])
    v = input_voltages(images, 2, 5, 0.5)
    # the first image has no current in its first two pixels: skipped
    np.testing.assert_allclose(v, [[0.0, 0.5], [0.5, 0.0]])
    np.testing.assert_allclose(input_voltages(images, 5, 1, 0.5), [[0, 0, 0.5, 0, 0]])
    # signed inputs: the first read phase drives the positive ones, scaled by the largest |x|
    np.testing.assert_allclose(input_voltages(np.array([[-4.0, 2.0]]), 2, 1, 0.5), [[0, 0.25]])


def test_the_cli_runs_end_to_end(paper_lut_path: Path, tmp_path: Path) -> None:
    args = ["compare", "--lut", str(paper_lut_path), "--sizes", "8", "--vectors", "3"]
    args += ["--out", str(tmp_path / "out"), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "K = " in result.output
    lines = [line for line in result.output.splitlines() if line.lstrip().startswith("8x8")]
    assert len(lines) == len(CASES) * len(MODELS)
    listed = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert listed == sorted([*FILES, ".neat-outputs.json"])
    result = CliRunner().invoke(cli, [*args, "--no-trained", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [row["case"] for row in data["rows"]] == ["random"] * len(MODELS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sizes", "16,x"], "--sizes"),
        (["--sizes", "16,1"], "sizes"),
        (["--vectors", "0"], "vectors"),
        (["--v-gate", "0.835"], "gate grid"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    paper_lut_path: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    args = ["compare", "--lut", str(paper_lut_path), "--out", str(tmp_path), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_a_missing_lut_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["compare", "--lut", str(tmp_path / "no.h5")])
    assert result.exit_code == 2
    assert "no such LUT file" in result.stderr


# --------------------------------------------------------------------------------------------
# the trained case takes trained weights: a checkpoint, or a model given in Python


def _checkpoint(path: Path, seed: int = 3) -> torch.nn.Module:
    """An mlp for the digits with seeded random weights, saved as a checkpoint at ``path``."""
    torch.manual_seed(seed)
    model = build_model("mlp", 10, 1, 8)
    shape = {"num_classes": 10, "in_channels": 1, "image_size": 8}
    header = {"model": "mlp", "dataset": "digits", **shape, "accuracy": 0.5}
    save_checkpoint(path, model, header)
    return model


def test_the_trained_case_uses_the_checkpoints_first_layer(
    paper_lut_path: Path, tmp_path: Path
) -> None:
    model = _checkpoint(tmp_path / "model.pt")
    config = CompareConfig(sizes=(8,), vectors=3, checkpoint=str(tmp_path / "model.pt"))
    report = compare(paper_lut_path, config, progress=False)
    assert report.trained_source == str(tmp_path / "model.pt")
    assert report.trained_layer == "1" and report.trained_accuracy == 0.5
    (case,) = [c for c in report.cases if c.case == "trained"]
    lut = CellLUT.load(paper_lut_path)
    weight = model[1].weight.detach().double().numpy().T  # (inputs, outputs)
    expected = trained_conductances(weight, 8, lut.g_min_s, lut.g_on_s)
    np.testing.assert_allclose(case.g_siemens, expected)
    assert report.row(8, "trained", "fast").rel_err_max <= 3e-3


def test_the_cli_takes_a_checkpoint_and_never_writes_over_it(
    paper_lut_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    _checkpoint(out / "compare.json")  # the checkpoint sits where the report would go
    before = (out / "compare.json").read_bytes()
    args = ["compare", "--lut", str(paper_lut_path), "--sizes", "8", "--vectors", "2"]
    args += ["--checkpoint", str(out / "compare.json"), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert (out / "compare.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["compare.json"]
    (out / "compare.json").rename(tmp_path / "model.pt")
    args[args.index("--checkpoint") + 1] = str(tmp_path / "model.pt")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f"layer '1' of {tmp_path / 'model.pt'}" in result.output
    data = json.loads((out / "compare.json").read_text())
    assert data["config"]["checkpoint"] == str(tmp_path / "model.pt")
    assert data["trained"] == {"source": str(tmp_path / "model.pt"), "layer": "1"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--no-trained"], "checkpoint"),
        ([], "checkpoint"),  # not a checkpoint: the file holds text
    ],
)
def test_a_bad_checkpoint_exits_2_with_one_line(
    paper_lut_path: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint")
    args = ["compare", "--lut", str(paper_lut_path), "--sizes", "4", "--checkpoint", str(text)]
    args += ["--out", str(tmp_path / "out"), "--no-progress", *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_convolution_is_compared_on_its_own_patches() -> None:
    """The rows of a Conv2d's crossbar are its flattened kernel; its inputs, the image patches:
    patches @ weight is the convolution itself."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1, stride=2), torch.nn.ReLU())
    images = torch.randn(4, 2, 6, 6)
    layer = layer_of(model, images, source="a test model", seed=1)
    assert layer.weight.shape == (2 * 3 * 3, 3) and layer.layer == "0"
    assert layer.inputs.shape == (4 * 3 * 3, 18)
    with torch.no_grad():
        out = torch.nn.functional.conv2d(images, model[0].weight, None, 2, 1).double()
    expected = np.sort(out.permute(0, 2, 3, 1).reshape(-1, 3).numpy(), axis=0)
    np.testing.assert_allclose(np.sort(layer.inputs @ layer.weight, axis=0), expected, atol=1e-6)
    assert model.training  # the model's mode is left as it was


def test_images_a_model_does_not_take_are_a_mapping_error() -> None:
    layers = [torch.nn.Flatten(), torch.nn.Linear(64, 10), torch.nn.ReLU(), torch.nn.Linear(10, 10)]
    model = torch.nn.Sequential(*layers)
    with pytest.raises(MappingError, match="does not take these images"):
        layer_of(model, torch.zeros(2, 3, 32, 32), source="m.pt")
    with pytest.raises(MappingError, match="no Linear or Conv2d"):
        layer_of(torch.nn.Sequential(torch.nn.ReLU()), torch.zeros(2, 4), source="m.pt")


# --------------------------------------------------------------------------------------------
# with wires: ngspice simulates them, and the circuit solver and the wired fast path join

WIRE_OHM = 2.5
WIRED_SIZE = 16


@pytest.fixture(scope="module")
def wired_out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare-wired")


@pytest.fixture(scope="module")
def wired(paper_lut_path: Path, wired_out_dir: Path) -> CompareReport:
    config = CompareConfig(
        sizes=(WIRED_SIZE,), v_gate=1.0, vectors=5, seed=0, trained=False, wire_ohm=WIRE_OHM
    )
    return compare(paper_lut_path, config, out_dir=wired_out_dir, progress=False)


def test_with_wires_the_wired_models_join_the_per_cell_ones(wired: CompareReport) -> None:
    assert WIRED_MODELS == ("circuit", "wired-fast")
    keys = [(row.size, row.case, row.model) for row in wired.rows]
    assert keys == [(WIRED_SIZE, "random", m) for m in (*MODELS, *WIRED_MODELS)]
    for row in wired.rows:
        # only the wired fast path has once-per-array work, timed apart from its vectors
        assert (row.setup_seconds > 0) == (row.model == "wired-fast")
        assert row.emulation_seconds_per_vector > 0
    (case,) = wired.cases
    assert case.i_model["wired-fast"].shape == case.i_spice.shape == (5, WIRED_SIZE)


def test_the_wired_fast_path_matches_ngspice_with_wires(wired: CompareReport) -> None:
    """Measured at 16 x 16, 2.5-ohm segments, V_gate 1.0 V (20 vectors): the wired fast path is
    off by 0.022 % at most (rms 0.0066 %), the circuit solver by 0.002 %, the per-cell paths,
    which leave the wires out, by 1.1 % (rms 0.74 %)."""
    row = {m: wired.row(WIRED_SIZE, "random", m) for m in wired.config.models}
    assert row["wired-fast"].rel_err_max < 2e-3
    assert row["circuit"].rel_err_max < 3e-4
    for per_cell in ("fast", "exact"):
        assert row["wired-fast"].rel_err_max < row[per_cell].rel_err_median / 5
        assert row["wired-fast"].rel_err_rms < row[per_cell].rel_err_rms / 20
    # on the same g and v, the wired fast path stays close to the reference solver
    (case,) = wired.cases
    gap = np.abs(case.i_model["wired-fast"] / case.i_model["circuit"] - 1)
    assert gap.max() < 2e-3


def test_with_wires_the_files_hold_the_wired_fast_path(
    wired: CompareReport, wired_out_dir: Path
) -> None:
    data = json.loads((wired_out_dir / "compare.json").read_text())
    assert data["config"]["wire_ohm"] == WIRE_OHM
    models = [row["model"] for row in data["rows"]]
    assert models == [*MODELS, *WIRED_MODELS]
    (fast,) = [row for row in data["rows"] if row["model"] == "wired-fast"]
    assert fast["rel_err_max"] == pytest.approx(
        wired.row(WIRED_SIZE, "random", "wired-fast").rel_err_max
    )
    assert fast["setup_seconds"] > 0
    with (wired_out_dir / "compare.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["model"] for r in rows] == models and float(rows[-1]["setup_seconds"]) > 0
    for name in ("parity.png", "error_histogram.png"):
        assert (wired_out_dir / name).read_bytes()[:8] == PNG_SIGNATURE


def test_the_cli_shows_the_wired_fast_path(paper_lut_path: Path, tmp_path: Path) -> None:
    args = ["compare", "--lut", str(paper_lut_path), "--sizes", "8", "--vectors", "2"]
    args += ["--wires", "2.5", "--no-trained", "--out", str(tmp_path / "out"), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "setup ms" in result.output and "wires: 2.5 ohm" in result.output
    lines = [line.split() for line in result.output.splitlines() if line.startswith("8x8")]
    assert [line[2] for line in lines] == [*MODELS, *WIRED_MODELS]
    assert lines[-1][-1] != "-" and lines[-2][-1] == "-"  # only wired-fast has a set-up time
