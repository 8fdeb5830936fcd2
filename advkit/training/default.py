"""The embedded default: a small CNN trained on scikit-learn's digits on first use, then cached."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from pathlib import Path

from advkit.reporting.files import write_text
from advkit.training.loop import TrainConfig

SPEC = "cnn"
DATA = "digits"
RECIPE = TrainConfig(epochs=15, lr=2e-3, batch_size=64, seed=0)
FILE = "default-cnn-digits-v1.safetensors"
LOCK = FILE + ".lock"  # concurrent first uses train once: the others wait on it


def cache_dir() -> Path:
    """`ADVKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/advkit`, else `~/.cache/advkit`."""
    if os.environ.get("ADVKIT_CACHE_DIR"):
        return Path(os.environ["ADVKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "advkit"


def default_model(device=None):
    """The cached default model; trained (a few seconds on 2 cores) and saved on first use.

    The cache file's SHA-256 is kept beside it (`FILE.sha256`): a corrupt or truncated file is
    retrained with a note. Concurrent first uses train once: the others wait on a lock file in the
    cache folder. An unwritable cache is named (with `ADVKIT_CACHE_DIR`) and the model trained for
    this run only.
    """
    directory = cache_dir()
    path = directory / FILE
    model = _cached(path, note=True)
    if model is None:
        with _lock(directory) as writable:
            model = _cached(path, note=False) if writable else None  # another process may have trained it
            if model is None:
                model = _train(path if writable else None)
    return model.to(device) if device is not None else model


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _note(text: str) -> None:
    print(f"advkit: {text}", file=sys.stderr)


def _cached(path: Path, *, note: bool):
    """The model cached at `path` if it is there, whole and loadable, else None (with a note if it is broken)."""
    from advkit.errors import AdvkitError
    from advkit.models import checkpoints

    try:
        if not path.is_file():
            return None
        digest = _digest(path)
        recorded = _checksum_file(path)
        expected = recorded.read_text().split()[0] if recorded.is_file() else None
    except (OSError, IndexError):
        expected, digest = "unreadable", None
    if expected is not None and expected != digest:
        if note:
            _note(f"the cached default model {path} is corrupt or truncated (checksum mismatch); retraining it")
        return None
    try:
        model = checkpoints.load(path)
    except Exception as exc:  # a cache written before checksums, and broken (or unreadable)
        if note:
            _note(f"the cached default model {path} cannot be read ({type(exc).__name__}); retraining it")
        return None
    if expected is None:  # written before checksums: record it now that it loaded
        with contextlib.suppress(OSError, AdvkitError):
            write_text(_checksum_file(path), f"{digest}  {path.name}\n")
    return model


@contextlib.contextmanager
def _lock(directory: Path):
    """Hold the cache's lock file (yields True), or yield False with a note when the cache is not writable."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / LOCK, "a+b")
    except OSError as exc:
        _unwritable(directory, exc.strerror or str(exc))
        yield False
        return
    try:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: concurrent first runs may each train
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _note(f"waiting for another advkit process to finish the default model (lock {directory / LOCK})")
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:  # a filesystem without locks: go on without one
                pass
        yield True
    finally:
        handle.close()  # releases the lock


def _unwritable(directory: Path, reason: str) -> None:
    _note(f"cannot write the default-model cache {directory} ({reason}); set ADVKIT_CACHE_DIR to a writable "
          "folder; using the model trained now for this run only")


def _train(path: Path | None):
    """Train the default model; save it (and its checksum) at `path` unless None or unwritable."""
    from advkit.data.dataset import load_data
    from advkit.errors import AdvkitError
    from advkit.models import checkpoints
    from advkit.models.load import load_model
    from advkit.seeding import seed_everything
    from advkit.training.loop import train

    where = f", cached in {path}" if path is not None else ", not cached"
    _note(f"training the default {SPEC} on {DATA} (first use{where})")
    data = load_data(DATA, split="train")
    seed_everything(RECIPE.seed)
    model = load_model(SPEC, input_shape=data.input_shape, num_classes=data.num_classes,
                       class_names=data.class_names)
    train(model, data.x, data.y, RECIPE, progress=False)
    if path is None:
        return model
    try:
        checkpoints.save(model, path, extra={"trained_on": f"{DATA} train split", "recipe": vars(RECIPE)})
        write_text(_checksum_file(path), f"{_digest(path)}  {path.name}\n")
        return checkpoints.load(path)
    except (AdvkitError, OSError) as exc:
        _unwritable(path.parent, str(exc))
        return model
