"""ResNet18 and VGG11 on crossbars train on (fake) CIFAR: gradients flow through the emulation."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests/training/fake_cifar.py
from fake_cifar import make_fake_cifar

from neatxbar.lut import CellLUT
from neatxbar.mapping import CrossbarConv2d, CrossbarLinear, MappingConfig, convert
from neatxbar.training.data import load_dataset
from neatxbar.training.models import build_model
from neatxbar.training.trainer import TrainConfig, train


@pytest.mark.parametrize(("name", "dataset"), [("resnet18", "cifar10"), ("vgg11", "cifar100")])
def test_crossbar_twin_trains_two_steps(
    tmp_path: Path, lut: CellLUT, name: str, dataset: str
) -> None:
    splits = load_dataset(dataset, make_fake_cifar(tmp_path, dataset, n_train=10, n_test=4))
    classes = {"cifar10": 10, "cifar100": 100}[dataset]
    assert (splits.num_classes, splits.in_channels, splits.image_size) == (classes, 3, 32)
    torch.manual_seed(0)
    model = build_model(name, splits.num_classes, 3, 32)
    twin = convert(model, lut, MappingConfig(v_gate=1.0))
    crossbars = [m for m in twin.modules() if isinstance(m, CrossbarConv2d | CrossbarLinear)]
    plain = [m for m in twin.modules() if type(m) in (torch.nn.Conv2d, torch.nn.Linear)]
    assert crossbars and not plain  # every weight layer is on crossbars
    before = {k: p.detach().clone() for k, p in twin.named_parameters()}

    config = TrainConfig(max_steps=2, batch_size=4, epochs=1, device="cpu")
    history = train(twin, splits.train, None, config, progress=False)

    assert history.steps == 2 and len(history.loss) == 1
    assert math.isfinite(history.loss[0]) and history.loss[0] > 0
    after = dict(twin.named_parameters())
    assert after.keys() == before.keys()
    unchanged = [k for k, p in after.items() if torch.equal(p.detach(), before[k])]
    assert unchanged == []
    for layer in crossbars:  # the last step's gradients reached every crossbar weight
        grad = layer.weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    out = twin.eval()(splits.test[0][0].unsqueeze(0))
    assert out.shape == (1, classes) and torch.isfinite(out).all()
    assert all(p.grad is None for p in model.parameters())  # the source model took no part
