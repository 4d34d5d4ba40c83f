"""Models by name: an MLP and a small CNN for the 8x8 digits, VGG11 and ResNet18 in CIFAR form.

``build_model(name, num_classes, in_channels, image_size)``; every weight layer is an
``nn.Linear`` or ``nn.Conv2d`` so :func:`neatxbar.mapping.convert` maps the whole network.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from neatxbar.core.errors import ConfigError

MODELS: dict[str, Callable[..., nn.Module]] = {}


def _register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS[name] = factory
        return factory

    return decorate


@_register("mlp")
def mlp(
    num_classes: int = 10,
    in_channels: int = 1,
    image_size: int = 8,
    hidden: tuple[int, ...] = (256, 256),
) -> nn.Module:
    """Fully connected: flatten, ``hidden`` ReLU layers, then the classifier."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_channels * image_size * image_size
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


@_register("cnn")
def small_cnn(num_classes: int = 10, in_channels: int = 1, image_size: int = 8) -> nn.Module:
    """Two 3x3 convolutions (16, 32 channels), one pooling, a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (image_size // 2) ** 2, num_classes),
    )


@_register("cnn-bn")
def small_cnn_bn(num_classes: int = 10, in_channels: int = 1, image_size: int = 8) -> nn.Module:
    """:func:`small_cnn` with a BatchNorm after each convolution (a quick deep-network stand-in)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * (image_size // 2) ** 2, num_classes),
    )


@_register("vgg11")
def vgg11(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> nn.Module:
    """VGG11 for 32x32 images (batch norm, one linear classifier), as in CIFAR work."""
    plan = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    layers: list[nn.Module] = []
    channels = in_channels
    for item in plan:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [
                nn.Conv2d(channels, item, 3, padding=1, bias=False),
                nn.BatchNorm2d(item),
                nn.ReLU(),
            ]
            channels = item
    side = image_size // 32
    layers += [nn.Flatten(), nn.Linear(512 * side * side, num_classes)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """ResNet's two-convolution block with an identity (or 1x1 convolution) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


@_register("resnet18")
def resnet18(num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> nn.Module:
    """ResNet18 in its CIFAR form: a 3x3 stem, no max pooling, four stages of two blocks."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def build_model(
    name: str, num_classes: int = 10, in_channels: int = 3, image_size: int = 32
) -> nn.Module:
    """The model ``name`` (one of :data:`MODELS`); ConfigError naming the choices otherwise."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes=num_classes, in_channels=in_channels, image_size=image_size)
