"""What the image sources share: `DIR:key=value` spec options, reading one image file, resize and crop.

`resize=N` scales the shorter side to N pixels (aspect kept, as torchvision's `Resize(N)`),
`resize=HxW` to exactly H x W; `crop=N` / `crop=HxW` takes the centre (torchvision's `CenterCrop`).
Resizing is bilinear with antialiasing, on the image in [0, 1].
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from advkit.data.dataset import DataSource, LazySet
from advkit.errors import DataError, UsageError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*=")


def split_options(location: str | None) -> tuple[str, dict[str, str]]:
    """`DIR:resize=256:crop=224` as ("DIR", {"resize": "256", "crop": "224"}); a ':' inside DIR stays."""
    parts = (location or "").split(":")
    while len(parts) > 1 and _OPTION.match(parts[-1]):
        parts.pop()
    path = ":".join(parts)
    options = {}
    for item in filter(None, (location or "")[len(path):].split(":")):
        key, _, value = item.partition("=")
        options[key.replace("-", "_")] = value
    return path, options


def parse_size(value, what: str) -> tuple[int, ...] | None:
    """None, N or "HxW" as None, (N,) or (H, W); anything else is a UsageError."""
    if value is None:
        return None
    text = str(value).strip().lower()
    match = re.fullmatch(r"(\d+)(?:x(\d+))?", text)
    size = tuple(int(g) for g in match.groups() if g is not None) if match else ()
    if not size or min(size) < 1:
        raise UsageError(f"{what} must be a positive size N or HxW, got {value!r}")
    return size


def resize_crop(x: torch.Tensor, resize: tuple[int, ...] | None, crop: tuple[int, ...] | None,
                what: str = "image") -> torch.Tensor:
    """A C x H x W image in [0, 1], resized (shorter side, or exact HxW) then centre-cropped."""
    if resize is not None:
        h, w = x.shape[-2:]
        if len(resize) == 1:
            short, long = (h, w) if h <= w else (w, h)
            new_long = int(resize[0] * long / short)
            size = (resize[0], new_long) if h <= w else (new_long, resize[0])
        else:
            size = resize
        if tuple(size) != (h, w):
            x = torch.nn.functional.interpolate(x[None], size=size, mode="bilinear", antialias=True,
                                                align_corners=False)[0].clamp_(0.0, 1.0)
    if crop is not None:
        ch, cw = crop * 2 if len(crop) == 1 else crop
        h, w = x.shape[-2:]
        if ch > h or cw > w:
            raise DataError(f"{what} is {w}x{h} pixels, smaller than the crop {cw}x{ch} (resize it first: "
                            f"resize={max(ch, cw)})")
        top, left = round((h - ch) / 2.0), round((w - cw) / 2.0)
        x = x[:, top:top + ch, left:left + cw]
    return x.contiguous()


def read_image(path: Path, channels: int | None = None) -> torch.Tensor:
    """One image file as C x H x W float32 in [0, 1]: `channels` 1 (grayscale), 3 (RGB) or None (1 for a
    grayscale file, else 3). Decompression bombs and unreadable files are DataErrors."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                gray = im.mode in ("L", "1", "I", "I;16", "F", "LA") if channels is None else channels == 1
                array = np.asarray(im.convert("L" if gray else "RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"refused image {path}: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None
    x = torch.from_numpy(array.copy()).float().div_(255.0)
    return x[None] if x.ndim == 2 else x.permute(2, 0, 1).contiguous()


class SizedSource(DataSource):
    """A source whose images may be resized and cropped, with `DIR:key=value` spec options.

    A subclass's options are the keyword parameters of its `__init__` (after `location`), which
    passes them on to this one; spec options (strings, converted by that signature) win over them.
    The rest land in `self.options`.
    """

    def __init__(self, location: str | None = None, resize: int | str | None = None,
                 crop: int | str | None = None, **options):
        """Spec options (`DIR:key=value`), also keyword arguments.

        Args:
            location: the directory (with `:key=value` options after it).
            resize: scale the shorter side to N pixels, or to exactly HxW.
            crop: centre crop of N x N or HxW pixels, after the resize.
        """
        from advkit.plugins.schema import bind

        path, raw = split_options(location)
        super().__init__(path or None)
        values = {"resize": resize, "crop": crop, **options, **bind(type(self), raw, what=f"data {self.name!r}")}
        self._given = set(raw)
        self.resize = parse_size(values.pop("resize"), "resize")
        self.crop = parse_size(values.pop("crop"), "crop")
        self.options = values

    def set_size(self, resize=None, crop=None) -> None:
        for key, value in (("resize", resize), ("crop", crop)):
            if value is None:
                continue
            size = parse_size(value, f"--{key}")
            if key in self._given and size != getattr(self, key):
                raise UsageError(f"--{key} {value} contradicts {key}= in the data spec")
            setattr(self, key, size)

    def root(self, what: str) -> Path:
        """The spec's directory; a DataError when it is not one."""
        root = Path(self.location or "")
        if not self.location or not root.is_dir():
            raise DataError(f"{what} directory not found: {self.location or '(none given)'}")
        return root

    def size_meta(self) -> dict:
        """The resize and crop in effect, for the set's `meta`."""
        return {k: "x".join(map(str, v)) for k, v in (("resize", self.resize), ("crop", self.crop)) if v}


class ImageFiles(LazySet):
    """Image files with labels, each decoded, resized and cropped when read; every sample must come out
    the size of the first (else a DataError naming the file, suggesting a crop)."""

    def __init__(self, files: list[Path], labels: list[int], name: str, class_names, meta: dict,
                 resize=None, crop=None, channels: int | None = None):
        self.files, self.labels = files, labels
        self.name, self.class_names, self.meta = name, class_names, meta
        self.resize, self.crop = resize, crop
        self.channels = channels
        self._shape = None

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        if self._shape is None:
            first = self._read(0)
            self._shape, self.channels = tuple(first.shape), first.shape[0]
            if i == 0:
                return first, self.labels[0]
        x = self._read(i)
        if tuple(x.shape) != self._shape:
            (h, w), (h0, w0) = x.shape[-2:], self._shape[-2:]
            raise DataError(f"image {self.files[i]} is {w}x{h} pixels, the others {w0}x{h0} (as {self.files[0].name}"
                            f"{', after resize/crop' if self.resize or self.crop else ''}): give them one size "
                            "with crop=N (--crop N) or resize=HxW")
        return x, self.labels[i]

    @property
    def y(self) -> torch.Tensor:
        return torch.tensor(self.labels, dtype=torch.long)

    @property
    def input_shape(self) -> tuple[int, ...]:
        if self._shape is None and len(self):
            self[0]
        return self._shape or ()

    def _read(self, i: int) -> torch.Tensor:
        return resize_crop(read_image(self.files[i], self.channels), self.resize, self.crop, what=str(self.files[i]))


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, sorted by name."""
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in EXTENSIONS and f.is_file())
