"""Numbers entering training and deployment (issue 10, cases 4, 13 and 14), at the Python API:
the configs, gate voltages per layer, gate files, sweeps, ``deploy(samples=)`` and the output
check of ``run_training``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from torch import nn

from neatxbar.core.errors import ConfigError
from neatxbar.lut import CellLUT
from neatxbar.mapping.gates import load_gate_file, resolve_gate_voltages
from neatxbar.studies.experiment import ExperimentSpec
from neatxbar.studies.neat_map import deploy, sweep_values
from neatxbar.training.neat import NeatConfig
from neatxbar.training.run import check_output_file
from neatxbar.training.trainer import TrainConfig

NAN, INF = math.nan, math.inf


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (lambda: TrainConfig(lr=INF), "train.lr must be finite"),
        (lambda: TrainConfig(lr=NAN), "train.lr must be finite"),
        (lambda: TrainConfig(momentum=NAN), "train.momentum must be finite"),
        (lambda: TrainConfig(momentum=1.5), "momentum must be in"),
        (lambda: TrainConfig(weight_decay=-1.0), "weight_decay must be >= 0"),
        (lambda: TrainConfig(epochs=2.5), "train.epochs must be an integer"),  # type: ignore[arg-type]
        (lambda: NeatConfig(lr=INF), "neat.lr must be finite"),
        (lambda: NeatConfig(iterations=INF), "neat.iterations must be an integer"),  # type: ignore[arg-type]
        (lambda: NeatConfig(batch_size=0), "batch_size must be >= 1"),
        (lambda: ExperimentSpec(v_gates=[0.8, NAN]), "experiment.v_gates"),
        (lambda: ExperimentSpec(wire_ohm=INF), "experiment.wire_ohm must be finite"),
    ],
    ids=[
        "lr-inf",
        "lr-nan",
        "momentum-nan",
        "momentum-big",
        "decay-negative",
        "epochs-float",
        "neat-lr-inf",
        "neat-iterations-inf",
        "neat-batch-0",
        "v-gates-nan",
        "wire-ohm-inf",
    ],
)
def test_configs_refuse_bad_numbers(config: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config().validate()  # type: ignore[operator]


def test_gate_voltages_are_checked_where_they_become_per_layer() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 2))
    assert resolve_gate_voltages(model, 0.8) == {"0": 0.8, "2": 0.8}
    assert resolve_gate_voltages(model, {"0": 0.7, "default": 1.0}) == {"0": 0.7, "2": 1.0}
    for bad in (NAN, INF, 0.0, 6.0, {"0": NAN, "default": 1.0}, {"default": -INF}):
        with pytest.raises(ConfigError, match="V_gate"):
            resolve_gate_voltages(model, bad)  # type: ignore[arg-type]


def test_gate_files_refuse_non_finite_voltages(tmp_path: Path) -> None:
    for name, text in (
        ("g.toml", "1 = nan\n"),
        ("g.toml", "[v_gate]\ndefault = inf\n"),
        ("g.json", '{"1": NaN}'),
        ("g.json", '{"1": -Infinity}'),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match="must be finite"):
            load_gate_file(path)
    path = tmp_path / "ok.toml"
    path.write_text("1 = 0.8\ndefault = 1\n", encoding="utf-8")
    assert load_gate_file(path) == {"1": 0.8, "default": 1.0}


def test_sweeps_bigger_than_the_gate_grid_are_refused_at_once(paper_lut: CellLUT) -> None:
    assert sweep_values(paper_lut, "0.7:1.3:0.05") == pytest.approx(paper_lut.offered_gates)
    assert sweep_values(paper_lut, (0.8, 0.8, 1e-16)) == [0.8]  # one point: no step taken
    with pytest.raises(ValueError, match="below the spacing of the LUT's offered gate voltages"):
        sweep_values(paper_lut, "0.7:0.7000000009:1e-16")  # 9e6 points: refused, not walked
    with pytest.raises(ValueError, match="more than the LUT's 13 offered gate voltages"):
        sweep_values(paper_lut, "0.05:5:0.05")
    with pytest.raises(ValueError, match="must be finite"):
        sweep_values(paper_lut, (0.7, INF, 0.05))
    with pytest.raises(ConfigError, match="start must be a gate voltage"):
        sweep_values(paper_lut, "-0.5:1.3:0.05")


def test_deploy_refuses_samples_below_one(paper_lut_path: Path, tmp_path: Path) -> None:
    for samples in (0, -3):
        with pytest.raises(ConfigError, match="samples must be >= 1"):
            deploy(tmp_path / "never.pt", paper_lut_path, samples=samples, progress=False)


def test_check_output_file(tmp_path: Path) -> None:
    source = tmp_path / "in.pt"
    source.write_bytes(b"weights")
    with pytest.raises(ConfigError, match="is the --from checkpoint"):
        check_output_file(source, {"--from checkpoint": source, "LUT": None})
    link = tmp_path / "link.pt"
    link.symlink_to(source)
    with pytest.raises(ConfigError, match="is the LUT"):
        check_output_file(link, {"LUT": source})
    with pytest.raises(ConfigError, match="cannot write in"):
        check_output_file(source / "model.pt", {})  # its parent is a file
    out = check_output_file(tmp_path / "a" / "b" / "model.pt", {"LUT": source})
    assert out.parent.is_dir() and list(out.parent.iterdir()) == []  # probe removed
    assert source.read_bytes() == b"weights"
