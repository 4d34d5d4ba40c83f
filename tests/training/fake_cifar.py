"""Tiny fake CIFAR-10/100 folders in the exact python-pickle layout of the official archives.

Examples
--------
In a test file under ``tests/``::

    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))  # or the path of tests/training
    from fake_cifar import make_fake_cifar

    from neatxbar.training.data import load_dataset

    def test_train(tmp_path):
        splits = load_dataset("cifar10", make_fake_cifar(tmp_path, n_train=20))
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CIFAR10_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def _dump(path: Path, obj: object) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=2)


def _images(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)


def make_fake_cifar(
    root: Path, name: str = "cifar10", n_train: int = 10, n_test: int = 4, seed: int = 0
) -> Path:
    """Write a fake ``name`` (``"cifar10"`` or ``"cifar100"``) under ``root`` with random images.

    CIFAR-10: ``root/cifar-10-batches-py/data_batch_1..5`` (the ``n_train`` images split over the
    five files as evenly as possible), ``test_batch`` and ``batches.meta``; CIFAR-100:
    ``root/cifar-100-python/train``, ``test`` and ``meta``. Pickled dicts with bytes keys, as the
    official files load with ``encoding="bytes"``; ``b"data"`` is uint8 ``(N, 3072)`` (R, G, B
    planes of 32 x 32), labels a list of ints. Labels run through the classes (``i % classes``).

    Returns
    -------
    Path
        The dataset folder (``root/cifar-10-batches-py`` or ``root/cifar-100-python``).
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        counts = [len(part) for part in np.array_split(np.arange(n_train), 5)]
        start = 0
        for i, count in enumerate(counts, start=1):
            labels = [(start + k) % 10 for k in range(count)]
            start += count
            _dump(
                folder / f"data_batch_{i}",
                {
                    b"batch_label": f"training batch {i} of 5".encode(),
                    b"labels": labels,
                    b"data": _images(rng, count),
                    b"filenames": [f"fake_{i}_{k}.png".encode() for k in range(count)],
                },
            )
        _dump(
            folder / "test_batch",
            {
                b"batch_label": b"testing batch 1 of 1",
                b"labels": [k % 10 for k in range(n_test)],
                b"data": _images(rng, n_test),
                b"filenames": [f"fake_test_{k}.png".encode() for k in range(n_test)],
            },
        )
        _dump(
            folder / "batches.meta",
            {
                b"label_names": [n.encode() for n in CIFAR10_NAMES],
                b"num_cases_per_batch": max(counts),
                b"num_vis": 3072,
            },
        )
    elif name == "cifar100":
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True, exist_ok=True)
        for split, n in (("train", n_train), ("test", n_test)):
            fine = [k % 100 for k in range(n)]
            _dump(
                folder / split,
                {
                    b"filenames": [f"fake_{split}_{k}.png".encode() for k in range(n)],
                    b"batch_label": f"{split}ing batch 1 of 1".encode(),
                    b"fine_labels": fine,
                    b"coarse_labels": [k // 5 for k in fine],
                    b"data": _images(rng, n),
                },
            )
        _dump(
            folder / "meta",
            {
                b"fine_label_names": [f"fine_{k:03d}".encode() for k in range(100)],
                b"coarse_label_names": [f"coarse_{k:02d}".encode() for k in range(20)],
            },
        )
    else:
        raise ValueError(f"name must be 'cifar10' or 'cifar100', not {name!r}")
    return folder
