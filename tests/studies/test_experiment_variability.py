"""The experiment's "Variability" section: naive, NEAT (reused) and noise-aware models over
sampled chips at two temperatures of a LUT with a threshold-shift axis (ngspice, the `quick`
grid with 27 and 85 C and three shifts), small; and its configuration errors."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset, parse_spec
from neatxbar.cli.main import cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

VARIATION_AXES = """
[temperature]
values_c = [27.0, 85.0]

[mismatch]
num = 3
span_sigma = 3.0
"""

CONFIG = """
[experiment]
name = "tiny-variability"
dataset = "digits"
model = "mlp"
lut = "{lut}"
v_gates = [0.75, 1.0]
neat_v_gates = [0.75]
bn_recalibration = false
selection_samples = 32
variability_chips = 3
variability_seed = 4
variability_v_gates = [0.75, 1.0]
variability_temperatures_c = [27.0, 85.0]
programming_sigma = 0.05
mismatch = 1.0
variability_samples = 120

[train]
epochs = 4
device = "cpu"

[neat]
iterations = 1
epochs_per_iteration = 1
lr = 1e-3
device = "cpu"

[noise_aware]
iterations = 1
epochs_per_iteration = 1
lr = 1e-4
clip = true
hardware_in_the_loop = true
device = "cpu"
"""


@pytest.fixture(scope="module")
def variation_lut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `quick` grid at 27 and 85 C with three threshold shifts (+-3 sigma) and a stated
    A_Vt, characterized by ngspice."""
    _, text = load_preset("quick")
    text = text.replace(
        "[transistor.model_params]",
        'a_vt_mv_um = 2.5\na_vt_source = "test value"\n\n[transistor.model_params]',
    )
    text += VARIATION_AXES
    spec = parse_spec(text)
    path = tmp_path_factory.mktemp("lut") / "variation.h5"
    assert characterize(spec, text, path, workers=1, progress=False).complete
    return path


def _run(config: Path, out: Path):
    args = ["report", "experiment", "--config", str(config), "--out", str(out), "--no-progress"]
    return CliRunner().invoke(cli, args)


