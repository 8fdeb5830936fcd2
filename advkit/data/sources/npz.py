"""Images and labels from a NumPy `.npz` file with arrays `x` and `y`."""

import zipfile
import zlib
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
        check_archive(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive or "y" not in archive:
                    raise DataError(f"{path} must hold arrays 'x' and 'y', found {sorted(archive.files)}")
                x, y = archive["x"], archive["y"]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{path}: 'y' must be a 1-D integer array, got {y.dtype} of shape {list(y.shape)}")
        return Dataset(to_images(x, str(path)), torch.from_numpy(y.astype(np.int64)), path.name)


def check_archive(path: Path) -> None:
    """Refuse an empty, truncated or non-zip `.npz`, and arrays whose headers declare more bytes than the
    archive member holds or than this machine's memory, before NumPy allocates anything."""
    import numpy as np

    if path.stat().st_size == 0:
        raise DataError(f"cannot read {path}: the file is empty (0 bytes)")
    if not zipfile.is_zipfile(path):
        raise DataError(f"cannot read {path}: not an .npz archive (truncated or not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    continue
                with archive.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = header(f, max_header_size=10000)
                    offset = f.tell()
                declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
                held = member.file_size - offset
                name = member.filename[:-4]
                if declared > held:
                    raise DataError(f"{path}: array {name!r} declares shape {list(shape)} ({_size(declared)}) "
                                    f"but the archive holds {_size(max(0, held))}: truncated or corrupt")
                if declared > _memory():
                    raise DataError(f"{path}: array {name!r} ({_size(declared)}) is larger than this "
                                    f"machine's memory ({_size(_memory())})")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def _memory() -> int:
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"
