"""Images and labels from a NumPy `.npz` file with arrays `x` and `y`."""

from pathlib import Path

import torch

from advkit.data.dataset import Dataset, DataSource, to_images
from advkit.errors import DataError


class NPZ(DataSource):
    """`FILE.npz` with `x` (uint8 0-255 or float; N x H x W or N x C x H x W) and integer `y`."""

    name = "npz"

    @classmethod
    def claims(cls, spec: str) -> bool:
        return spec.endswith(".npz") and Path(spec).is_file()

    def load(self, split: str) -> Dataset:
        import numpy as np

        path = Path(self.location or "")
        if not path.is_file():
            raise DataError(f"data file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive or "y" not in archive:
                    raise DataError(f"{path} must hold arrays 'x' and 'y', found {sorted(archive.files)}")
                x, y = archive["x"], archive["y"]
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: 'y' must be a 1-D integer array, got {y.dtype} of shape {list(y.shape)}")
        return Dataset(to_images(x, str(path)), torch.from_numpy(y.astype(np.int64)), path.name)
