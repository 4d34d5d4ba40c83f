"""The crossbars and input vectors of a comparison: random ones, and a trained layer's.

The ``"trained"`` case takes a trained model: its first crossbar layer's weights become the
conductances (:func:`trained_conductances`) and that layer's own inputs on held-out data, captured
while the model runs, become the row voltages (:func:`input_voltages`). The model comes from a
checkpoint (:func:`layer_from_checkpoint`), from the caller (:func:`layer_of`), or, by default,
from the training floor: a small MLP trained on the digits with the toolkit's trainer
(:func:`train_digits_layer`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from neatxbar.mapping.errors import MappingError
from neatxbar.mapping.layers import crossbar_layers
from neatxbar.training.data import load_dataset
from neatxbar.training.models import mlp
from neatxbar.training.run import model_from_checkpoint
from neatxbar.training.trainer import TrainConfig, evaluate, train

#: The default trained model: the toolkit's ``mlp`` with one hidden layer (64 -> 64 -> 10) on
#: the digits, Adam, a few epochs, on the CPU.
DIGITS_HIDDEN = (64,)
DIGITS_TRAINING = TrainConfig(
    epochs=8, batch_size=32, optimizer="adam", lr=3e-3, schedule="none", device="cpu"
)
#: Held-out inputs taken to drive the trained crossbars (images; a convolution's patches of
#: these images).
HELD_OUT = 512


@dataclass(frozen=True)
class TrainedLayer:
    """A trained model's first crossbar layer and that layer's inputs on held-out data.

    Attributes
    ----------
    weight
        (inputs, outputs), the crossbar's orientation (rows are inputs); a convolution's kernel
        flattened to (in_channels * kh * kw, out_channels).
    inputs
        (n, inputs): the layer's inputs (its units), one row per held-out image (a convolution:
        per image patch), in a seeded random order.
    accuracy
        The model's accuracy on the held-out split (fraction), or None when unknown.
    source
        Where the model came from (a checkpoint path, or what was trained).
    layer
        The layer's name in the model.
    """

    weight: np.ndarray
    inputs: np.ndarray
    accuracy: float | None
    source: str
    layer: str


class _Captured(Exception):
    """Stops the forward pass once the layer's input is captured."""


