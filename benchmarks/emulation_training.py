"""Cost of training through the crossbar emulation (fast path, train mode) against the ideal model.

One SGD step (forward, backward, update; batch 64, float32, CPU, 1 thread) of ResNet18 in its
CIFAR form adapted to 1 x 8 x 8 digits, converted with fixed per-layer weight scales (as NEAT
does), at V_gate 0.70 V (K = 4, polynomial degree 7: not the power basis), 0.75 V and 1.0 V on the
`paper` LUT. Two ways of building the weight side, which training rebuilds at every step:
"conductance lookup" (a_k at G+ and G-, their difference, the change of basis: the definition,
``fast_weight_matrices(reference=True)``) and "pair table" (one lookup of the signed programmed
fraction in a per-layer table, the default). Times are medians over a few steps, relative to the
ideal model's step in the same run; the ideal step is timed again beside every variant (the ratio
uses the ideal step next to it), so a shared machine's load affects both alike. One thread: with
two threads on a loaded 2-core machine, OpenMP's waiting made the ideal step 10x slower.

Run: ``.venv/bin/python benchmarks/emulation_training.py`` (about 2 minutes).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partialmethod
from unittest import mock

import torch
from _lut import paper_lut  # benchmarks/_lut.py, beside this script
from _results import publish  # benchmarks/_results.py, beside this script
from torch import nn

from neatxbar.mapping import MappingConfig, convert, crossbar_layers
from neatxbar.mapping.layers import _CrossbarMapping
from neatxbar.training.models import build_model

torch.set_num_threads(1)
BATCH = 64
GATES = (0.70, 0.75, 1.0)
STEPS = 3  # timed steps per variant, after one warm-up step


def _step_seconds(model: nn.Module, steps: int = STEPS) -> float:
    """Median seconds of one training step (forward, backward, SGD update) of ``model``."""
    torch.manual_seed(0)
    x, y = torch.randn(BATCH, 1, 8, 8), torch.randint(0, 10, (BATCH,))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    model.train()
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def _reference_weight_side() -> mock._patch:
    """Patch the layers to build their weight side the reference way (the old code path)."""
    build: Callable = _CrossbarMapping.fast_weight_matrices
    return mock.patch.object(
        _CrossbarMapping, "fast_weight_matrices", partialmethod(build, reference=True)
    )


def main() -> None:
    lut = paper_lut()
    torch.manual_seed(0)
    model = build_model("resnet18", 10, 1, 8)
    scales = {
        name: float(layer.weight.detach().abs().max())
        for name, layer in crossbar_layers(model).items()
    }
    n_weights = sum(layer.weight.numel() for layer in crossbar_layers(model).values())
    ideals = [_step_seconds(model)]
    rows: list[list[object]] = [["ideal (float model)", "-", f"{ideals[0]:.3f}", "1.0"]]
    for v_gate in GATES:
        form = lut.separable(v_gate)
        twin = convert(model, lut, MappingConfig(), v_gate=v_gate, weight_scales=scales)
        for label, patch in (
            ("conductance lookup (before)", _reference_weight_side()),
            ("pair table (after)", None),
        ):
            if patch is None:
                seconds = _step_seconds(twin)
            else:
                with patch:
                    seconds = _step_seconds(twin)
            ideal = _step_seconds(model)
            ideals.append(ideal)
            rows.append(
                [
                    f"{v_gate:.2f} V, K = {form.rank}, degree {form.degree}: {label}",
                    str(form.n_terms),
                    f"{seconds:.3f}",
                    f"{seconds / ideal:.1f}",
                ]
            )
    caption = (
        f"Training step (forward + backward + SGD, batch {BATCH}, float32, CPU, 1 thread) of "
        f"ResNet18-digits (1 x 8 x 8 inputs, {n_weights / 1e6:.1f} M crossbar weights), fast "
        "path in train mode, against the ideal model's step timed beside it (ideal: "
        f"{min(ideals):.3f} to {max(ideals):.3f} s over the run)."
    )
    publish(
        __file__,
        caption,
        ["model / weight side", "matrix products per layer", "s per step", "x ideal"],
        rows,
    )


if __name__ == "__main__":
    main()
