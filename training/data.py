"""Datasets by name: scikit-learn's 8x8 digits (offline) and CIFAR-10/100 from their pickles.

``load_dataset(name, data_dir, download=..., augment=..., seed=...)`` returns a
:class:`DatasetSplits`; every item of its ``train`` and ``test`` datasets is
``(image float32 (C, H, W), label int64 scalar)``, normalised so inputs are signed.

CIFAR training augmentation (random 32x32 crop of the image zero-padded by 4 pixels, random
horizontal flip) is drawn per item from a ``torch.Generator`` seeded by ``(seed, epoch, index)``:
the same seed and epoch give the same images whatever the batch size, shuffle order, number of
DataLoader workers or machine. Call ``splits.train.set_epoch(epoch)`` before each epoch.

Examples
--------
>>> from neatxbar.training.data import load_dataset
>>> splits = load_dataset("digits")
>>> len(splits.train), len(splits.test), splits.num_classes, splits.in_channels
(1437, 360, 10, 1)
>>> image, label = splits.train[0]
>>> image.shape, image.dtype, label.dtype
(torch.Size([1, 8, 8]), torch.float32, torch.int64)
"""

from __future__ import annotations

import hashlib
import pickle
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from neatxbar.core.errors import NeatError

DATASETS = ("digits", "cifar10", "cifar100")

#: Per-channel (R, G, B) mean and std of the CIFAR training images, pixel values in [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

#: The digits split: 20 % test, stratified by class, with this fixed random state.
DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_STATE = 0

CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
CROP_PADDING = 4


class DatasetError(NeatError, ValueError):
    """A dataset is unknown, missing, damaged or could not be downloaded; the message says how to
    get it."""


@dataclass(frozen=True)
class DatasetSplits:
    """A dataset's train and test splits and what a model needs to know about them.

    Attributes
    ----------
    name
        One of :data:`DATASETS`.
    train, test
        Items ``(image, label)``: image float32 ``(in_channels, image_size, image_size)``,
        normalised; label an int64 scalar tensor in ``[0, num_classes)``. The train dataset has
        ``set_epoch(epoch)`` (a no-op where there is no augmentation).
    num_classes, in_channels, image_size
        Classes, image channels, image side in pixels.
    """

    name: str
    train: Dataset
    test: Dataset
    num_classes: int
    in_channels: int
    image_size: int


