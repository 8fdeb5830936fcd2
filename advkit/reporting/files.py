"""Result files written atomically (a temporary file beside the target, then a rename): text, JSON, NumPy archives, PNG.

Only regular files are replaced (a symlink is written through to its target); a device, FIFO, socket
or directory in the way is refused. An existing file keeps its mode; a new one gets 0666 less the
umask. Temporary files vanish on every failure and on SIGTERM. `file_set` writes several files so
that all or none of them appear.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import math
import os
import shutil
import signal
import stat
import tempfile
import threading
from pathlib import Path

from advkit.errors import AdvkitError, UsageError


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _read_umask()  # read once: changing it briefly is not thread-safe

_LIVE: set[str] = set()  # temporary files and folders being written, removed on SIGTERM
_SHOWN: contextvars.ContextVar = contextvars.ContextVar("advkit_file_set", default=None)  # (staging, target)
_previous_sigterm = None
_guarded = False


def _remove_live() -> None:
    for tmp in list(_LIVE):
        with contextlib.suppress(OSError):
            if os.path.isdir(tmp) and not os.path.islink(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.unlink(tmp)
        _LIVE.discard(tmp)


def _on_sigterm(signum, frame):
    previous = _previous_sigterm
    if callable(previous):  # someone else handles SIGTERM: if it raises, atomic_path's cleanup runs
        return previous(signum, frame)
    _remove_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # die of SIGTERM as before, without leaving *.tmp files behind


def _guard_sigterm() -> None:
    """Install (once, from the main thread) a SIGTERM handler that removes the temporary files first."""
    global _guarded, _previous_sigterm
    if _guarded or threading.current_thread() is not threading.main_thread():
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous is not signal.SIG_IGN:
            _previous_sigterm = previous
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):  # no signals here (embedded interpreter, other platform)
        pass
    _guarded = True


def _shown(path) -> Path:
    """`path` as the user knows it: inside a `file_set`, the target folder instead of the staging one."""
    path = Path(path)
    mapping = _SHOWN.get()
    if mapping is not None:
        stage, target = mapping
        with contextlib.suppress(ValueError):
            return target / path.relative_to(stage)
    return path


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _error(path, exc: OSError, *, folder: bool = False) -> AdvkitError:
    """One line for a failed write of file `path` (or into folder `path`)."""
    path = Path(path)
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        where = path if folder else path.parent
        return AdvkitError(f"no space left on {_shown(where)}" + ("" if folder else f" (writing {path.name})"))
    return AdvkitError(f"cannot write {'into ' if folder else ''}{_shown(path)}: {exc.strerror or exc}")


def _existing(path: Path) -> tuple[Path, os.stat_result | None]:
    """The file a write of `path` replaces (a symlink's target) and its status (None if there is none yet).

    Raises `UsageError` when that is not a regular file.
    """
    real = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    except OSError as exc:
        raise _error(path, exc) from exc
    if not stat.S_ISREG(st.st_mode):
        what = _kind(st.st_mode)
        via = f" (the symlink points to {real})" if real != path else ""
        raise UsageError(f"cannot write {_shown(path)}: it is {what}, not a regular file{via}")
    return real, st


def check_output_file(path) -> Path:
    """Refuse, before any work, an output file that is a device, FIFO, socket or directory."""
    _existing(Path(path))
    return Path(path)


def check_output_dir(path, names=()) -> Path:
    """Refuse, before any work, an output folder that is not a folder, or holds `names` that are not regular files."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise _error(path, exc, folder=True) from exc
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot write into {path}: it is {_kind(st.st_mode).replace('not a regular file', 'a file')}"
                         ", not a directory")
    for name in names:
        _existing(path / name)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path; on success it replaces `path` in one rename, on error it vanishes.

    A symlink is written through (its target is replaced); anything but a regular file in the way is
    refused with `UsageError`. The file keeps the mode of the one it replaces, else gets 0666 less
    the umask; failures to write become one clear `AdvkitError` naming the path ("no space left on
    DIR" for a full disk).
    """
    path = Path(path)
    target, st = _existing(path)
    tmp = None
    _guard_sigterm()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        _LIVE.add(tmp)
        os.close(fd)
        yield Path(tmp)
        _existing(path)  # still a regular file (or nothing) after the write
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~UMASK)
        if st is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
    except OSError as exc:
        raise _error(path, exc) from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            _LIVE.discard(tmp)


@contextlib.contextmanager
def file_set(out: str | os.PathLike):
    """Yield a staging folder beside (or inside) folder `out`; the files written into it appear in
    `out` only once the block ends without error, else none of them do.

    A new `out` is the staging folder renamed into place; into an existing one each file is
    renamed over its namesake (each a regular file or absent, checked before any is moved), and
    the ones already moved are put back if a later one fails.
    """
    out = Path(out)
    check_output_dir(out)
    _guard_sigterm()
    stage = None
    try:
        existed = out.is_dir()
        parent = out if existed else out.parent
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name or 'out'}.", suffix=".tmp", dir=parent))
        _LIVE.add(str(stage))
        token = _SHOWN.set((stage, out))
        try:
            yield stage
        finally:
            _SHOWN.reset(token)
        if not existed and not out.exists():
            os.chmod(stage, 0o777 & ~UMASK)
            try:
                os.rename(stage, out)
                return
            except OSError:  # someone made `out` meanwhile: move the files one by one
                os.chmod(stage, 0o700)
        _move_all(stage, out)
    except OSError as exc:
        raise _error(out, exc, folder=True) from exc
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
            _LIVE.discard(str(stage))


def _move_all(stage: Path, out: Path) -> None:
    names = sorted(p.name for p in stage.iterdir() if p.is_file())
    targets = {name: _existing(out / name) for name in names}  # refuses special files before moving any
    backup = stage / ".previous"
    backup.mkdir()
    done: list[tuple[Path, bool, Path | None]] = []  # (target, existed before, its hard-linked copy)
    try:
        for name in names:
            target, st = targets[name]
            kept = None
            if st is not None:
                os.chmod(stage / name, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):
                    os.link(target, backup / name)
                    kept = backup / name
            os.replace(stage / name, target)
            done.append((target, st is not None, kept))
    except BaseException:
        for target, existed, kept in reversed(done):  # put the previous set back
            with contextlib.suppress(OSError):
                if kept is not None:
                    os.replace(kept, target)
                elif not existed:
                    os.unlink(target)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def to_jsonable(obj):
    """Numbers, tensors and arrays as plain JSON values; non-finite floats as strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if hasattr(obj, "tolist"):
        return to_jsonable(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def dumps(obj) -> str:
    return json.dumps(to_jsonable(obj), indent=2)


def write_json(path, obj) -> Path:
    write_text(path, dumps(obj) + "\n")
    return Path(path)


def write_npz(path, **arrays) -> Path:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(path)


def save_figure(fig, path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(path)
