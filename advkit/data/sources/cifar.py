"""CIFAR-10 and CIFAR-100 in their two published formats, read per sample, and their checksummed download.

Binary format (`cifar-10-batches-bin/data_batch_{1..5}.bin`, `test_batch.bin`, `batches.meta.txt`;
`cifar-100-binary/train.bin`, `test.bin`, `fine_label_names.txt`, `coarse_label_names.txt`): records
of label byte(s) then 3,072 pixel bytes; only the labels are read up front (in chunks), each image
with one positioned read when asked for, so memory does not grow with the set.
Python format (`cifar-10-batches-py/data_batch_{1..5}`, `test_batch`, `batches.meta`;
`cifar-100-python/train`, `test`, `meta`): pickles, read by a restricted unpickler (numpy arrays,
lists, dicts, strings and numbers only: a pickle that names any other code is refused and never
runs), held as their uint8 arrays (150 MB for the 50,000 training images).
"""

from __future__ import annotations

import bisect
import contextlib
import os
from pathlib import Path
from typing import ClassVar

import torch

from advkit.data.dataset import LazySet
from advkit.data.sources import safe_pickle
from advkit.data.sources.download import extract, fetch
from advkit.data.sources.images import SizedSource, resize_crop
from advkit.errors import DataError, UsageError

PIXELS = 3 * 32 * 32
URL = "https://www.cs.toronto.edu/~kriz/"
# The tarballs and MD5s published on https://www.cs.toronto.edu/~kriz/cifar.html
ARCHIVES = {
    ("cifar10", "python"): ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    ("cifar10", "binary"): ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),
    ("cifar100", "python"): ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
    ("cifar100", "binary"): ("cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"),
}


class _Layout:
    """Where one dataset's files are, per format: folder name, files per split, class-name files."""

    def __init__(self, folder_bin, folder_py, bin_splits, py_splits, names_bin, names_py):
        self.folder = {"binary": folder_bin, "python": folder_py}
        self.splits = {"binary": bin_splits, "python": py_splits}
        self.names = {"binary": names_bin, "python": names_py}


