"""The main job over 3 seeds: ResNet18 (CIFAR form, 1 x 8 x 8) on the digits with the `paper` LUT.

Runs ``configs/experiment-digits.toml`` (the experiment behind ``make demo``) once per seed
(seed = the dataset split, the software model and NEAT's shuffling) and reports, per homogeneous
gate voltage, the mean and the spread (min-max) of: naive mapping, naive + BatchNorm
re-estimation, NEAT, NEAT + BatchNorm re-estimation, training through the emulation, and the
energy saving against 1.0 V; then the per-layer (heterogeneous) settings.

Run: ``.venv/bin/python benchmarks/neat_resnet18_digits.py`` (about 20 minutes on 2 cores;
``--seeds 0 1`` for fewer). ``--paper-row`` adds NEAT with the paper's own settings (N = 30
iterations, Adam lr 1e-5) at 0.75 V on seed 0 (about 5 minutes more).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.studies.experiment import ExperimentConfig, run_experiment

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "experiment-digits.toml"
METHODS = (
    ("naive", "naive"),
    ("naive_bn", "naive + BN"),
    ("neat", "NEAT"),
    ("neat_bn", "NEAT + BN"),
    ("emulation", "emulation-trained"),
)


def _stat(values: list[float | None], scale: float = 100) -> str:
    """Mean and min-max spread in percent, or '-' when no seed has a value."""
    values = [scale * v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def _run(config: ExperimentConfig, seed: int, out: Path) -> tuple[dict, float]:
    exp = dataclasses.replace(config.experiment, seed=seed, name=f"seed{seed}")
    neat = dataclasses.replace(config.neat, seed=seed)
    seeded = dataclasses.replace(config, experiment=exp, neat=neat)
    start = time.perf_counter()
    result = run_experiment(seeded, out / f"seed{seed}", progress=False)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--paper-row", action="store_true")
    args = parser.parse_args()
    config = ExperimentConfig.from_toml(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_run(config, seed, Path(tmp)) for seed in args.seeds]
        paper = _paper_row(config, Path(tmp)) if args.paper_row else None
    results = [r for r, _ in runs]
    rows = [["software", _stat([r.software for r in results]), *["-"] * len(METHODS)]]
    for k, setting in enumerate(results[0].settings):
        same = [r.settings[k] for r in results]
        rows.append(
            [
                setting.label if "per layer" not in setting.label else setting.label.split(":")[0],
                *[_stat([getattr(s, attr) for s in same]) for attr, _ in METHODS],
                _stat([s.saving_naive for s in same]),
            ]
        )
    if paper is not None:
        rows.append(
            [
                "all layers at 0.75 V, NEAT as the paper (N = 30, lr 1e-5), seed 0",
                "-",
                "-",
                f"{100 * paper:.1f}",
                "-",
                "-",
                "-",
            ]
        )
    seconds = ", ".join(f"{s:.0f} s" for _, s in runs)
    caption = (
        f"ResNet18 on the digits, `paper` LUT, config `configs/experiment-digits.toml`, seeds "
        f"{args.seeds}: test accuracy (%) as mean (min-max) over the seeds that ran it (NEAT runs "
        f"where the naive mapping loses more than 2 points), and the naive mapping's energy "
        f"saving against 1.0 V (%). Time per seed: {seconds}."
    )
    header = ["setting", *[name for _, name in METHODS], "energy saving"]
    publish(__file__, caption, header, rows)


def _paper_row(config: ExperimentConfig, tmp: Path) -> float:
    """NEAT with the paper's settings at 0.75 V on seed 0 (no BN re-estimation)."""
    exp = dataclasses.replace(
        config.experiment,
        v_gates=[0.75, 1.0],
        neat_v_gates=[0.75],
        emulation_v_gates=[],
        bn_recalibration=False,
        name="paper-row",
    )
    neat = dataclasses.replace(config.neat, iterations=30, lr=1e-5)
    result = run_experiment(
        dataclasses.replace(config, experiment=exp, neat=neat), tmp / "paper", progress=False
    )
    return result.settings[0].neat or 0.0


if __name__ == "__main__":
    main()
