"""Batches of a `SampleSet` through a `torch.utils.data.DataLoader`: the one way data is streamed."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

import torch

from advkit.errors import UsageError


class _Indexed(torch.utils.data.Dataset):
    """(position, image, label) for the samples of `samples` at `positions`."""

    def __init__(self, samples, positions):
        self.samples, self.positions = samples, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int):
        position = int(self.positions[i])
        x, y = self.samples[position]
        return position, x, y


def batches(samples, batch_size: int = 256, *, workers: int = 0, positions=None):
    """Iterate `(positions, x, y)` batches over `samples` in order (`positions`: a subset, default all).

    `workers` > 0 reads in that many background processes (`DataLoader(num_workers=...)`).
    """
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 0:
        raise UsageError(f"--workers must be 0 or more, got {workers}")
    positions = torch.arange(len(samples)) if positions is None else torch.as_tensor(positions, dtype=torch.long)
    # an own generator: the loader's worker seed must not consume the global torch RNG the attacks draw from
    loader = torch.utils.data.DataLoader(_Indexed(samples, positions), batch_size=batch_size, shuffle=False,
                                         num_workers=workers, generator=torch.Generator().manual_seed(0))
    for index, x, y in loader:
        yield index.long(), x.float(), torch.as_tensor(y).long()


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 64 * 1024  # bytes: larger buffers come from (and go back to) the OS directly


@functools.cache
def fix_mmap_threshold() -> None:
    """Make glibc serve buffers of 64 KiB or more from mmap, for the rest of this process.

    glibc raises its mmap threshold each time such a buffer is freed, after which a stream's batch
    buffers pile up in a fragmented heap and peak RSS creeps up with n although nothing held grows
    (`benchmarks/bench_memory.py --unfixed`). `advkit attack` and `evaluate` call this at start;
    Python API users may, or set `MALLOC_MMAP_THRESHOLD_`, which wins. No-op on other C libraries.
    """
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    except (OSError, AttributeError):
        pass
