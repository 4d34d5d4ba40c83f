"""BatchNorm statistics re-estimated on the deployed model (a calibration pass, no training).

A crossbar layer's output differs from the ideal layer's by a gain and a small offset that depend
on the gate voltage and the weights (the transistor's series resistance lowers every cell current
a little). In a deep network those errors compound through the BatchNorm layers, whose running
statistics were measured on the ideal model. Running a few hundred training images through the
deployed model (its crossbar twin) and re-estimating the running mean and variance of every
BatchNorm layer absorbs them. It changes no weight and needs no labels; on a chip it is a
calibration read of the same arrays.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from neatxbar.core.checks import check_integer

BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def has_batchnorm(model: nn.Module) -> bool:
    """Whether ``model`` holds a BatchNorm layer that tracks running statistics."""
    return any(isinstance(m, BATCHNORM) and m.track_running_stats for m in model.modules())


@torch.no_grad()
def reestimate_batchnorm(
    model: nn.Module, dataset: Dataset, samples: int = 512, batch_size: int = 128
) -> nn.Module:
    """Re-estimate every BatchNorm layer's running statistics on ``samples`` images, in place.

    Each BatchNorm's running mean and variance are reset and replaced by the plain average over
    the calibration batches (``momentum = None`` while it runs); every other layer runs in eval
    mode (crossbar twins keep their cached weight side). The model is returned in eval mode.

    Parameters
    ----------
    model
        The deployed model (e.g. the output of :func:`neatxbar.mapping.convert`).
    dataset
        Images (and labels, unused): the first ``samples`` items are read in order.
    samples, batch_size
        How many images, and how many at a time.
    """
    check_integer("calibration samples", samples, low=1)
    check_integer("calibration batch_size", batch_size, low=1)
    model.eval()
    layers = [m for m in model.modules() if isinstance(m, BATCHNORM) and m.track_running_stats]
    if not layers:
        return model
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    subset = Subset(dataset, range(min(samples, len(dataset))))  # type: ignore[arg-type]
    device = next(model.parameters()).device
    try:
        for x, _ in DataLoader(subset, batch_size=batch_size):
            model(x.to(device))
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
            m.eval()
    return model
