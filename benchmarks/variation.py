"""Forward time of the fast path with device variation and transistor mismatch.

The digits ResNet18 (``build_model("resnet18", 10, 1, 8)``, random weights: time does not depend
on them), batch 256, float32, inference, fast path at V_gate 0.8 V on the `paper` LUT, CPU with 2
threads: the forward time without variation against the same model on one chip with 5 %
programming variation and the card's transistor mismatch (``mismatch = 1.0``), and with read noise
(2 %) on top. The once-per-chip work (draws, shifted a_k, weight-side matrices) is the first
forward after ``set_chip``, timed apart; the forward time is the median of the forwards after it.
Target: with variation and mismatch <= 3x the forward without them.

Run: ``.venv/bin/python benchmarks/variation.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import statistics
import time

import torch
from _lut import paper_lut  # benchmarks/_lut.py, beside this script
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.mapping import MappingConfig, Variation, convert, set_chip
from neatxbar.mapping.layers import _CrossbarMapping
from neatxbar.training.models import build_model

V_GATE = 0.8
BATCH = 256
REPEATS = 7
CASES = (
    ("no variation", Variation()),
    ("programming 5 % + mismatch 1.0", Variation(programming_sigma=0.05, mismatch=1.0)),
    (
        "programming 5 % + mismatch 1.0 + read noise 2 %",
        Variation(programming_sigma=0.05, mismatch=1.0, read_noise_sigma=0.02),
    ),
)


def _time(model: torch.nn.Module, x: torch.Tensor) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        model(x)
    return time.perf_counter() - start


def _products(model: torch.nn.Module) -> str:
    forms = {
        (m.cell_form.rank, m.cell_form.n_terms)
        for m in model.modules()
        if isinstance(m, _CrossbarMapping)
    }
    return ", ".join(f"K={k}, {n} products" for k, n in sorted(forms))


def main() -> None:
    torch.set_num_threads(2)
    lut = paper_lut()
    torch.manual_seed(0)
    model = build_model("resnet18", 10, 1, 8).eval()
    x = torch.randn(BATCH, 1, 8, 8)
    rows, base = [], None
    for name, variation in CASES:
        twin = convert(model, lut, MappingConfig(v_gate=V_GATE, variation=variation)).eval()
        _time(twin, x)  # forms fitted, caches warm
        set_chip(twin, 1)
        once = _time(twin, x)  # the once-per-chip work and one forward
        forward = statistics.median(_time(twin, x) for _ in range(REPEATS))
        base = forward if base is None else base
        rows.append(
            (
                name,
                _products(twin),
                f"{max(once - forward, 0.0) * 1e3:.0f}",
                f"{forward * 1e3:.1f}",
                f"{forward / base:.2f}x",
            )
        )
    caption = (
        f"Digits ResNet18, batch {BATCH}, float32, fast path at V_gate {V_GATE} V, `paper` LUT "
        f"(sigma_vt {lut.sigma_vt_v * 1e3:.2f} mV, delvto grid {lut.shift_grid.numel()} points), "
        f"CPU 2 threads; median of {REPEATS} forwards after the once-per-chip work (timed apart). "
        "Target: variation + mismatch <= 3x the forward without."
    )
    header = ("variation", "fast path", "once per chip (ms)", "forward (ms)", "vs no variation")
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