class _CIFAR(SizedSource):
    splits = ("train", "test", "all")
    classes: int
    layout: _Layout
    label_keys: dict[str, tuple[str, int]]  # label kind -> (python key, byte in a binary record)
    label_bytes: int

    def load(self, split: str) -> CIFARSet:
        root = self.root(self.name)
        folder, fmt = self._find(root)
        label = self.options.get("label", "fine")
        wanted = ("train", "test") if split == "all" else (split,)
        files = [folder / f for s in wanted for f in self.layout.splits[fmt][s](folder)]
        if not files:
            raise DataError(f"{folder}: no {self.name} {split} files ({fmt} format)")
        names = self._class_names(folder, fmt, label)
        read = self._binary if fmt == "binary" else self._python
        parts = [read(f, label) for f in files]
        meta = {"format": fmt, "folder": str(folder), **self.size_meta()}
        if len(self.label_keys) > 1:
            meta["label"] = label
        return CIFARSet(parts, self.name, names, meta, self.resize, self.crop)

    def _find(self, root: Path) -> tuple[Path, str]:
        """The extracted folder (root itself or the published folder inside it) and its format."""
        for fmt in ("binary", "python"):
            for folder in (root / self.layout.folder[fmt], root):
                if folder.is_dir() and any((folder / f).is_file() for s in ("train", "test")
                                           for f in self.layout.splits[fmt][s](folder, all_names=True)):
                    return folder, fmt
        expected = " or ".join(self.layout.folder.values())
        raise DataError(f"{root} holds no {self.name} files: expected {expected} (as extracted from the "
                        f"published tarballs; get them with `advkit download {self.name} DIR`)")

    def _binary(self, path: Path, label: str) -> tuple:
        import numpy as np

        record = self.label_bytes + PIXELS
        size = path.stat().st_size
        if size == 0 or size % record:
            raise DataError(f"{path} is truncated or corrupt: {size} bytes is not a whole number of "
                            f"{record}-byte records")
        labels = []
        column = self.label_keys[label][1]
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(record * 4096), b""):
                labels.append(np.frombuffer(chunk, dtype=np.uint8).reshape(-1, record)[:, column].astype(np.int64))
        return _Records(path, record, self.label_bytes), self._check_labels(np.concatenate(labels), path, label)

    def _python(self, path: Path, label: str) -> tuple:
        import numpy as np

        batch = _text_keys(safe_pickle.load(path), path)
        key = self.label_keys[label][0]
        data, labels = batch.get("data"), batch.get(key)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
            raise DataError(f"{path}: 'data' must be a uint8 array of N x {PIXELS} pixels, got "
                            f"{getattr(data, 'dtype', type(data).__name__)} {list(getattr(data, 'shape', []))}")
        try:
            labels = np.asarray(labels, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(f"{path}: {key!r} must be a list of class indices") from None
        if len(labels) != len(data):
            raise DataError(f"{path}: {len(data)} images but {len(labels)} {key!r}")
        return data, self._check_labels(labels, path, label)

    def _check_labels(self, labels, path: Path, label: str):
        classes = self._count(label)
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise DataError(f"{path}: label {int(labels.max())} is not below {classes} classes: corrupt file")
        return labels

    def _count(self, label: str) -> int:
        return self.classes if label == "fine" else 20

    def _class_names(self, folder: Path, fmt: str, label: str) -> list[str]:
        count = self._count(label)
        where, key = self.layout.names[fmt][label]
        path = folder / where
        if not path.is_file():
            return [str(i) for i in range(count)]
        if fmt == "binary":
            names = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
        else:
            names = _text_keys(safe_pickle.load(path), path).get(key)
            names = [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names or []]
        names = [n for n in names if n]
        if len(names) != count:
            raise DataError(f"{path}: {len(names)} class names, expected {count}")
        return names


def _text_keys(obj, path: Path) -> dict:
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _numbered(stem: str, suffix: str = ""):
    """Files `stem_1`, `stem_2`, ... present in a folder (all the published names with `all_names`)."""
    def files(folder: Path, all_names: bool = False) -> list[str]:
        names = [f"{stem}_{i}{suffix}" for i in range(1, 6)]
        return names if all_names else [n for n in names if (folder / n).is_file()]
    return files


def _one(name: str):
    def files(folder: Path, all_names: bool = False) -> list[str]:
        return [name] if all_names or (folder / name).is_file() else []
    return files


class CIFAR10(_CIFAR):
    """`cifar10:DIR`: CIFAR-10 (10 classes, 32x32 RGB) from cifar-10-batches-bin/ or cifar-10-batches-py/
    (DIR is that folder or its parent); train = data_batch_1..5, test = test_batch."""

    name = "cifar10"
    classes = 10
    label_bytes = 1
    label_keys: ClassVar = {"fine": ("labels", 0)}
    layout = _Layout("cifar-10-batches-bin", "cifar-10-batches-py",
                     {"train": _numbered("data_batch", ".bin"), "test": _one("test_batch.bin")},
                     {"train": _numbered("data_batch"), "test": _one("test_batch")},
                     {"fine": ("batches.meta.txt", None)}, {"fine": ("batches.meta", "label_names")})

    def __init__(self, location: str | None = None, resize: int | str | None = None, crop: int | str | None = None):
        """Spec options (`DIR:key=value`), also keyword arguments.

        Args:
            resize: scale the shorter side to N pixels, or to exactly HxW.
            crop: centre crop of N x N or HxW pixels, after the resize.
        """
        super().__init__(location, resize, crop)


class CIFAR100(_CIFAR):
    """`cifar100:DIR`: CIFAR-100 (100 fine or 20 coarse classes, 32x32 RGB) from cifar-100-binary/ or
    cifar-100-python/ (DIR is that folder or its parent); train and test files."""

    name = "cifar100"
    classes = 100
    label_bytes = 2
    label_keys: ClassVar = {"fine": ("fine_labels", 1), "coarse": ("coarse_labels", 0)}
    layout = _Layout("cifar-100-binary", "cifar-100-python",
                     {"train": _one("train.bin"), "test": _one("test.bin")},
                     {"train": _one("train"), "test": _one("test")},
                     {"fine": ("fine_label_names.txt", None), "coarse": ("coarse_label_names.txt", None)},
                     {"fine": ("meta", "fine_label_names"), "coarse": ("meta", "coarse_label_names")})

    def __init__(self, location: str | None = None, resize: int | str | None = None, crop: int | str | None = None,
                 label: str = "fine"):
        """Spec options (`DIR:key=value`), also keyword arguments.

        Args:
            resize: scale the shorter side to N pixels, or to exactly HxW.
            crop: centre crop of N x N or HxW pixels, after the resize.
            label: fine (100 classes) or coarse (20 superclasses).
        """
        super().__init__(location, resize, crop, label=label)
        if self.options["label"] not in self.label_keys:
            raise UsageError(f"cifar100 label must be fine or coarse, got {self.options['label']!r}")


class _Records:
    """The pixels of a binary CIFAR file, one positioned read per image (a descriptor per process)."""

    def __init__(self, path: Path, record: int, skip: int):
        self.path, self.record, self.skip = path, record, skip
        self._fd, self._pid = None, None

    def __getitem__(self, row: int):
        import numpy as np

        if self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        data = os.pread(self._fd, PIXELS, row * self.record + self.skip)
        if len(data) != PIXELS:
            raise DataError(f"{self.path} is truncated: record {row} is incomplete")
        return np.frombuffer(data, dtype=np.uint8)

    def __del__(self):
        if self._fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)


class CIFARSet(LazySet):
    """CIFAR images from one or more batch files (`parts`: (pixel rows, labels) pairs), read per sample."""

    def __init__(self, parts, name: str, class_names, meta: dict, resize=None, crop=None):
        import numpy as np

        self.parts, self.name, self.class_names, self.meta = parts, name, class_names, meta
        self.resize, self.crop = resize, crop
        self.starts = np.cumsum([0] + [len(labels) for _, labels in parts]).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        part = bisect.bisect_right(self.starts, i) - 1
        pixels, labels = self.parts[part]
        row = i - self.starts[part]
        x = torch.from_numpy(pixels[row].reshape(3, 32, 32).copy()).float().div_(255.0)
        if self.resize or self.crop:
            x = resize_crop(x, self.resize, self.crop, what=f"{self.name} image {i}")
        return x, int(labels[row])

    @property
    def y(self) -> torch.Tensor:
        import numpy as np

        return torch.from_numpy(np.concatenate([labels for _, labels in self.parts]))


def download(name: str, root, fmt: str = "python", mirrors=(URL,), timeout: float = 60.0) -> Path:
    """Fetch the `name` (cifar10, cifar100) tarball in `fmt` (python, binary) into `root`, check its MD5,
    and extract it there safely; returns the extracted folder."""
    archive, checksum = ARCHIVES[(name, fmt)]
    root = Path(root)
    path = fetch(archive, checksum, root, mirrors, timeout)
    extract(path, root)
    source = CIFAR10 if name == "cifar10" else CIFAR100
    return root / source.layout.folder[fmt]
