"""Datasets: images as float tensors (N, C, H, W) in [0, 1] with integer labels.

A `--data` spec is `digits` (the embedded default), `mnist:DIR`, `FILE.npz` or an image folder
(one subfolder per class); plugins add more through `register_datasets`.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from pathlib import Path

import torch

from advkit.errors import DataError, UsageError

SPLITS = ("train", "test", "all")
_SIZE: contextvars.ContextVar = contextvars.ContextVar("advkit_image_size", default=(None, None))


class SampleSet:
    """Samples read one at a time: `len(s)`, `s[i] -> (image C x H x W float32 in [0, 1], label int)`.

    The interface every consumer streams through (`advkit.data.stream.batches`); a source whose
    data do not fit in memory (CIFAR, ImageNet, image folders) subclasses it and reads lazily.
    In-memory sets (`Dataset`) also have `x` and `y` tensors; lazy ones (`LazySet`) materialise
    them on request, for small data only.
    """

    name: str = ""
    class_names: list[str] | None = None
    meta: dict

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, i: int):
        raise NotImplementedError

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self[0][0].shape) if len(self) else ()

    @property
    def num_classes(self) -> int:
        if self.class_names:
            return len(self.class_names)
        y = self.y
        return int(y.max().item()) + 1 if len(y) else 0

    def subset(self, index) -> SampleSet:
        return Subset(self, torch.as_tensor(index, dtype=torch.long).flatten())

    def describe(self) -> dict:
        return {"name": self.name, "n": len(self), "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, **self.meta}


class LazySet(SampleSet):
    """Base of sets read on demand; `x` and `y` materialise every sample (small data only)."""

    @property
    def x(self) -> torch.Tensor:
        return torch.stack([self[i][0] for i in range(len(self))]) if len(self) else torch.zeros(0)

    @property
    def y(self) -> torch.Tensor:
        return torch.tensor([int(self[i][1]) for i in range(len(self))], dtype=torch.long)


class Subset(LazySet):
    """The samples of `base` at `index`, in that order, read lazily."""

    def __init__(self, base: SampleSet, index: torch.Tensor):
        self.base, self.index = base, index
        self.name, self.class_names, self.meta = base.name, base.class_names, dict(base.meta)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        return self.base[int(self.index[i])]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.base.input_shape


@dataclass
class Dataset(SampleSet):
    """Images `x` (float32, N x C x H x W), labels `y` (int64), held in memory, and where they came from."""

    x: torch.Tensor
    y: torch.Tensor
    name: str
    class_names: list[str] | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.x.ndim != 4:
            raise DataError(f"data {self.name!r}: images must be N x C x H x W, got shape {list(self.x.shape)}")
        if self.y.ndim != 1 or len(self.y) != len(self.x):
            raise DataError(f"data {self.name!r}: {len(self.x)} images but labels of shape {list(self.y.shape)}")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def num_classes(self) -> int:
        if self.class_names:
            return len(self.class_names)
        return int(self.y.max().item()) + 1 if len(self.y) else 0

    def subset(self, index) -> Dataset:
        return Dataset(self.x[index], self.y[index], self.name, self.class_names, dict(self.meta))


class DataSource:
    """Base class of data sources. Subclasses set `name` and implement `load(split)`.

    `location` is the part after `name:` in the spec (a directory or file), or None.
    A source that recognises bare paths (like `FILE.npz`) overrides `claims(spec)`.
    """

    name: str = ""
    splits: tuple[str, ...] = ("all",)

    def __init__(self, location: str | None = None):
        self.location = location

    @classmethod
    def claims(cls, spec: str) -> bool:
        return False

    def load(self, split: str) -> Dataset:
        raise NotImplementedError

    def set_size(self, resize=None, crop=None) -> None:
        """Apply `--resize`/`--crop` (sources of resizable images override this; the rest refuse)."""
        if resize is not None or crop is not None:
            raise UsageError(f"--resize/--crop apply to image sources (cifar10, cifar100, imagenet, imagefolder), "
                             f"not to {self.name!r} data")


def resolve_source(spec: str) -> DataSource:
    """The data source a `--data` spec names."""
    from advkit.plugins.registry import registry

    entries = registry().all("datasets")
    name, sep, location = spec.partition(":")
    if name in {r.name for r in entries} | {r.qualified_name for r in entries}:
        return registry().lookup("datasets", name).cls(location or None)
    for entry in entries:
        if entry.cls.claims(spec):
            return entry.cls(spec)
    if Path(spec).suffix or "/" in spec or Path(spec).exists():
        raise DataError(f"data not found or not a recognised format: {spec}")
    registry().lookup("datasets", name)  # raises "unknown dataset ... did you mean"
    raise AssertionError("unreachable")


@contextlib.contextmanager
def image_size(resize=None, crop=None):
    """`--resize`/`--crop` for the `load_data` calls inside the block that pass none of their own."""
    token = _SIZE.set((resize, crop))
    try:
        yield
    finally:
        _SIZE.reset(token)


def load_data(spec: str = "digits", split: str = "test", n: int | None = None, seed: int = 0,
              bounds: tuple[float, float] | None = (0.0, 1.0), resize=None, crop=None) -> SampleSet:
    """Load `spec`, pick `split`, take the first `n` samples after a shuffle seeded by `seed`, validate.

    An in-memory source gives a `Dataset`, validated here; a lazy one stays lazy (`n` picks a
    `Subset`) and its samples are validated batch by batch by whoever streams them.

    `bounds=None` skips the pixel-range check (the caller checks against the model's bounds).
    `resize` (shorter side N, or "HxW") and `crop` (centre N or "HxW") apply to image sources
    (default: those of an enclosing `image_size` block, the CLI's `--resize`/`--crop`).
    """
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    source = resolve_source(spec)
    outer = _SIZE.get()
    source.set_size(outer[0] if resize is None else resize, outer[1] if crop is None else crop)
    if split != "all" and split not in source.splits:
        split = "all"
    data = source.load(split)
    if isinstance(data, Dataset):  # a lazy set is never materialised here: its samples are checked as they stream
        if not data.x.is_floating_point():
            raise DataError(f"data {spec!r}: images must be floating point after loading")
        data.x = data.x.float()
        data.y = data.y.long()
    if n is not None:
        if n < 1:
            raise UsageError(f"--n must be at least 1, got {n}")
        if n > len(data):
            raise UsageError(f"--n {n} is larger than the data ({len(data)} samples in {spec!r}, split {split})")
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
        data = data.subset(order)
    data.meta.update({"spec": spec, "split": split})
    if isinstance(data, Dataset):
        validate(data, bounds=bounds)
    return data


def validate(data: SampleSet, bounds=(0.0, 1.0), num_classes: int | None = None) -> None:
    """Reject NaN/Inf, pixels outside `bounds` (unless None) and labels outside [0, num_classes).

    A lazy set is read batch by batch (`advkit.data.stream.batches`), never held whole.
    """
    from advkit.data.stream import batches

    what = f"data {data.name!r}"
    for _, x, y in ([(None, data.x, data.y)] if isinstance(data, Dataset) else batches(data)):
        check_inputs(x, bounds, what=what)
        check_labels(y, num_classes, what=what)


def check_inputs(x: torch.Tensor, bounds, what: str = "inputs") -> None:
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
        raise DataError(f"{what}: {bad} sample(s) contain NaN or Inf")
    if bounds is None:
        return
    lo, hi = bounds
    tol = 1e-6 * max(1.0, hi - lo)
    if len(x) and (x.min() < lo - tol or x.max() > hi + tol):
        raise DataError(f"{what}: pixel values span [{x.min():.4g}, {x.max():.4g}], outside the model's "
                        f"input bounds [{lo:g}, {hi:g}] (set --bounds, or rescale the data)")


def check_labels(y: torch.Tensor, num_classes: int | None, what: str = "labels") -> None:
    if len(y) and y.min() < 0:
        raise DataError(f"{what}: negative label {int(y.min())}")
    if num_classes is not None and len(y) and y.max() >= num_classes:
        raise DataError(f"{what}: label {int(y.max())} is not below the model's {num_classes} classes")


def to_images(array, name: str) -> torch.Tensor:
    """uint8 0-255 or float arrays, N x H x W or N x C x H x W, as float32 N x C x H x W."""
    import numpy as np

    array = np.asarray(array)
    if array.ndim == 3:
        array = array[:, None]
    if array.ndim != 4:
        raise DataError(f"{name}: images must be N x H x W or N x C x H x W, got shape {list(array.shape)}")
    if array.shape[-1] in (1, 3, 4) and array.shape[1] > 4:
        raise DataError(f"{name}: images look channels-last (N x H x W x C = {' x '.join(map(str, array.shape))}); "
                        "advkit reads N x C x H x W: save x = np.transpose(x, (0, 3, 1, 2))")
    if array.dtype == np.uint8:
        return torch.from_numpy(array.astype(np.float32) / 255.0)
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{name}: images must be numbers, got dtype {array.dtype}")
    return torch.from_numpy(array.astype(np.float32))


def check_batch(model, x, y) -> None:
    """Clear errors for inputs that do not fit the model: shape, NaN, bounds, labels."""
    expected = tuple(getattr(model, "input_shape", x.shape[1:]))
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise DataError(f"model expects inputs of shape N x {' x '.join(map(str, expected))}, "
                        f"got {' x '.join(map(str, x.shape))}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"labels must be a vector of {len(x)} class indices, got shape {list(y.shape)}")
    check_inputs(x, getattr(model, "bounds", (0.0, 1.0)))
    check_labels(y, getattr(model, "num_classes", None))