class TensorImages(Dataset):
    """Images kept as one float32 tensor ``(N, C, H, W)``, labels as int64 ``(N,)``; no
    augmentation (``set_epoch`` does nothing)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images.to(torch.float32)
        self.labels = labels.to(torch.int64)
        self.epoch = 0

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def set_epoch(self, epoch: int) -> None:
        """Record the epoch (nothing here depends on it)."""
        self.epoch = int(epoch)


class CIFARImages(Dataset):
    """CIFAR images kept as uint8 ``(N, 3, 32, 32)``, converted and normalised per item.

    Parameters
    ----------
    images
        uint8 ``(N, 3, 32, 32)``, channels R, G, B.
    labels
        int64 ``(N,)``.
    mean, std
        Per-channel mean and std of pixel values in [0, 1].
    augment
        Random crop (4-pixel zero padding, i.e. black before normalisation, as torchvision's
        ``RandomCrop(32, padding=4)`` on the raw image) and random horizontal flip.
    seed
        With the epoch and the item index, seeds each item's ``torch.Generator``.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        *,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1:] != (3, 32, 32):
            raise DatasetError(
                f"expected uint8 images (N, 3, 32, 32), got {images.dtype} {tuple(images.shape)}"
            )
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return self.labels.shape[0]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation the next items draw (call before each epoch)."""
        self.epoch = int(epoch)

    def generator(self, index: int) -> torch.Generator:
        """The generator item ``index`` draws its augmentation from at the current epoch."""
        return torch.Generator().manual_seed(_mix_seed(self.seed, self.epoch, index))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = int(index)
        if index < 0:
            index += len(self)
        image = self.images[index].to(torch.float32).div_(255.0)
        if self.augment:
            gen = self.generator(index)
            top, left = torch.randint(0, 2 * CROP_PADDING + 1, (2,), generator=gen).tolist()
            flip = bool(torch.randint(0, 2, (1,), generator=gen).item())
            side = image.shape[-1]
            padded = F.pad(image, (CROP_PADDING,) * 4)
            image = padded[:, top : top + side, left : left + side]
            if flip:
                image = image.flip(-1)
        image = (image - self.mean) / self.std
        return image.contiguous(), self.labels[index]


def _mix_seed(*values: int) -> int:
    """One 63-bit seed from several integers (SplitMix64 steps), well spread for nearby inputs."""
    mask = (1 << 64) - 1
    state = 0x9E3779B97F4A7C15
    for value in values:
        state = ((state ^ (value & mask)) + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        state = z ^ (z >> 31)
    return state >> 1


# --------------------------------------------------------------------------------------------
# digits


def _load_digits() -> DatasetSplits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = bunch.data.reshape(-1, 1, 8, 8) / 16.0  # pixel values 0..16 -> [0, 1]
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, stratify=y, random_state=DIGITS_SPLIT_STATE
    )
    mean, std = float(x_train.mean()), float(x_train.std())
    train = TensorImages(torch.from_numpy((x_train - mean) / std), torch.from_numpy(y_train))
    test = TensorImages(torch.from_numpy((x_test - mean) / std), torch.from_numpy(y_test))
    return DatasetSplits("digits", train, test, num_classes=10, in_channels=1, image_size=8)


# --------------------------------------------------------------------------------------------
# CIFAR


@dataclass(frozen=True)
class _CIFARLayout:
    title: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    label_key: bytes
    num_classes: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    url: str
    md5: str

    @property
    def archive(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def expected(self, root: Path | str) -> str:
        files = self.train_files
        train = f"{files[0]} ... {files[-1]}" if len(files) > 1 else files[0]
        return (
            f"expected {root}/{self.folder}/{train} and {self.test_file} (python pickle "
            f"version of {self.title}); download it with --download (download=True) or "
            f"from {CIFAR_PAGE}"
        )


_CIFAR = {
    "cifar10": _CIFARLayout(
        "CIFAR-10",
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        b"labels",
        10,
        CIFAR10_MEAN,
        CIFAR10_STD,
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    "cifar100": _CIFARLayout(
        "CIFAR-100",
        "cifar-100-python",
        ("train",),
        "test",
        b"fine_labels",
        100,
        CIFAR100_MEAN,
        CIFAR100_STD,
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
}


def _parent_root(layout: _CIFARLayout, data_dir: Path) -> Path:
    """The folder that holds (or will hold) ``layout.folder``, given either it or its parent."""
    return data_dir.parent if data_dir.name == layout.folder else data_dir


def _read_batch(layout: _CIFARLayout, path: Path, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) of one pickled batch."""

    def bad(problem: str) -> DatasetError:
        return DatasetError(f"{layout.title}: {path} {problem}; {layout.expected(root)}")

    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except FileNotFoundError:
        raise bad("is missing") from None
    except Exception as exc:  # any unpickling failure means a damaged or foreign file
        raise bad(f"is not a readable pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(batch, dict):
        raise bad(f"holds a {type(batch).__name__}, not a dict")
    missing = [key for key in (b"data", layout.label_key) if key not in batch]
    if missing:
        raise bad(f"lacks the key(s) {', '.join(repr(k) for k in missing)}")
    data, labels = batch[b"data"], batch[layout.label_key]
    well_formed = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not (well_formed and data.shape[1] == 3 * 32 * 32):
        shape = getattr(data, "shape", None)
        dtype = getattr(data, "dtype", type(data).__name__)
        raise bad(f"has b'data' of {dtype} {shape}, not uint8 (N, 3072)")
    try:
        labels = np.asarray(labels)
    except Exception as exc:
        raise bad(f"has unreadable labels ({exc})") from exc
    if labels.shape != (data.shape[0],) or (labels.size and labels.dtype.kind not in "iu"):
        raise bad(
            f"has {layout.label_key!r} of shape {labels.shape} and type {labels.dtype}, "
            f"not {data.shape[0]} integers"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise bad(f"has labels outside [0, {layout.num_classes})")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _read_split(
    layout: _CIFARLayout, folder: Path, files: tuple[str, ...], root: Path
) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [_read_batch(layout, folder / name, root) for name in files]
    images = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    labels = np.concatenate([p[1] for p in parts])
    if images.shape[0] == 0:
        raise DatasetError(
            f"{layout.title}: {folder} holds no images in {', '.join(files)}; "
            f"{layout.expected(root)}"
        )
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels)


def _load_cifar(
    name: str, data_dir: str | Path | None, *, download: bool, augment: bool, seed: int
) -> DatasetSplits:
    layout = _CIFAR[name]
    if data_dir is None:
        raise DatasetError(
            f"{layout.title} needs a data directory; {layout.expected('<data_dir>')}"
        )
    data_dir = Path(data_dir).expanduser()
    root = _parent_root(layout, data_dir)
    folder = root / layout.folder
    needed = (*layout.train_files, layout.test_file)

    def complete(path: Path) -> bool:
        return all((path / f).is_file() for f in needed)

    if download and not (complete(folder) or complete(data_dir)):
        _fetch_cifar(name, root)
    if not folder.is_dir():
        if complete(data_dir):  # the batch files directly in a folder of another name
            folder = data_dir
        else:
            what = "does not exist" if not data_dir.exists() else f"holds no {layout.folder}/"
            raise DatasetError(f"{layout.title}: {data_dir} {what}; {layout.expected(root)}")
    train_x, train_y = _read_split(layout, folder, layout.train_files, root)
    test_x, test_y = _read_split(layout, folder, (layout.test_file,), root)
    train = CIFARImages(train_x, train_y, layout.mean, layout.std, augment=augment, seed=seed)
    test = CIFARImages(test_x, test_y, layout.mean, layout.std, augment=False, seed=seed)
    return DatasetSplits(name, train, test, layout.num_classes, in_channels=3, image_size=32)


# --------------------------------------------------------------------------------------------
# download


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, path: Path, md5: str) -> None:
    """Fetch ``url`` to ``path`` (via ``path.part``); a wrong MD5 deletes the file and raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise DatasetError(
            f"could not download {url} ({exc}); fetch it by hand from "
            f"{CIFAR_PAGE} and extract it into {path.parent}"
        ) from exc
    if digest.hexdigest() != md5.lower():
        partial.unlink(missing_ok=True)
        raise DatasetError(
            f"{url}: MD5 {digest.hexdigest()} is not the expected {md5}; the file was deleted, "
            f"download it again (or by hand from {CIFAR_PAGE})"
        )
    partial.replace(path)


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = member.name
    parts = PurePosixPath(name.replace("\\", "/")).parts
    unsafe = (
        name.startswith(("/", "\\"))
        or PureWindowsPath(name).drive != ""
        or ".." in parts
        or not (member.isfile() or member.isdir())  # links, devices, fifos
    )
    if unsafe:
        raise DatasetError(
            f"{archive}: refusing to extract the unsafe member {name!r} "
            "(absolute path, '..', link or special file)"
        )


def _extract(archive: Path, dest: Path) -> None:
    """Extract a .tar.gz into ``dest`` after checking every member is a plain file or folder
    inside it (nothing is written if one is not)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _check_member(member, archive)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4; members were checked above
                tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError) as exc:
        raise DatasetError(
            f"{archive} is not a readable .tar.gz ({exc}); delete it and download again"
        ) from exc


