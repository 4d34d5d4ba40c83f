"""The parts of ``neatxbar.studies.neat_map`` below ``deploy``: the gate settings' errors (toolkit
errors, so the CLI shows one line), the wires (``with_wires``, and what the report says of them),
the energy merged over input chunks, and the tables (the CSV holds what the JSON holds; the console
text one row per setting). The `paper` LUT made by ngspice; the end-to-end runs are in
tests/cli/test_map.py."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import h5py
import pytest
import torch
from torch import nn

from neatxbar.core.errors import ConfigError, NeatError
from neatxbar.lut import CellLUT
from neatxbar.lut.errors import LUTError
from neatxbar.mapping import MappingConfig, convert
from neatxbar.mapping.energy import EnergyConfig, EnergyReport, LayerEnergy, model_energy
from neatxbar.mapping.errors import MappingError
from neatxbar.spice.params import Wires
from neatxbar.studies.neat_map import (
    FILES,
    LayerResult,
    MapReport,
    SettingResult,
    chunked_energy,
    deploy,
    figures,
    gate_settings,
    merge_energy,
    parse_sweep,
    sweep_values,
    with_wires,
    write_report,
)
from neatxbar.studies.neat_map.tables import (
    ENERGY_WITHOUT_WIRES,
    LAYER_COLUMNS,
    WIRED_SOLVERS,
    layers_csv,
    report_text,
    summary_json,
)
from neatxbar.training.checkpoint import CheckpointError
from neatxbar.training.models import build_model


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda lut: parse_sweep("0.7-1.3"), ConfigError, "expected start:stop:step"),
        (lambda lut: parse_sweep("a:b:c"), ConfigError, "not three numbers"),
        (lambda lut: parse_sweep("1.3:0.7:0.1"), ConfigError, "below start"),
        (lambda lut: parse_sweep("0.7:1.3:0"), ConfigError, "step must be > 0 V"),
        (
            lambda lut: sweep_values(lut, "0.7:1.3:0.08"),
            MappingError,
            "not one of the LUT's offered gate voltages",
        ),
        (lambda lut: sweep_values(lut, "0.05:5:0.05"), MappingError, "more than the LUT's"),
        (lambda lut: gate_settings(_mlp(), lut, {}, "high"), ConfigError, "a number in volts"),
        (lambda lut: gate_settings(_mlp(), lut, {}, {"9": 0.8}), MappingError, "per-layer setting"),
        (lambda lut: gate_settings(_mlp(), lut, {}, {"1": 0.8}), MappingError, "no V_gate for"),
        (lambda lut: gate_settings(_mlp(), lut, {}, 0.835), LUTError, "not on the LUT's gate grid"),
        (lambda lut: gate_settings(nn.ReLU(), lut, {}), MappingError, "no Linear or Conv2d"),
    ],
    ids=[
        "sweep-malformed",
        "sweep-words",
        "sweep-reversed",
        "sweep-step-0",
        "sweep-off-grid",
        "sweep-too-long",
        "vgate-word",
        "unknown-layer",
        "missing-layer",
        "off-grid",
        "no-crossbar-layer",
    ],
)
def test_a_bad_gate_setting_is_a_toolkit_error(
    paper_lut: CellLUT, call: object, error: type[NeatError], message: str
) -> None:
    with pytest.raises(error, match=message) as raised:
        call(paper_lut)  # type: ignore[operator]
    assert isinstance(raised.value, NeatError)  # the CLI prints it as one line, exit 2


def test_gate_settings_default_to_the_checkpoint_then_one_volt(paper_lut: CellLUT) -> None:
    model = _mlp()
    (only,) = gate_settings(model, paper_lut, {})
    assert (only.label, only.v_gate, only.uniform) == ("1.00 V", {"1": 1.0, "3": 1.0}, 1.0)
    (own,) = gate_settings(model, paper_lut, {}, checkpoint_v_gate={"1": 0.8, "3": 1.3})
    assert (own.label, own.v_gate, own.uniform) == ("checkpoint", {"1": 0.8, "3": 1.3}, None)
    # a sweep value equal to the given setting is evaluated once
    labels = [s.label for s in gate_settings(model, paper_lut, {}, 0.8, "0.8:0.9:0.1")]
    assert labels == ["0.80 V", "0.90 V"]


def test_deploy_refuses_user_mistakes_with_toolkit_errors(
    paper_lut_path: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="energy_samples must be >= 1"):
        deploy(tmp_path / "never.pt", paper_lut_path, energy_samples=0, progress=False)
    plain = tmp_path / "mlp.pt"
    torch.save(build_model("mlp", 10, 1, 8).state_dict(), plain)
    no_region = tmp_path / "no-region.h5"
    shutil.copy(paper_lut_path, no_region)
    with h5py.File(no_region, "r+") as f:
        del f["linear_region"]
    with pytest.raises(LUTError, match="no linear_region; run 'neat fit'"):
        deploy(plain, no_region, model_name="mlp", progress=False)


def test_weight_scales_naming_unknown_layers_are_a_checkpoint_error(
    paper_lut_path: Path, tmp_path: Path
) -> None:
    from neatxbar.training.checkpoint import save_checkpoint

    model = build_model("mlp", 10, 1, 8)
    header = {
        "model": "mlp",
        "dataset": "digits",
        "num_classes": 10,
        "in_channels": 1,
        "image_size": 8,
        "weight_scales": {"9": 1.0},
    }
    path = save_checkpoint(tmp_path / "neat.pt", model, header)
    with pytest.raises(CheckpointError, match="weight_scales name layers the model does not"):
        deploy(path, paper_lut_path, samples=4, energy_samples=4, progress=False)


def test_energy_over_chunks_equals_one_run(paper_lut: CellLUT) -> None:
    twin = convert(_mlp(), paper_lut, MappingConfig(), v_gate=0.8).eval()
    x = torch.rand(10, 1, 8, 8)
    config = EnergyConfig()
    with torch.no_grad():
        whole = model_energy(twin, x, config)
        merged = chunked_energy(twin, x, config, chunk=3)  # 3 + 3 + 3 + 1 inputs
    assert merged.batch_size == 10 and merged.baseline_v_gate == whole.baseline_v_gate
    for ours, theirs in ((merged.layers, whole.layers), (merged.baseline, whole.baseline)):
        for a, b in zip(ours, theirs, strict=True):
            assert (a.name, a.kind, a.v_gate) == (b.name, b.kind, b.v_gate)
            for field in ("read_j", "gate_j", "dac_j", "adc_j", "row_activations"):
                assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9)
    assert merge_energy([whole]) is whole


def _energy(name: str, v_gate: float, read_j: float) -> LayerEnergy:
    """A layer's energy per inference (J): read ``read_j``, gate a tenth of it."""
    return LayerEnergy(name, "Linear", v_gate, read_j, read_j / 10, 0.0, 0.0, 4.0, 4.0, 2.0, 1.0)


