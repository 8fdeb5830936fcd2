"""MNIST from IDX files (gzipped or not), and a checksummed downloader for machines with a network."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch

from advkit.data.dataset import Dataset, DataSource
from advkit.data.sources.download import fetch
from advkit.data.sources.split import split_indices
from advkit.errors import DataError

MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
TEST_FRACTION_WITHOUT_TRAIN = 0.2


class MNIST(DataSource):
    """`mnist:DIR` with the IDX files; with only the t10k files, a fixed 8,000/2,000 train/test split of them."""

    name = "mnist"
    splits = ("train", "test", "all")

    def load(self, split: str) -> Dataset:
        root = Path(self.location or "")
        if not root.is_dir():
            raise DataError(f"MNIST directory not found: {root} (get the files with `advkit download mnist DIR`)")
        has_train = _find(root, "train-images-idx3-ubyte") is not None
        has_test = _find(root, "t10k-images-idx3-ubyte") is not None
        if not (has_train or has_test):
            raise DataError(f"{root} holds no MNIST IDX files (train-images-idx3-ubyte, t10k-images-idx3-ubyte)")
        meta = {}
        if has_train and has_test:
            prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[split]
            x, y = _concat([_read_pair(root, p) for p in prefixes])
        else:
            x, y = _read_pair(root, "train" if has_train else "t10k")
            index = split_indices(len(y), split, TEST_FRACTION_WITHOUT_TRAIN)
            x, y = x[index], y[index]
            meta["split_note"] = (f"only the {'train' if has_train else 't10k'} files are present: "
                                  f"split {1 - TEST_FRACTION_WITHOUT_TRAIN:.0%}/{TEST_FRACTION_WITHOUT_TRAIN:.0%} "
                                  "with a fixed seed")
        return Dataset(x, y, "mnist", [str(i) for i in range(10)], meta)


def _find(root: Path, stem: str) -> Path | None:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_pair(root: Path, prefix: str):
    images = _find(root, f"{prefix}-images-idx3-ubyte")
    labels = _find(root, f"{prefix}-labels-idx1-ubyte")
    if images is None or labels is None:
        raise DataError(f"{root}: {prefix} images or labels file missing")
    x = read_idx(images)
    y = read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise DataError(f"{root}: {prefix} IDX files have shapes {list(x.shape)} and {list(y.shape)}")
    return torch.from_numpy(x).float().unsqueeze(1) / 255.0, torch.from_numpy(y.astype("int64"))


def _concat(pairs):
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


def read_idx(path: Path):
    """Read an IDX file (unsigned-byte data only, as MNIST uses), gzipped or not."""
    import numpy as np

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    count = int(np.prod(shape)) if shape else 0
    if len(data) != header + count:
        raise DataError(f"{path} is truncated or corrupt: expected {header + count} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def download(root, mirrors=MIRRORS, files=None, timeout: float = 60.0) -> list[Path]:
    """Fetch the MNIST files into `root`, checking each MD5; files already present and valid are kept."""
    files = FILES if files is None else files
    return [fetch(name, checksum, Path(root), mirrors, timeout) for name, checksum in files.items()]