def _fetch_cifar(name: str, root: Path, *, url: str | None = None, md5: str | None = None) -> Path:
    """Download (unless a verified archive is already there) and extract ``name`` into ``root``.

    ``url`` and ``md5`` override the official archive (tests use a local ``file://`` URL).
    Returns the archive's path; the archive is kept next to the extracted folder.
    """
    layout = _CIFAR[name]
    url = layout.url if url is None else url
    md5 = layout.md5 if md5 is None else md5
    root = Path(root)
    archive = root / layout.archive
    if not (archive.is_file() and _md5(archive) == md5.lower()):
        _download(url, archive, md5)
    _extract(archive, root)
    return archive


# --------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    *,
    download: bool = False,
    augment: bool = True,
    seed: int = 0,
) -> DatasetSplits:
    """Load a dataset's train and test splits by name.

    Parameters
    ----------
    name
        ``"digits"`` (scikit-learn's bundled 8x8 digits: 1 channel, 10 classes, 1437 train and
        360 test images in a fixed stratified split), ``"cifar10"`` or ``"cifar100"`` (3 x 32 x 32).
    data_dir
        CIFAR: the folder holding ``cifar-10-batches-py/`` (``cifar-100-python/``) or that folder
        itself. Ignored for digits.
    download
        CIFAR: fetch the official archive into ``data_dir`` if the batch files are missing, check
        its MD5 and extract it. Ignored for digits.
    augment
        CIFAR train split: random crop with 4-pixel zero padding and random horizontal flip. The
        test split and digits are never augmented.
    seed
        Seed of the augmentation; with ``train.set_epoch(epoch)`` and the item index it fixes
        every augmented image. Does not affect the digits split.

    Returns
    -------
    DatasetSplits

    Raises
    ------
    DatasetError
        Unknown name, CIFAR folder missing or malformed (the message gives the expected layout
        and where to get it), failed download, wrong checksum or unsafe archive.

    Examples
    --------
    >>> splits = load_dataset("cifar10", "data", download=True)  # doctest: +SKIP
    >>> for epoch in range(epochs):  # doctest: +SKIP
    ...     splits.train.set_epoch(epoch)
    ...     for x, y in DataLoader(splits.train, batch_size=128, shuffle=True): ...
    """
    if name == "digits":
        return _load_digits()
    if name in _CIFAR:
        return _load_cifar(name, data_dir, download=download, augment=augment, seed=seed)
    raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
