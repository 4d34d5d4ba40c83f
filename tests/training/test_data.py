"""Datasets: digits offline, fake CIFAR folders through the real loaders, download and extract."""

from __future__ import annotations

import hashlib
import io
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))  # tests/training/fake_cifar.py
from fake_cifar import make_fake_cifar

from neatxbar.training.data import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    DATASETS,
    CIFARImages,
    DatasetError,
    DatasetSplits,
    _fetch_cifar,
    _mix_seed,
    load_dataset,
)

# ------------------------------------------------------------------------------------- digits


def test_digits_fixed_split_and_normalisation() -> None:
    splits = load_dataset("digits")
    assert isinstance(splits, DatasetSplits)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.image_size) == (
        "digits",
        10,
        1,
        8,
    )
    assert (len(splits.train), len(splits.test)) == (1437, 360)
    x, y = splits.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32
    assert y.shape == () and y.dtype == torch.int64
    train_x = splits.train.images
    assert abs(train_x.mean().item()) < 1e-5
    assert train_x.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-5)
    assert train_x.min() < 0 < train_x.max()
    # stratified: every class in both splits, in about the same proportions
    for dataset in (splits.train, splits.test):
        counts = torch.bincount(dataset.labels, minlength=10)
        assert counts.min() > 0 and counts.max() / counts.min() < 1.2


def test_digits_split_ignores_seed_and_is_repeatable() -> None:
    a = load_dataset("digits", seed=0)
    b = load_dataset("digits", seed=123, augment=False)
    for one, two in ((a.train, b.train), (a.test, b.test)):
        assert torch.equal(one.images, two.images)
        assert torch.equal(one.labels, two.labels)
    # test images are normalised with the train statistics, so they differ from mean 0, std 1
    assert a.test.images.mean().item() != pytest.approx(0.0, abs=1e-6)


def test_unknown_dataset_lists_choices() -> None:
    with pytest.raises(DatasetError, match="choose one of digits, cifar10, cifar100"):
        load_dataset("mnist")
    assert DATASETS == ("digits", "cifar10", "cifar100")


# -------------------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize(
    ("name", "classes", "n_train", "n_test"), [("cifar10", 10, 12, 4), ("cifar100", 100, 7, 3)]
)
def test_fake_cifar_loads(
    tmp_path: Path, name: str, classes: int, n_train: int, n_test: int
) -> None:
    make_fake_cifar(tmp_path, name, n_train=n_train, n_test=n_test, seed=1)
    splits = load_dataset(name, tmp_path, augment=False)
    assert (splits.name, splits.num_classes, splits.in_channels, splits.image_size) == (
        name,
        classes,
        3,
        32,
    )
    assert (len(splits.train), len(splits.test)) == (n_train, n_test)
    x, y = splits.test[1]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert y.shape == () and y.dtype == torch.int64 and y.item() == 1
    assert splits.train.labels.tolist() == [k % classes for k in range(n_train)]
    assert splits.train.images.dtype == torch.uint8  # kept compact, converted per item
    xb, yb = next(iter(DataLoader(splits.train, batch_size=5)))
    assert xb.shape == (5, 3, 32, 32) and yb.dtype == torch.int64


def test_cifar10_pixels_and_normalisation(tmp_path: Path) -> None:
    folder = make_fake_cifar(tmp_path, n_train=5, n_test=2)
    with (folder / "data_batch_3").open("rb") as f:
        raw = pickle.load(f, encoding="bytes")[b"data"][0]  # third image overall
    splits = load_dataset("cifar10", folder, augment=False)
    x, y = splits.train[2]
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    expected = (torch.from_numpy(raw.reshape(3, 32, 32)).float() / 255 - mean) / std
    torch.testing.assert_close(x, expected)
    assert y.item() == 2


def test_parent_or_child_folder(tmp_path: Path) -> None:
    folder = make_fake_cifar(tmp_path, n_train=5, n_test=2)
    assert folder == tmp_path / "cifar-10-batches-py"
    from_parent = load_dataset("cifar10", str(tmp_path), augment=False)
    from_child = load_dataset("cifar10", folder, augment=False)
    assert torch.equal(from_parent.train.images, from_child.train.images)
    assert torch.equal(from_parent.test.labels, from_child.test.labels)
    c100 = make_fake_cifar(tmp_path, "cifar100", n_train=3, n_test=2)
    assert len(load_dataset("cifar100", c100).train) == 3
    renamed = folder.rename(tmp_path / "my-cifar")  # batch files directly in another folder
    assert torch.equal(load_dataset("cifar10", renamed).test.labels, from_child.test.labels)