@pytest.fixture(scope="module")
def experiment(variation_lut: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("experiment")
    config = base / "tiny.toml"
    config.write_text(CONFIG.format(lut=variation_lut))
    out = base / "out"
    result = _run(config, out)
    assert result.exit_code == 0, result.output
    return out


def test_the_section_has_every_model_temperature_and_chip(experiment: Path) -> None:
    results = json.loads((experiment / "results.json").read_text())
    section = results["variability"]
    assert section["variation"]["programming_sigma"] == 0.05
    assert section["variation"]["mismatch"] == 1.0 and section["sigma_vt_v"] > 0
    assert section["images"] == 120
    keys = [(r["v_gate"], r["temperature_c"], r["model"]) for r in section["rows"]]
    # NEAT ran at 0.75 V only: naive, NEAT and noise-aware there; naive alone at 1.0 V
    assert keys == [
        (0.75, 27.0, "naive"),
        (0.75, 27.0, "neat"),
        (0.75, 27.0, "noise_aware"),
        (0.75, 85.0, "naive"),
        (0.75, 85.0, "neat"),
        (0.75, 85.0, "noise_aware"),
        (1.0, 27.0, "naive"),
        (1.0, 85.0, "naive"),
    ]
    assert any("1.00 V: NEAT did not run" in note for note in section["notes"])
    for row in section["rows"]:
        assert row["seeds"] == [4, 5, 6] and len(row["accuracies"]) == 3
        assert all(0.0 <= a <= 1.0 for a in row["accuracies"] + [row["nominal"]])
        assert row["mean"] == pytest.approx(statistics.fmean(row["accuracies"]))
        assert row["std"] == pytest.approx(statistics.stdev(row["accuracies"]))
        assert row["worst"] == min(row["accuracies"]) and row["best"] == max(row["accuracies"])
    # the temperature changes the cell: the chips' accuracies are not all the same at 85 C
    by_key = {(r["v_gate"], r["temperature_c"], r["model"]): r for r in section["rows"]}
    assert any(
        by_key[(v, 27.0, m)]["accuracies"] != by_key[(v, 85.0, m)]["accuracies"] for v, _, m in keys
    )
    # NEAT's checkpoint is reused, the noise-aware one saved beside it
    assert (experiment / "neat-0.75.pt").exists() and (experiment / "noise-aware-0.75.pt").exists()
    assert not (experiment / "noise-aware-1.00.pt").exists()


def test_the_report_has_the_section_and_its_figure(experiment: Path) -> None:
    report = (experiment / "report.md").read_text()
    section = report[report.index("## Variability") : report.index("## The paper")]
    assert "3 sampled chips (seeds 4..6)" in section
    assert "programming sigma 5 % (gaussian)" in section and "threshold mismatch 1 x" in section
    for text in ("mean over chips (%)", "std (pp)", "worst chip (%)", "nominal chip (%)"):
        assert text in section
    assert section.count("| noise-aware (NEAT fine-tuned, a chip per step) |") == 2
    assert section.count("| naive mapping |") == 4
    assert "![accuracy over sampled chips](variability.png)" in section
    assert (experiment / "variability.png").read_bytes()[:8] == PNG_SIGNATURE


def test_without_chips_there_is_no_section(tmp_path: Path, variation_lut: Path) -> None:
    from neatxbar.studies.experiment import ExperimentConfig

    config = tmp_path / "plain.toml"
    config.write_text(
        CONFIG.format(lut=variation_lut).replace("variability_chips = 3", "variability_chips = 0")
    )
    spec = ExperimentConfig.from_toml(config).experiment
    assert not spec.variability


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("variability_chips = 3", "variability_chips = -1"), "variability_chips must be >= 0"),
        (("variability_seed = 4", "variability_seed = -4"), "variability_seed must be >= 0"),
        (
            ("variability_v_gates = [0.75, 1.0]", "variability_v_gates = [0.8]"),
            "0.8 V is not one of v_gates",
        ),
        (
            ("variability_v_gates = [0.75, 1.0]", "variability_v_gates = []"),
            "variability_v_gates must name at least one",
        ),
        (("programming_sigma = 0.05", "programming_sigma = -0.05"), "programming_sigma"),
        (("mismatch = 1.0", "mismatch = -1.0"), "mismatch"),
        (
            ("variability_temperatures_c = [27.0, 85.0]", "variability_temperatures_c = []"),
            "variability_temperatures_c must be a non-empty list",
        ),
        (
            (
                "variability_temperatures_c = [27.0, 85.0]",
                "variability_temperatures_c = [27.0, 60.0]",
            ),
            "60",
        ),
        (("variability_samples = 120", "variability_samples = 0"), "variability_samples"),
        (
            ("variability_samples = 120", "variability_samples = 120\ntemperature_c = 60.0"),
            "no 60 degC",
        ),
        (
            (
                "clip = true\nhardware_in_the_loop = true",
                "clip = true\nhardware_in_the_loop = false",
            ),
            "noise_aware.hardware_in_the_loop",
        ),
    ],
    ids=[
        "negative-chips",
        "negative-seed",
        "gate-not-in-v-gates",
        "no-gates",
        "negative-sigma",
        "negative-mismatch",
        "no-temperatures",
        "temperature-not-in-the-lut",
        "no-samples",
        "experiment-temperature-not-in-the-lut",
        "noise-aware-without-emulation",
    ],
)
def test_bad_variability_settings_exit_2_with_one_line(
    tmp_path: Path, variation_lut: Path, change: tuple[str, str], message: str
) -> None:
    text = CONFIG.format(lut=variation_lut)
    assert change[0] in text
    config = tmp_path / "bad.toml"
    config.write_text(text.replace(*change))
    out = tmp_path / "out"
    result = _run(config, out)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (out / "software.pt").exists()


def test_the_report_says_its_temperature_and_the_option_replaces_the_configs(
    experiment: Path, variation_lut: Path, tmp_path: Path
) -> None:
    assert f"LUT `{variation_lut}` (tolerance" in (experiment / "report.md").read_text()
    assert "at 27 C. NEAT:" in (experiment / "report.md").read_text()
    config = tmp_path / "hot.toml"
    text = CONFIG.format(lut=variation_lut).replace(
        "variability_chips = 3", "variability_chips = 0"
    )
    config.write_text(text.replace("neat_v_gates = [0.75]", "neat_v_gates = []"))
    run = ["report", "experiment", "--config", str(config), "--no-progress", "--temperature"]
    result = CliRunner().invoke(cli, [*run, "85", "--out", str(tmp_path / "hot")])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "hot" / "report.md").read_text()
    assert "at 85 C. NEAT:" in report
    bad = CliRunner().invoke(cli, [*run, "60", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "no 60 degC" in bad.stderr, bad.output
