"""Speed and memory of the crossbar emulation against the ideal float model, and against ngspice.

Forward times (CPU, 2 threads, float32, inference) of crossbar-converted models relative to the
same model in plain torch: the fast path at V_gate 1.0 and 0.8 V, the fast path with 64 x 64 tiles
and an 8-bit ADC, the exact path, and a naive elementwise evaluation that materialises the
(batch, rows, cols) cell currents of each layer. Peak memory of one forward (RSS growth, each
variant in a fresh process). Emulation vs ngspice per 64 x 64 MVM.

Run: ``.venv/bin/python benchmarks/emulation.py`` (about 3 minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.characterize.runner import characterize
from neatxbar.characterize.spec import load_preset
from neatxbar.lut import CellLUT
from neatxbar.mapping import Crossbar, MappingConfig, convert
from neatxbar.spice import crossbar_column_currents, crossbar_column_currents_batch
from neatxbar.training.models import build_model

WORKLOADS = {  # name: (model factory, input shape)
    "MLP 256-512-512-10, batch 256": (lambda: _mlp(), (256, 256)),
    "digits MLP 64-256-256-10, batch 256": (lambda: build_model("mlp", 10, 1, 8), (256, 1, 8, 8)),
    "ResNet18 CIFAR, batch 32": (lambda: build_model("resnet18", 10, 3, 32), (32, 3, 32, 32)),
}
VARIANTS = {
    "fast, 1.0 V": {"v_gate": 1.0},
    "fast, 0.8 V": {"v_gate": 0.8},
    "fast, 1.0 V, 64x64 tiles, 8-bit ADC": {"v_gate": 1.0, "adc_bits": 8, "adc_range": 0.25},
    "exact, 1.0 V": {"v_gate": 1.0, "path": "exact"},
}


def _mlp() -> torch.nn.Module:
    from torch import nn

    return nn.Sequential(
        nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


class NaiveLinear(torch.nn.Module):
    """Sum_i I(G_ij, V_i) with the whole (batch, rows, cols) tensor at once: what not to do."""

    def __init__(self, layer: torch.nn.Linear, lut: CellLUT) -> None:
        super().__init__()
        self.layer, self.lut = layer, lut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.layer.weight.t()
        scale = w.abs().max()
        g_min, g_max = self.lut.g_min_s, self.lut.g_on_s
        gp = g_min + (g_max - g_min) * (w / scale).clamp_min(0)
        gn = g_min + (g_max - g_min) * (-w / scale).clamp_min(0)
        x_scale = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        v = (x.abs() / x_scale * self.lut.v_max).unsqueeze(-1)
        s = torch.sign(x).unsqueeze(-1)
        cells = self.lut.current(gp, v, 1.0, extrapolate="clamp")
        cells = cells - self.lut.current(gn, v, 1.0, extrapolate="clamp")
        out = (s * cells).sum(1) * x_scale * scale / ((g_max - g_min) * self.lut.v_max)
        return out + self.layer.bias


def _naive(model: torch.nn.Module, lut: CellLUT) -> torch.nn.Module:
    for name, module in list(model.named_children()):
        if isinstance(module, torch.nn.Linear):
            setattr(model, name, NaiveLinear(module, lut))
    return model


def _build(workload: str, variant: str, lut: CellLUT) -> torch.nn.Module:
    torch.manual_seed(0)
    model = WORKLOADS[workload][0]().eval()
    if variant == "ideal":
        return model
    if variant == "naive":
        return _naive(model, lut)
    return convert(model, lut, MappingConfig(**VARIANTS[variant])).eval()


def _time(model: torch.nn.Module, x: torch.Tensor, budget_s: float = 3.0) -> float:
    """Median seconds per forward over repeats that fit into ``budget_s``."""
    with torch.no_grad():
        start = time.perf_counter()
        model(x)  # warm up (and cache the weight side)
        first = time.perf_counter() - start
        repeats = int(max(1, min(20, budget_s / max(first, 1e-4))))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def _peak_memory(lut_path: str, workload: str, variant: str) -> float:
    """Peak memory (MiB) that one forward adds, measured in a fresh process.

    Every allocation above 64 KiB is its own mapping there (glibc's mmap threshold), so freed
    tensors leave the resident set at once and its peak (VmHWM, reset before the forward) is the
    peak of live tensors: activations, and the fast path's input terms.
    """
    code = f"""
import json, torch, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import emulation as e
from neatxbar.lut import CellLUT
torch.set_num_threads(2)
lut = CellLUT.load({lut_path!r})
model = e._build({workload!r}, {variant!r}, lut)
x = torch.randn(*e.WORKLOADS[{workload!r}][1])
def status(key):
    line = next(l for l in open('/proc/self/status') if l.startswith(key))
    return int(line.split()[1]) * 1024
with torch.no_grad():
    model(x)  # warm up: weights and cached weight-side matrices are allocated now
    open('/proc/self/clear_refs', 'w').write('5')  # reset the peak (VmHWM) to the current RSS
    before = status('VmRSS')
    model(x)
print(json.dumps((status('VmHWM') - before) / 2**20))
"""
    env = os.environ | {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def _forward_rows(lut: CellLUT, lut_path: str) -> list[tuple[str, ...]]:
    rows = []
    for workload, (_, shape) in WORKLOADS.items():
        x = torch.randn(*shape)
        ideal = _time(_build(workload, "ideal", lut), x)
        ideal_mem = max(_peak_memory(lut_path, workload, "ideal"), 1e-3)
        rows.append(
            (
                workload,
                "ideal float model",
                f"{ideal * 1e3:.2f} ms",
                "1.00",
                f"{ideal_mem:.1f} MiB",
                "1.00",
            )
        )
        variants = list(VARIANTS) + (["naive"] if "MLP" in workload else [])
        for variant in variants:
            if variant.startswith("exact") or variant == "naive":
                # The cell-by-cell paths, on a small batch against the ideal model on the same.
                small = x[: 1 if "ResNet" in workload else 32]
                seconds = _time(_build(workload, variant, lut), small, 1.0)
                ratio = seconds / _time(_build(workload, "ideal", lut), small)
                label = f"{variant} (batch {len(small)})"
                rows.append((workload, label, f"{seconds * 1e3:.0f} ms", f"{ratio:.0f}", "", ""))
                continue
            seconds = _time(_build(workload, variant, lut), x)
            memory = _peak_memory(lut_path, workload, variant)
            rows.append(
                (
                    workload,
                    variant,
                    f"{seconds * 1e3:.2f} ms",
                    f"{seconds / ideal:.2f}",
                    f"{memory:.1f} MiB",
                    f"{memory / ideal_mem:.2f}",
                )
            )
    return rows


def _spice_rows(lut: CellLUT) -> list[tuple[str, ...]]:
    spec, _ = load_preset("paper")
    rng = np.random.default_rng(0)
    g = rng.uniform(lut.g_min_s, lut.g_on_s, (64, 64))
    v = rng.uniform(0, lut.v_max, (5, 64))
    start = time.perf_counter()
    crossbar_column_currents(g, v[0], 1.0, spec.cell_transistor())
    single = time.perf_counter() - start
    start = time.perf_counter()
    crossbar_column_currents_batch(g, v, 1.0, spec.cell_transistor())
    batched = (time.perf_counter() - start) / len(v)
    bar = Crossbar(lut, 1.0, 64, 64)
    gt = torch.as_tensor(g, dtype=torch.float32)
    vt = torch.as_tensor(rng.uniform(0, lut.v_max, (1024, 64)), dtype=torch.float32)
    with torch.no_grad():
        bar.column_currents(gt, vt)
        start = time.perf_counter()
        for _ in range(20):
            bar.column_currents(gt, vt)
        emulated = (time.perf_counter() - start) / (20 * len(vt))
    return [
        ("64x64 MVM", "ngspice, one operating point", f"{single * 1e3:.0f} ms", "", "", ""),
        (
            "64x64 MVM",
            "ngspice, 5 vectors in one run",
            f"{batched * 1e3:.0f} ms per vector",
            "",
            "",
            "",
        ),
        (
            "64x64 MVM",
            "emulation, fast path, 1024 vectors",
            f"{emulated * 1e6:.2f} us per vector",
            f"{single / emulated:.0f}x faster than one op, {batched / emulated:.0f}x than batched",
            "",
            "",
        ),
    ]


def main() -> None:
    torch.set_num_threads(2)
    spec, text = load_preset("paper")
    with tempfile.TemporaryDirectory() as tmp:
        lut_path = str(Path(tmp) / "paper.h5")
        characterize(spec, text, lut_path, workers=1, progress=False)
        lut = CellLUT.load(lut_path)
        rows = _forward_rows(lut, lut_path) + _spice_rows(lut)
    ranks = {v: lut.separable(v).rank for v in (0.7, 0.8, 1.0, 1.3)}
    caption = (
        "CPU, 2 threads, float32, inference (no grad); `paper` LUT; ratio = variant / ideal in "
        f"the same run. Fast-path rank K chosen per V_gate (budget 0.1 %): {ranks}. Memory: peak "
        "RSS growth of one forward, each variant in a fresh process."
    )
    publish(
        __file__, caption, ["workload", "variant", "time", "ratio", "memory", "memory ratio"], rows
    )


if __name__ == "__main__":
    main()
