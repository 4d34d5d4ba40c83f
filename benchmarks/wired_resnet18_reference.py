"""ResNet18 with wires: the wired fast path against the reference circuit solver, image by image.

The digits ResNet18 (CIFAR form, 1 x 8 x 8), trained here as the main job trains it (8 epochs,
Adam, cosine schedule, seed 0), mapped with every layer at one gate voltage onto 64 x 64 tiles
with 2.5-ohm row and column segments (driver and sense 0): once on the wired fast path
(``path = "fast"``) and once on the reference circuit solver (``path = "exact"``, every tile and
input solved as a circuit, about 20,000 tile solves per image), on the same first test images.
Reported: the accuracy of both, how many predictions agree, and the largest logit difference
relative to the image's largest |logit|. The solver is slow, so the images are few.

Run: ``.venv/bin/python benchmarks/wired_resnet18_reference.py --images 12`` (the solver takes
minutes per image on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import torch
from _lut import paper_lut  # benchmarks/_lut.py, beside this script
from _results import publish  # benchmarks/_results.py, beside this script

from neatxbar.mapping import MappingConfig, convert
from neatxbar.spice import Wires
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.trainer import TrainConfig, train

OHM = 2.5
WIRES = Wires(OHM, OHM)


def _trained() -> tuple[torch.nn.Module, object]:
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_model("resnet18", data.num_classes, data.in_channels, data.image_size)
    config = TrainConfig(
        epochs=8, batch_size=64, optimizer="adam", lr=1e-3, schedule="cosine", device="cpu"
    )
    train(model, data.train, None, config, progress=False)
    return model.eval(), data


def _row(model: torch.nn.Module, lut: object, data: object, v_gate: float, n: int) -> tuple:
    x = torch.stack([data.test[i][0] for i in range(n)])
    y = torch.tensor([int(data.test[i][1]) for i in range(n)])
    fast = convert(model, lut, MappingConfig(v_gate=v_gate, wires=WIRES)).eval()
    exact = convert(model, lut, MappingConfig(v_gate=v_gate, wires=WIRES, path="exact")).eval()
    with torch.no_grad():
        start = time.perf_counter()
        fast_logits = fast(x)
        fast_s = time.perf_counter() - start
        exact_logits, start = [], time.perf_counter()
        for k in range(n):  # one image at a time: the solver's memory stays small
            exact_logits.append(exact(x[k : k + 1]))
            took = time.perf_counter() - start
            print(f"{v_gate:.2f} V image {k + 1}/{n}: {took:.0f} s", flush=True)
        exact_s = time.perf_counter() - start
    exact_logits = torch.cat(exact_logits)
    agree = int((fast_logits.argmax(1) == exact_logits.argmax(1)).sum())
    scale = exact_logits.abs().amax(1)
    logit = float(((fast_logits - exact_logits).abs().amax(1) / scale).max())
    return (
        f"{v_gate:.2f}",
        str(n),
        f"{100 * float((fast_logits.argmax(1) == y).float().mean()):.2f}",
        f"{100 * float((exact_logits.argmax(1) == y).float().mean()):.2f}",
        f"{agree} / {n}",
        f"{100 * logit:.3f}",
        f"{fast_s:.1f} s / {exact_s / n:.0f} s per image",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--v-gates", type=float, nargs="+", default=[0.75])
    args = parser.parse_args()
    torch.set_num_threads(2)
    lut = paper_lut()
    model, data = _trained()
    rows = [_row(model, lut, data, v, args.images) for v in args.v_gates]
    caption = (
        f"Digits ResNet18 (trained here, seed 0), every layer at V_gate, 64 x 64 tiles, {OHM}-ohm "
        "row and column segments, `paper` LUT, float32, 2 threads; the first test images. "
        "Target: the wired fast path's accuracy within 0.5 points of the reference solver's on "
        "the same images."
    )
    header = [
        "V_gate (V)",
        "images",
        "wired fast path %",
        "reference solver %",
        "same prediction",
        "largest logit difference (% of max |logit|)",
        "time (fast, all images / solver)",
    ]
    publish(__file__, caption, header, rows)


if __name__ == "__main__":
    main()