def _report(baseline_j: float) -> MapReport:
    settings = []
    for label, v in (("0.80 V", 0.8), ("1.30 V", 1.3)):
        rows = tuple(
            LayerResult(
                name,
                "Linear",
                v,
                0.5,
                0.3,
                share,
                k,
                _energy(name, v, 2e-12 * v),
                _energy(name, 1.0, baseline_j),
            )
            for name, share, k in (("1", 0.25, 3), ("3", 1.0, 1))
        )
        energy = EnergyReport(
            tuple(r.energy for r in rows), tuple(r.baseline for r in rows), 1.0, 4
        )
        settings.append(SettingResult(label, {"1": v, "3": v}, 0.9, rows, energy, 0.1))
    return MapReport(
        Path("m.pt"),
        Path("l.h5"),
        "digits",
        "mlp",
        0.95,
        360,
        4,
        1.0,
        MappingConfig(),
        "max |w|",
        {"1": 0.5, "3": 0.5},
        settings,
    )


def test_the_csv_holds_what_the_json_holds_and_the_console_one_row_per_setting() -> None:
    report = _report(baseline_j=1e-12)
    rows = list(csv.DictReader(io.StringIO(layers_csv(report))))
    assert tuple(rows[0]) == LAYER_COLUMNS and len(rows) == 4
    for row, (setting, layer) in zip(
        rows, [(s, r) for s in report.settings for r in s.layers], strict=True
    ):
        expected = {"setting": setting.label, **layer.to_dict()}
        for column in LAYER_COLUMNS:
            value = expected[column]
            assert (
                row[column] == value
                if isinstance(value, str)
                else float(row[column]) == float(value)
            ), column
    text = report_text(report).splitlines()
    assert text[0] == "m.pt: mlp on digits (360 test images), software accuracy 95.00 %"
    header, *body = text[2:]
    assert header.split()[:2] == ["setting", "V_gate"] and len(body) == 2
    assert body[0].startswith("0.80 V  ") and "0.250, 1.000" in body[0] and "3, 1" in body[0]
    # fixed decimals per column: accuracy %, its difference to software (pp), relative energy
    assert body[0].split()[4:6] == ["90.00", "-5.00"] and "1.600" in body[0].split()
    assert report.table() == report_text(report)


