"""An image folder: one subfolder per class, images of one size inside."""

import warnings
from collections import Counter
from pathlib import Path

import torch

from advkit.data.dataset import Dataset, DataSource
from advkit.errors import DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class ImageFolder(DataSource):
    """DIR/<class>/<image>: classes are the sorted subfolder names; grayscale if every image is."""

    name = "imagefolder"

    @classmethod
    def claims(cls, spec: str) -> bool:
        path = Path(spec)
        return path.is_dir() and any(p.is_dir() for p in path.iterdir())

    def load(self, split: str) -> Dataset:
        import numpy as np
        from PIL import Image, UnidentifiedImageError

        root = Path(self.location or "")
        if not root.is_dir():
            raise DataError(f"image folder not found: {root}")
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        files = [(f, label) for label, c in enumerate(classes)
                 for f in sorted((root / c).iterdir()) if f.suffix.lower() in EXTENSIONS]
        if not files:
            raise DataError(f"{root}: no images found in class subfolders")
        images = []
        for f, _ in files:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    with Image.open(f) as im:
                        images.append(im.convert("RGB") if im.mode not in ("L", "1") else im.convert("L"))
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise DataError(f"refused image {f}: {exc}") from None
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
                raise DataError(f"cannot read image {f}: {exc}") from None
        gray = all(im.mode == "L" for im in images)
        arrays = [np.asarray(im if gray else im.convert("RGB")) for im in images]
        sizes = Counter(a.shape[:2] for a in arrays)
        if len(sizes) > 1:
            common = sizes.most_common(1)[0][0]
            odd, shape = next((f, a.shape[:2]) for (f, _), a in zip(files, arrays) if a.shape[:2] != common)
            raise DataError(f"image {odd} is {shape[1]}x{shape[0]} pixels, the others {common[1]}x{common[0]} "
                            f"({len(sizes)} sizes in {root}); resize them to one size")
        x = np.stack(arrays).astype(np.float32) / 255.0
        x = x[:, None] if gray else x.transpose(0, 3, 1, 2)
        y = torch.tensor([label for _, label in files], dtype=torch.long)
        return Dataset(torch.from_numpy(np.ascontiguousarray(x)), y, root.name, classes)
