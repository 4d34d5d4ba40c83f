"""`neat report experiment`: the digits experiment end to end, small, and its resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from neatxbar.cli.main import cli
from neatxbar.training.data import load_dataset

CONFIG = """
[experiment]
name = "tiny"
dataset = "digits"
model = "mlp"
lut_preset = "quick"
v_gates = [0.75, 1.0]
neat_v_gates = [0.75]
accuracy_budget = 0.01
wire_ohm = 2.5
wire_v_gates = [1.0, 0.75]

[train]
epochs = 6
device = "cpu"

[neat]
iterations = 1
epochs_per_iteration = 1
lr = 1e-3
device = "cpu"
"""


def _run(config: Path, out: Path, *extra: str):
    args = ["report", "experiment", "--config", str(config), "--out", str(out), "--no-progress"]
    return CliRunner().invoke(cli, [*args, *extra])


def test_experiment_writes_a_report_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(CONFIG)
    out = tmp_path / "out"
    first = _run(config, out)
    assert first.exit_code == 0, first.output
    assert "| software (ideal float) |" in first.output and "report:" in first.output
    report = (out / "report.md").read_text()
    assert "all layers at 0.75 V" in report and "data-driven per layer" in report
    for figure in ("accuracy_vs_vgate.png", "energy_vs_vgate.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((out / "results.json").read_text())
    assert 0.5 < results["software"] <= 1.0
    by_label = {s["label"]: s for s in results["settings"]}
    assert by_label["all layers at 1.00 V"]["saving_naive"] == 0.0
    assert by_label["all layers at 0.75 V"]["saving_naive"] > 0.0
    assert by_label["all layers at 0.75 V"]["neat"] is not None
    assert by_label["all layers at 1.00 V"]["neat"] is None  # NEAT only at 0.75 V
    # With wires, on the whole test set (wire_samples unset): naive everywhere, NEAT (its model
    # trained without wires) where it ran without wires; no energy.
    wired = {s["label"]: s for s in results["settings"] if s["wires"] is not None}
    assert list(wired) == [
        "all layers at 1.00 V, 2.5-ohm wires",
        "all layers at 0.75 V, 2.5-ohm wires",
        "data-free per layer, 2.5-ohm wires",
    ]
    test_images = len(load_dataset("digits", seed=0).test)
    for label, setting in wired.items():
        without = by_label[setting["wires"]["without"]]
        assert setting["gates"] == without["gates"] and 0 <= setting["naive"] <= 1
        assert (setting["neat"] is None) == (without["neat"] is None), label
        assert setting["wires"] == {
            "ohm": 2.5,
            "images": test_images,
            "whole_test_set": True,
            "path": "fast",
            "without": without["label"],
        }
        assert f"whole test set ({test_images} images), wired fast path" in setting["note"]
        assert "energy not modelled" in setting["note"] and setting["saving_naive"] is None
    assert wired["all layers at 0.75 V, 2.5-ohm wires"]["neat"] is not None
    assert wired["all layers at 1.00 V, 2.5-ohm wires"]["neat"] is None
    assert wired["data-free per layer, 2.5-ohm wires"]["neat"] is not None
    # The report's section: naive and NEAT without and with wires, side by side.
    section = report[report.index("## Wire resistance") : report.index("## The paper")]
    assert report.index("| software (ideal float)") < report.index("## Wire resistance")
    assert "NEAT, no wires (%) | NEAT, with wires (%)" in section
    assert section.count("| wired fast path |") == 3 and f"| {test_images} |" in section
    # A rerun reuses the LUT and the checkpoints and gives the same numbers.
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pt")} | {
        "lut.h5": (out / "lut.h5").stat().st_mtime_ns
    }
    again = _run(config, out)
    assert again.exit_code == 0, again.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.pt")} | {
        "lut.h5": (out / "lut.h5").stat().st_mtime_ns
    } == stamps
    assert json.loads((out / "results.json").read_text()) == results
    # Another config into the same folder is refused, unless --overwrite.
    config.write_text(CONFIG.replace("epochs = 6", "epochs = 5"))
    refused = _run(config, out)
    assert refused.exit_code == 2 and refused.output.strip().count("\n") == 0
    assert "another experiment config" in refused.output


BN_CONFIG = """
[experiment]
name = "tiny-bn"
dataset = "digits"
model = "cnn-bn"
lut_preset = "quick"
v_gates = [0.75, 1.0]
neat_v_gates = [0.75]
emulation_v_gates = [0.75]
calibration_samples = 128
selection_samples = 32

[train]
epochs = 2
device = "cpu"

[neat]
iterations = 2
epochs_per_iteration = 1
lr = 1e-3
device = "cpu"