def test_a_missing_relative_energy_shows_as_a_dash() -> None:
    report = _report(baseline_j=0.0)  # a zero baseline: no relative energy, no saving
    assert report.settings[0].energy_relative is None
    body = report_text(report).splitlines()[3]
    assert body.split().count("-") == 2  # relative and saving


def test_write_report_writes_every_file_even_without_a_relative_energy(tmp_path: Path) -> None:
    report = _report(baseline_j=0.0)
    paths = write_report(report, tmp_path / "out", inputs=())
    assert [p.name for p in paths] == list(FILES) and report.files == paths
    assert all(p.stat().st_size > 0 for p in paths)
    assert json.loads(paths[0].read_text(encoding="utf-8"))["files"] == [str(p) for p in paths]
    assert paths[1].read_text(encoding="utf-8") == layers_csv(report)


def test_with_wires_replaces_the_configs_wires_and_checks_the_resistance(tmp_path: Path) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text(
        "[mapping]\npath = 'exact'\n[mapping.wires]\nr_row = 7.0\nr_col = 7.0\nr_driver = 4.0\n",
        encoding="utf-8",
    )
    loaded = MappingConfig.from_toml(toml)
    assert with_wires(loaded, None) is loaded  # without --wires, the file's wires stay
    wired = with_wires(loaded, 2.5)
    assert wired.wires == Wires(r_row=2.5, r_col=2.5, r_driver=0.0, r_sense=0.0)
    assert wired.path == "exact" and loaded.wires == Wires(7.0, 7.0, 4.0, 0.0)
    assert not with_wires(loaded, 0).wires.any  # 0 ohm: ideal wires
    for bad, message in (
        (-1.0, "must be >= 0"),
        (float("nan"), "must be finite"),
        (float("inf"), "must be finite"),
        ("2.5", "must be a number"),
    ):
        with pytest.raises(ConfigError, match=rf"--wires \(ohm\) {message}"):
            with_wires(MappingConfig(), bad, "--wires")  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_a_wired_report_names_the_wires_and_solver_and_leaves_them_out_of_the_energy(
    path: str,
) -> None:
    report = _report(baseline_j=1e-12)
    report.mapping = MappingConfig(path=path, wires=Wires(r_row=2.5, r_col=2.5))
    summary = json.loads(summary_json(report))  # strict JSON
    assert summary["wires"] == {
        "on": True,
        "r_row_ohm": 2.5,
        "r_col_ohm": 2.5,
        "r_driver_ohm": 0.0,
        "r_sense_ohm": 0.0,
        "path": path,
        "solver": WIRED_SOLVERS[path],
        "energy_includes_wires": False,
        "energy_note": ENERGY_WITHOUT_WIRES,
    }
    solver = "wired fast path" if path == "fast" else "reference circuit solver"
    assert WIRED_SOLVERS[path].startswith(solver)
    text = report_text(report).splitlines()
    assert text[2] == (
        "wires on: 2.5 ohm per row and per column wire segment (driver 0 ohm, sense 0 ohm); "
        + WIRED_SOLVERS[path]
    )
    assert text[3] == ENERGY_WITHOUT_WIRES and "dissipation" in text[3]
    header, *body = text[4:]
    assert header.split()[:2] == ["setting", "V_gate"] and len(body) == 2
    short = "wired fast path" if path == "fast" else "reference solver"
    accuracy_title = figures.accuracy_figure(report).axes[0].get_title()
    energy_title = figures.energy_figure(report).axes[0].get_title()
    assert f"2.5 ohm per row and column segment ({short})" in accuracy_title
    assert "leave out the wires' dissipation" in energy_title and short in energy_title


def test_a_wire_free_report_records_no_wires_and_prints_none() -> None:
    report = _report(baseline_j=1e-12)
    record = report.to_dict()["wires"]
    assert record["on"] is False and record["r_row_ohm"] == record["r_col_ohm"] == 0.0
    assert record["solver"] is None and record["energy_note"] is None
    assert "wires" not in report_text(report)
    assert "wires" not in figures.energy_figure(report).axes[0].get_title()