def test_augmentation_reproducible_per_seed_and_epoch(tmp_path: Path) -> None:
    make_fake_cifar(tmp_path, n_train=10, n_test=2)
    a = load_dataset("cifar10", tmp_path, seed=7).train
    b = load_dataset("cifar10", tmp_path, seed=7).train
    plain = load_dataset("cifar10", tmp_path, augment=False).train

    def epoch_of(dataset: CIFARImages, epoch: int) -> torch.Tensor:
        dataset.set_epoch(epoch)
        return torch.stack([dataset[i][0] for i in range(len(dataset))])

    first = epoch_of(a, 3)
    assert torch.equal(first, epoch_of(b, 3))
    assert torch.equal(first, epoch_of(a, 3))  # coming back to an epoch gives it again
    assert not torch.equal(first, epoch_of(a, 4))
    assert not torch.equal(first, epoch_of(load_dataset("cifar10", tmp_path, seed=8).train, 3))
    assert not torch.equal(first, epoch_of(plain, 3))
    # independent of order, batching and worker processes
    a.set_epoch(3)
    for i in torch.randperm(len(a), generator=torch.Generator().manual_seed(0)).tolist():
        assert torch.equal(a[i][0], first[i])
    batches = [x for x, _ in DataLoader(a, batch_size=3, num_workers=2)]
    assert torch.equal(torch.cat(batches), first)
    # test split never augmented
    test = load_dataset("cifar10", tmp_path, seed=7)
    test_plain = load_dataset("cifar10", tmp_path, augment=False)
    test.train.set_epoch(5)
    assert torch.equal(test.test[0][0], test_plain.test[0][0])


def test_augmentation_is_a_padded_crop_and_flip(tmp_path: Path) -> None:
    make_fake_cifar(tmp_path, n_train=5, n_test=1)
    aug = load_dataset("cifar10", tmp_path, seed=1).train
    plain = load_dataset("cifar10", tmp_path, augment=False).train
    mean = torch.tensor(CIFAR10_MEAN).view(3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(3, 1, 1)
    padded = torch.nn.functional.pad(plain.images[0].float() / 255, (4, 4, 4, 4))
    candidates = [
        (padded[:, t : t + 32, s : s + 32].flip(-1) if flip else padded[:, t : t + 32, s : s + 32])
        for t in range(9)
        for s in range(9)
        for flip in (False, True)
    ]
    seen = set()
    for epoch in range(12):
        aug.set_epoch(epoch)
        x = aug[0][0] * std + mean
        match = [k for k, c in enumerate(candidates) if torch.allclose(x, c, atol=1e-5)]
        assert match, f"epoch {epoch}: not a padded crop / flip of the image"
        seen.add(match[0])
    assert len(seen) > 1


def test_mix_seed_spreads_and_fits_a_generator() -> None:
    seeds = {_mix_seed(s, e, i) for s in range(3) for e in range(3) for i in range(50)}
    assert len(seeds) == 450
    assert all(0 <= s < 2**63 for s in seeds)
    torch.Generator().manual_seed(_mix_seed(-1, 2**70, 5))


# ------------------------------------------------------------------------------------- errors


def test_missing_folder(tmp_path: Path) -> None:
    layout = r"cifar-10-batches-py/data_batch_1 \.\.\. data_batch_5 and test_batch"
    with pytest.raises(DatasetError, match=rf"does not exist.*{layout}.*--download.*cifar\.html"):
        load_dataset("cifar10", tmp_path / "nowhere")
    with pytest.raises(
        DatasetError,
        match=r"holds no cifar-100-python/.*cifar-100-python/train "
        r"and test \(python pickle version of CIFAR-100\)",
    ):
        load_dataset("cifar100", tmp_path)
    with pytest.raises(DatasetError, match="needs a data directory"):
        load_dataset("cifar10")


def test_missing_batch(tmp_path: Path) -> None:
    folder = make_fake_cifar(tmp_path, n_train=10)
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetError, match=r"data_batch_4 is missing; expected .*data_batch_1"):
        load_dataset("cifar10", tmp_path)
    c100 = make_fake_cifar(tmp_path, "cifar100")
    (c100 / "test").unlink()
    with pytest.raises(DatasetError, match=r"test is missing"):
        load_dataset("cifar100", c100)


