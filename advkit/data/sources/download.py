"""Downloads with MD5 checks, and safe extraction of the tarballs (for machines with a network)."""

from __future__ import annotations

import hashlib
import sys
import tarfile
import urllib.request
from pathlib import Path

from advkit.errors import DataError
from advkit.reporting.files import atomic_path


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, checksum: str, root: Path, mirrors, timeout: float = 60.0) -> Path:
    """`root/name` from the first of `mirrors` (base URLs) that serves it with MD5 `checksum`.

    A file already there with that checksum is kept. The download streams into a temporary file
    beside the target; a failed or mismatching one is removed, never left under the final name.
    """
    root = Path(root)
    target = root / name
    if target.is_file() and md5(target) == checksum:
        return target
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except (OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            continue
        try:
            with response, atomic_path(target) as tmp:
                _copy_checked(response, tmp, checksum, url)
        except _Failed as exc:
            errors.append(str(exc))
            continue
        print(f"downloaded {name}", file=sys.stderr)
        return target
    raise DataError(f"could not download {name}: " + "; ".join(errors))


class _Failed(Exception):
    """A download that broke off or has the wrong checksum (raised inside `atomic_path`: the file is discarded)."""


def _copy_checked(response, path: Path, checksum: str, url: str) -> None:
    digest = hashlib.md5()
    try:
        with open(path, "wb") as f:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                f.write(block)
    except OSError as exc:
        raise _Failed(f"{url}: {exc}") from None
    if digest.hexdigest() != checksum:
        raise _Failed(f"{url}: checksum mismatch (MD5 {digest.hexdigest()}, expected {checksum})")


def extract(archive: Path, root: Path) -> None:
    """Unpack a tarball into `root`, refusing absolute paths, `..`, links out of `root` and devices."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    except tarfile.FilterError as exc:
        raise DataError(f"refused {archive}: unsafe member ({exc})") from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"cannot extract {archive}: {exc}") from None
