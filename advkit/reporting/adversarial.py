"""`adversarial.npz` written batch by batch: shards on disk while a run streams, one archive at the end.

    writer = AdversarialWriter(out / "adversarial.npz")
    for index, x, y in batches(...):
        ...
        writer.add(index, x_adv, y, pred_clean, pred_adv, targets=t)  # any extra per-sample arrays
    writer.close()  # adversarial.npz: the same file as `np.savez_compressed(x_adv=..., y=..., ...)`

Layout: every `add` writes one uncompressed shard `part-NNNNNN.npz` (its arrays plus `index`, the
samples' positions) atomically into the parts folder, by default `.adversarial.npz.parts` beside the
target. `close` streams the shards, ordered by position, into the final compressed archive (one zip
entry per key, written with the `.npy` header first and then shard after shard, so at most one
shard's array is in memory), renames it into place atomically and removes the parts folder. The
archive holds the keys given to `add` (not `index`): row i is the sample at position i, and the
positions must be exactly 0..n-1 when the writer closes.

Resuming: a writer opened on an existing parts folder continues it; `written` lists the positions
already on disk, `keep_only(positions)` drops the shards a resumed run will redo, and the first
shard fixes the keys, dtypes and shapes that later ones must match. With `keep=True` the shards
survive an error or a kill (for `evaluate --resume`); by default they are removed on error and on
SIGTERM, like every temporary file of `advkit.reporting.files`. A shard half-written when the
process died is a `*.tmp` file that reopening ignores and removes.
"""

from __future__ import annotations

import contextlib
import shutil
import zipfile
from pathlib import Path

import numpy as np

from advkit.errors import DataError, UsageError
from advkit.reporting import files

REQUIRED = ("x_adv", "y", "pred_clean", "pred_adv")


def _array(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.ascontiguousarray(value)


class AdversarialWriter:
    """Adversarial examples and per-sample arrays of a run, added batch by batch, merged at `close()`.

    `path`: the final archive. `parts`: the shard folder (default `.NAME.parts` beside `path`).
    `keep`: leave the shards on disk after an error or SIGTERM so a later writer can resume them.
    Use as a context manager (`close()` on success, `discard()` on error unless `keep`) or call
    `close()` / `discard()` yourself.
    """

    def __init__(self, path, *, parts=None, keep: bool = False):
        self.path = files.check_output_file(path)
        self.parts = Path(parts) if parts is not None else self.path.with_name(f".{self.path.name}.parts")
        self.keep = keep
        self.closed = False
        files.check_output_dir(self.parts)
        self.parts.mkdir(parents=True, exist_ok=True)
        if not keep:
            files._guard_sigterm()
            files._LIVE.add(str(self.parts))  # removed on SIGTERM
        for stale in self.parts.glob(".*.tmp"):  # a shard half-written by a killed process
            stale.unlink(missing_ok=True)
        self._shards: list[tuple[int, Path]] = []  # (first position, file)
        self._written: list[np.ndarray] = []
        self._schema: dict | None = None
        for shard in sorted(self.parts.glob("part-*.npz")):
            with np.load(shard) as arrays:
                index = arrays["index"]
                if self._schema is None:
                    self._schema = {k: (arrays[k].dtype, arrays[k].shape[1:]) for k in arrays.files if k != "index"}
            self._shards.append((int(index.min()) if len(index) else 0, shard))
            self._written.append(index)
        self._seq = max((int(p.stem.split("-")[1]) for _, p in self._shards), default=-1) + 1

    @property
    def written(self) -> np.ndarray:
        """Sorted positions already on disk (int64)."""
        return np.sort(np.concatenate(self._written)) if self._written else np.zeros(0, dtype=np.int64)

    def add(self, index, x_adv, y, pred_clean, pred_adv, **per_sample) -> None:
        """Write one batch: positions `index` (distinct, not written before) and an equal-length row of each array."""
        arrays = {"x_adv": x_adv, "y": y, "pred_clean": pred_clean, "pred_adv": pred_adv, **per_sample}
        arrays = {k: _array(v) for k, v in arrays.items() if v is not None}
        index = _array(index).astype(np.int64).reshape(-1)
        for key, value in arrays.items():
            if value.ndim == 0 or len(value) != len(index):
                raise UsageError(f"adversarial writer: {key} has {len(value) if value.ndim else 0} rows "
                                 f"for {len(index)} positions")
        schema = {k: (v.dtype, v.shape[1:]) for k, v in arrays.items()}
        if self._schema is not None and schema != self._schema:
            raise DataError(f"adversarial writer: this batch ({_describe(schema)}) does not match the shards "
                            f"already in {self.parts} ({_describe(self._schema)})")
        if len(np.unique(index)) != len(index) or np.isin(index, self.written).any():
            raise UsageError("adversarial writer: positions added twice (a resumed run must `keep_only` "
                             "the positions it does not redo)")
        if not len(index):
            return
        self._schema = schema
        shard = self.parts / f"part-{self._seq:06d}.npz"
        with files.atomic_path(shard) as tmp, open(tmp, "wb") as f:
            np.savez(f, index=index, **arrays)
        self._seq += 1
        self._shards.append((int(index.min()), shard))
        self._written.append(index)

    def keep_only(self, positions) -> np.ndarray:
        """Remove every shard holding a position outside `positions`; returns the positions still written."""
        keep = np.asarray(positions, dtype=np.int64)
        pairs = list(zip(self._shards, self._written))
        self._shards, self._written = [], []
        for (first, shard), index in pairs:
            if np.isin(index, keep).all():
                self._shards.append((first, shard))
                self._written.append(index)
            else:
                shard.unlink(missing_ok=True)
        return self.written

    def close(self, n: int | None = None) -> Path:
        """Merge the shards into `path` (positions must be 0..n-1; `n` defaults to the number written)."""
        order = sorted(range(len(self._shards)), key=lambda i: self._shards[i][0])
        merged = np.concatenate([np.sort(self._written[i]) for i in order]) if order else np.zeros(0, np.int64)
        n = int(merged.max()) + 1 if n is None and len(merged) else n or 0
        if self._schema is None:
            raise UsageError(f"adversarial writer: cannot close {self.path}: no samples were added")
        if not np.array_equal(merged, np.arange(n)):
            missing = np.setdiff1d(np.arange(n), merged)
            raise UsageError(f"adversarial writer: cannot close {self.path}: " + (
                f"{len(missing)} of {n} positions missing (first {missing[:5].tolist()})" if len(missing) else
                f"the shards must hold runs of consecutive positions 0..{n - 1}"))
        with files.atomic_path(self.path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for key, (dtype, tail) in self._schema.items():
                with archive.open(f"{key}.npy", "w", force_zip64=True) as entry:
                    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                              "shape": (n, *tail)}
                    np.lib.format.write_array_header_1_0(entry, header)
                    for i in order:
                        with np.load(self._shards[i][1]) as arrays:
                            rows = np.argsort(self._written[i], kind="stable")
                            entry.write(np.ascontiguousarray(arrays[key][rows]).tobytes())
        self._remove_parts()
        self.closed = True
        return self.path

    def discard(self) -> None:
        """Remove the shards without writing the archive."""
        self._remove_parts()

    def _remove_parts(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)
        files._LIVE.discard(str(self.parts))
        self._shards, self._written = [], []

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is None:
            if not self.closed:
                self.close()
        elif not self.keep:
            with contextlib.suppress(OSError):
                self.discard()


def _describe(schema: dict) -> str:
    return ", ".join(f"{k} {dtype} x {list(tail)}" for k, (dtype, tail) in schema.items())