def _rewrite(path: Path, obj: object) -> None:
    with path.open("wb") as f:
        pickle.dump(obj, f)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(b"not a pickle"), "not a readable pickle"),
        (lambda p: _rewrite(p, [1, 2, 3]), "holds a list, not a dict"),
        (lambda p: _rewrite(p, {b"data": np.zeros((2, 3072), np.uint8)}), r"lacks .*b'labels'"),
        (
            lambda p: _rewrite(p, {b"data": np.zeros((2, 1024), np.uint8), b"labels": [0, 1]}),
            r"uint8 \(2, 1024\), not uint8 \(N, 3072\)",
        ),
        (
            lambda p: _rewrite(p, {b"data": np.zeros((2, 3072)), b"labels": [0, 1]}),
            r"float64 \(2, 3072\)",
        ),
        (
            lambda p: _rewrite(p, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}),
            "not 2 integers",
        ),
        (
            lambda p: _rewrite(p, {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}),
            r"labels outside \[0, 10\)",
        ),
    ],
)
def test_malformed_pickle(tmp_path: Path, damage, message: str) -> None:
    folder = make_fake_cifar(tmp_path)
    damage(folder / "data_batch_2")
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("cifar10", folder)
    assert "data_batch_2" in str(info.value)
    assert "expected" in str(info.value) and "cifar.html" in str(info.value)


# ----------------------------------------------------------------------------------- download


def _tar_gz(
    path: Path,
    members: dict[str, bytes] | None = None,
    source: Path | None = None,
    arcname: str = "",
) -> str:
    """Write a .tar.gz (a folder and/or raw members) and return its MD5."""
    with tarfile.open(path, "w:gz") as tar:
        if source is not None:
            tar.add(source, arcname=arcname)
        for name, data in (members or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_verifies_and_extracts(tmp_path: Path) -> None:
    source = make_fake_cifar(tmp_path / "src", n_train=6, n_test=2)
    archive = tmp_path / "cifar-10-python.tar.gz"
    md5 = _tar_gz(archive, source=source, arcname="cifar-10-batches-py")
    dest = tmp_path / "data"
    saved = _fetch_cifar("cifar10", dest, url=archive.as_uri(), md5=md5.upper())
    assert saved == dest / "cifar-10-python.tar.gz" and saved.is_file()
    assert not (dest / "cifar-10-python.tar.gz.part").exists()
    splits = load_dataset("cifar10", dest, augment=False)
    assert len(splits.train) == 6
    # a verified archive already there is reused, not fetched again
    assert _fetch_cifar("cifar10", dest, url="file:///nonexistent.tar.gz", md5=md5) == saved
    # download=True with complete files present does not touch the network
    assert len(load_dataset("cifar10", dest, download=True).test) == 2


def test_download_rejects_wrong_checksum(tmp_path: Path) -> None:
    source = make_fake_cifar(tmp_path / "src", n_train=5, n_test=1)
    archive = tmp_path / "archive.tar.gz"
    _tar_gz(archive, source=source, arcname="cifar-10-batches-py")
    dest = tmp_path / "data"
    with pytest.raises(DatasetError, match=r"MD5 [0-9a-f]{32} is not the expected 0{32}.*deleted"):
        _fetch_cifar("cifar10", dest, url=archive.as_uri(), md5="0" * 32)
    assert list(dest.iterdir()) == []  # nothing kept, nothing extracted
    with pytest.raises(DatasetError, match="could not download"):
        _fetch_cifar("cifar10", dest, url=(tmp_path / "absent.tar.gz").as_uri(), md5="0" * 32)


@pytest.mark.parametrize("bad", ["../escape.txt", "/tmp/absolute.txt", "ok/../../escape.txt"])
def test_extract_rejects_unsafe_members(tmp_path: Path, bad: str) -> None:
    archive = tmp_path / "evil.tar.gz"
    md5 = _tar_gz(archive, {"cifar-10-batches-py/test_batch": b"x", bad: b"evil"})
    dest = tmp_path / "a" / "data"
    with pytest.raises(DatasetError, match="refusing to extract the unsafe member"):
        _fetch_cifar("cifar10", dest, url=archive.as_uri(), md5=md5)
    assert not (dest / "cifar-10-batches-py").exists()  # nothing extracted at all
    assert not (tmp_path / "a" / "escape.txt").exists()


def test_extract_rejects_links(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    with pytest.raises(DatasetError, match="unsafe member"):
        _fetch_cifar("cifar10", tmp_path / "data", url=archive.as_uri(), md5=md5)