def layer_of(
    model: nn.Module,
    images: torch.Tensor,
    *,
    accuracy: float | None = None,
    source: str = "a model",
    seed: int = 0,
) -> TrainedLayer:
    """The first crossbar layer (Linear or Conv2d) of ``model`` and its inputs on ``images``.

    Parameters
    ----------
    model
        A trained model (left unchanged).
    images
        Held-out inputs of the model, (n, ...) as the model takes them.
    accuracy, source
        Recorded in the report.
    seed
        Orders the captured inputs.

    Raises
    ------
    MappingError
        The model has no crossbar layer, or its first one is a grouped convolution.
    """
    layers = crossbar_layers(model)
    if not layers:
        raise MappingError(f"{source}: no Linear or Conv2d layer to put on a crossbar")
    name, layer = next(iter(layers.items()))
    if not isinstance(layer, nn.Linear | nn.Conv2d):
        kind = type(layer).__name__
        raise MappingError(f"{source}: layer {name!r} is a {kind}, not a plain Linear or Conv2d")
    captured: list[torch.Tensor] = []

    def capture(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        captured.append(args[0].detach())
        raise _Captured

    handle = layer.register_forward_pre_hook(capture)
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(images)
    except _Captured:
        pass
    except RuntimeError as error:  # the images do not fit the model (shapes, channels)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MappingError(f"{source}: the model does not take these images ({first})") from None
    finally:
        handle.remove()
        model.train(was_training)
    if not captured:
        raise MappingError(f"{source}: layer {name!r} is not called on the model's input")
    x = captured[0].double()
    weight = layer.weight.detach().double()
    fits = (
        x.shape[-1] == weight.shape[1]
        if isinstance(layer, nn.Linear)
        else (x.ndim == 4 and x.shape[1] == weight.shape[1] * layer.groups)
    )
    if not fits:
        raise MappingError(
            f"{source}: the model does not take these images (layer {name!r} gets inputs of "
            f"shape {tuple(x.shape)})"
        )
    if isinstance(layer, nn.Linear):
        rows = x.reshape(-1, layer.in_features)
        matrix = weight.T
    else:
        if layer.groups != 1 or not isinstance(layer.padding, tuple):
            raise MappingError(
                f"{source}: layer {name!r} is a grouped or 'same'-padded convolution; "
                "the comparison takes a plain Conv2d"
            )
        patches = F.unfold(x, layer.kernel_size, layer.dilation, layer.padding, layer.stride)
        rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
        matrix = weight.reshape(weight.shape[0], -1).T
    order = np.random.default_rng(seed).permutation(rows.shape[0])
    return TrainedLayer(
        weight=matrix.numpy().copy(),
        inputs=rows.numpy()[order],
        accuracy=accuracy,
        source=source,
        layer=name,
    )


def _held_out(test: Dataset, seed: int) -> torch.Tensor:
    """Up to :data:`HELD_OUT` test images, in a seeded random order."""
    order = np.random.default_rng(seed).permutation(len(test))[:HELD_OUT]
    return torch.stack([test[int(i)][0] for i in order])


def train_digits_layer(seed: int = 0) -> TrainedLayer:
    """Train a small ``mlp`` (64 -> 64 -> 10) on the digits with the toolkit's trainer; return
    its first layer, driven by the digits' test images.

    :data:`DIGITS_TRAINING` (Adam, learning rate 3e-3, 8 epochs of batches of 32) on the
    digits' training split, on the CPU: about a second on an idle core, the same weights for the
    same seed. The global torch random state is left as it was.
    """
    splits = load_dataset("digits", seed=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = mlp(splits.num_classes, splits.in_channels, splits.image_size, hidden=DIGITS_HIDDEN)
        config = dataclasses.replace(DIGITS_TRAINING, seed=seed)
        train(model, splits.train, None, config, progress=False)
    return layer_of(
        model,
        _held_out(splits.test, seed),
        accuracy=evaluate(model, splits.test),
        source="mlp trained on the digits here",
        seed=seed,
    )


def layer_from_checkpoint(
    path: Path | str, data_dir: Path | str | None = None, seed: int = 0
) -> TrainedLayer:
    """The first crossbar layer of a checkpoint's model, driven by its dataset's test images.

    The dataset is the one the checkpoint's header names (``neat train`` writes it; digits when
    none). The accuracy is the header's ``accuracy`` when it has one, else measured here.

    Raises
    ------
    CheckpointError, DatasetError, MappingError
        A file that is not a checkpoint, a dataset that cannot be loaded, a model without a
        crossbar layer.
    """
    model, header = model_from_checkpoint(path, data_dir=data_dir)
    splits = load_dataset(str(header.get("dataset", "digits")), data_dir, seed=seed)
    accuracy = header.get("accuracy")
    if not (isinstance(accuracy, float) and math.isfinite(accuracy)):
        accuracy = evaluate(model, splits.test)
    images = _held_out(splits.test, seed)
    return layer_of(model, images, accuracy=accuracy, source=str(path), seed=seed)


def _tile(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``a`` repeated along each axis as often as needed, then cropped to ``shape``."""
    reps = [math.ceil(s / d) for s, d in zip(shape, a.shape, strict=True)]
    return np.tile(a, reps)[tuple(slice(0, s) for s in shape)]


def trained_conductances(weight: np.ndarray, size: int, g_min: float, g_on: float) -> np.ndarray:
    """Conductances (S), shape (size, size), of the G+ column set of a trained layer.

    The toolkit's default mapping (:class:`neatxbar.mapping.MappingConfig` with ``w_cut``
    unset): G+ = G_min + (G_ON - G_min) * max(w, 0) / max|w|, with max|w| over the whole layer.
    The crossbar holds the layer's top-left size x size block (inputs 0..size-1, outputs
    0..size-1); a layer smaller than that is tiled. Only G+ is simulated: the G- set is the same
    kind of array (its weights' negative parts), so it adds no new case.
    """
    scale = max(float(np.abs(weight).max()), np.finfo(float).tiny)
    fraction = np.clip(weight, 0.0, None) / scale
    return g_min + (g_on - g_min) * _tile(fraction, (size, size))


def input_voltages(inputs: np.ndarray, size: int, count: int, v_max: float) -> np.ndarray:
    """Row voltages (V), shape (<= count, size), of the first read phase of a layer's inputs.

    Each input vector is scaled as the toolkit scales a layer's input (per-sample x_scale, the
    largest |x|), times V_max; the first phase drives the rows of positive inputs (negative ones
    are a second phase of the same kind, so they add no new case). Rows take the vector's first
    ``size`` entries, repeated when ``size`` is larger. Vectors whose first entries drive no row
    (no current to compare) are skipped; fewer than ``count`` come back only if they run out.
    """
    scale = np.maximum(np.abs(inputs).max(axis=1, keepdims=True), np.finfo(float).tiny)
    rows = _tile(np.clip(inputs, 0.0, None) / scale, (inputs.shape[0], size)) * v_max
    return rows[rows.max(axis=1) > 0][:count]