[emulation]
iterations = 1
epochs_per_iteration = 1
lr = 1e-3
clip = false
hardware_in_the_loop = true
device = "cpu"
"""


def test_batchnorm_emulation_and_logs_reach_the_report(tmp_path: Path) -> None:
    config = tmp_path / "bn.toml"
    config.write_text(BN_CONFIG)
    out = tmp_path / "out"
    result = _run(config, out)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    by_label = {s["label"]: s for s in results["settings"]}
    low, high = by_label["all layers at 0.75 V"], by_label["all layers at 1.00 V"]
    for value in (low["naive_bn"], low["neat"], low["neat_bn"], low["emulation"], high["naive_bn"]):
        assert 0.0 <= value <= 1.0
    assert high["neat"] is None and high["emulation"] is None  # asked only at 0.75 V
    assert low["energy_pj"]["total"] < low["energy_pj"]["baseline"]
    parts = ("read", "gate", "dac", "adc")
    assert abs(sum(low["energy_pj"][p] for p in parts) - low["energy_pj"]["total"]) < 1e-6
    # The per-iteration logs: NEAT's two iterations (linear share per layer) and the emulation's.
    logs = {log["label"]: log for log in results["logs"]}
    assert set(logs) >= {"neat-0.75", "emulation-0.75", "neat-data-free"}
    assert len(logs["neat-0.75"]["accuracy"]) == 2 and len(logs["emulation-0.75"]["accuracy"]) == 1
    layers = ["0", "3", "8"]
    assert list(logs["neat-0.75"]["share"][-1]) == layers
    assert all(share == 1.0 for share in logs["neat-0.75"]["share"][-1].values())  # clipped
    # The per-layer gate figure's data: a gate voltage for every crossbar layer, on the grid.
    for label, setting in by_label.items():
        if "per layer" in label:
            assert list(setting["gates"]) == layers
            assert all(0.7 - 1e-9 <= v <= 1.0 + 1e-9 for v in setting["gates"].values())
    report = (out / "report.md").read_text()
    assert report.index("| software (ideal float)") < report.index("## The paper and this run")
    assert "NEAT improves ResNet18" in report and "trained through the emulation" in report
    for figure in ("accuracy_vs_vgate.png", "neat_iterations.png", "gates_per_layer.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_experiment_configs_exit_2_with_one_line(tmp_path: Path) -> None:
    cases = {
        "malformed.toml": "[experiment\nname = 1",
        "unknown.toml": CONFIG + "\nbogus = 1\n",
        "offgrid.toml": CONFIG.replace("[0.75, 1.0]", "[0.77]"),
        "model.toml": CONFIG.replace('model = "mlp"', 'model = "transformer"'),
        "neat-both.toml": CONFIG.replace(
            "accuracy_budget", "neat_v_gates = [0.75]\nneat_when_loss = 0.02\naccuracy_budget"
        ),
        "neat-loss.toml": CONFIG.replace(
            "accuracy_budget", "neat_when_loss = 1.5\naccuracy_budget"
        ),
        "emulation-off-grid.toml": CONFIG.replace(
            "accuracy_budget", "emulation_v_gates = [0.8]\naccuracy_budget"
        ),
        "wire-not-in-v-gates.toml": CONFIG.replace("[1.0, 0.75]", "[0.8]"),
        "wire-without-ohm.toml": CONFIG.replace("wire_ohm = 2.5", "wire_ohm = 0.0"),
        "wire-samples.toml": CONFIG.replace("wire_ohm = 2.5", "wire_ohm = 2.5\nwire_samples = 0"),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        result = _run(path, tmp_path / f"out-{name}")
        assert result.exit_code == 2, (name, result.output)
        assert result.output.startswith("error:") and result.output.strip().count("\n") == 0
        assert not (tmp_path / f"out-{name}").exists(), name  # nothing written
    missing = _run(tmp_path / "missing.toml", tmp_path / "o")
    assert missing.exit_code == 2
    both = tmp_path / "both.toml"
    both.write_text(CONFIG.replace('lut_preset = "quick"', 'lut_preset = "quick"\nlut = "x.h5"'))
    refused = _run(both, tmp_path / "o")
    assert refused.exit_code == 2 and "not both" in refused.output


TINY_WITH_LUT = """
[experiment]
name = "tiny-lut"
model = "mlp"
lut = "{lut}"
v_gates = [1.0]

[train]
epochs = {epochs}
device = "cpu"

[neat]
iterations = 1
epochs_per_iteration = 1
device = "cpu"
"""


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_lut_file_and_overwrite_in_the_current_folder_keep_the_users_files(
    tmp_path: Path, paper_lut_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lut = "path.h5"`` works (it was refused: "give exactly one of lut or lut_preset"), and
    ``--out . --overwrite`` removes only the earlier run's files (it deleted the whole folder)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "notes.txt").write_text("a user's notes")
    (work / "thesis").mkdir()
    (work / "thesis" / "chapter.tex").write_text("a user's chapter")
    user = _tree(work)
    config = tmp_path / "tiny-lut.toml"
    config.write_text(TINY_WITH_LUT.format(lut=paper_lut_path, epochs=1))
    first = _run(config, Path("."))
    assert first.exit_code == 0, first.output
    assert not (work / "lut.h5").exists()  # the LUT file given is used, not characterized
    assert str(paper_lut_path) in (work / "report.md").read_text()
    written = json.loads((work / ".neat-outputs.json").read_text())["files"]
    assert {"experiment.json", "software.pt", "results.json", "report.md"} <= set(written)
    old = (work / "software.pt").read_bytes()
    config.write_text(TINY_WITH_LUT.format(lut=paper_lut_path, epochs=2))
    assert _run(config, Path(".")).exit_code == 2  # another config: refused without --overwrite
    again = _run(config, Path("."), "--overwrite")
    assert again.exit_code == 0, again.output
    tree = _tree(work)
    assert {k: tree[k] for k in user} == user  # the user's file and sub-folder survive
    assert tree["software.pt"] != old  # the earlier run's files were replaced
    assert not [name for name in tree if ".neat-staging" in name or name.endswith(".tmp")]
