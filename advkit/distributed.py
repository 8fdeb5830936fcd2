"""torch.distributed under torchrun: join the process group, shard samples, gather per-sample results.

`torchrun --nproc_per_node=N -m advkit COMMAND ...` starts N processes with `WORLD_SIZE`, `RANK` and
`LOCAL_RANK` set; `session()` initialises the group for the command (gloo for CPU tensors, NCCL for
CUDA ones when CUDA is present, each process on `cuda:LOCAL_RANK`), with a timeout on every collective
(`ADVKIT_DIST_TIMEOUT` seconds, default 600), and destroys it on exit and on error. Outside torchrun
every helper answers for one process (rank 0 of 1); inside a group the caller initialised, that group
is used and left to the caller. Collectives move tensors only (JSON as bytes): nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

from advkit.errors import AdvkitError, UsageError

if TYPE_CHECKING:
    import torch

TIMEOUT_ENV = "ADVKIT_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 600.0  # seconds a collective may wait for a rank before the run fails


class RankFailed(AdvkitError):
    """A collective failed or timed out: another rank died, raised or hangs."""


def launched() -> bool:
    """True in a process torchrun started with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ


def active() -> bool:
    """True inside an initialised process group of more than one rank (torch is not imported to answer)."""
    if "torch.distributed" not in sys.modules:
        return False
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if active() else 0


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if active() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", rank()) or 0)


def is_main() -> bool:
    """Rank 0 (or the only process): the one that prints and writes result files."""
    return rank() == 0 if active() else not launched() or os.environ.get("RANK") == "0"


def label() -> str:
    """`rank R of N: ` in a torchrun process or a group (the CLI's error lines name their rank), else empty."""
    if active():
        return f"rank {rank()} of {world_size()}: "
    return f"rank {os.environ['RANK']} of {os.environ['WORLD_SIZE']}: " if launched() else ""


def describe() -> dict:
    """What a summary records about the process group: world size, backend, shard rule (empty outside one)."""
    if not active():
        return {}
    import torch.distributed as dist

    return {"world_size": world_size(), "backend": str(dist.get_backend()),
            "shards": "contiguous, no padding (the first n % world ranks one sample more)"}


def timeout() -> timedelta:
    raw = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise UsageError(f"{TIMEOUT_ENV} must be a number of seconds > 0, got {raw!r}")
    return timedelta(seconds=seconds)


@contextlib.contextmanager
def session():
    """The process group for one command under torchrun; nothing outside it, nothing when one exists."""
    if not launched():  # nothing to join (and torch not imported: `advkit --help` stays fast)
        yield
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        yield
        return
    backend = "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank())  # "cuda" now means cuda:LOCAL_RANK for this process
        backend = "cpu:gloo,cuda:nccl"
    try:
        dist.init_process_group(backend, timeout=timeout())
    except (RuntimeError, ValueError) as exc:
        raise RankFailed(f"cannot join the torchrun process group: "
                         f"{_first_line(exc)}") from None
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # a peer already gone must not hide the error that ended the run
            dist.destroy_process_group()


def shard(n: int, rank_: int | None = None, world: int | None = None) -> range:
    """Sample positions of `rank_`'s contiguous shard of `n`: no padding, the first n % world shards one longer."""
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    size, extra = divmod(n, world)
    start = rank_ * size + min(rank_, extra)
    return range(start, start + size + (rank_ < extra))


def gather_rows(t: torch.Tensor) -> torch.Tensor:
    """Every rank's `t` (same trailing shape and dtype, any length) concatenated along dim 0 in rank order,
    on every rank; `t` itself outside a group."""
    if not active():
        return t
    import torch
    import torch.distributed as dist

    if t.dtype == torch.bool:  # gloo gathers no bool tensors
        return gather_rows(t.to(torch.uint8)).bool()
    local = t.detach().cpu().contiguous()
    lengths = _collect(torch.tensor([len(local)]))
    longest = int(lengths.max())
    padded = torch.zeros((longest, *local.shape[1:]), dtype=local.dtype)
    padded[:len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    _checked(dist.all_gather, parts, padded)
    return torch.cat([part[:int(n)] for part, n in zip(parts, lengths)])


def gather_json(obj) -> list:
    """Every rank's JSON-serialisable `obj`, in rank order (`[obj]` outside a group)."""
    if not active():
        return [obj]
    import torch

    data = torch.frombuffer(bytearray(json.dumps(obj).encode()), dtype=torch.uint8)
    lengths = _collect(torch.tensor([len(data)]))
    flat = gather_rows(data)
    out, start = [], 0
    for n in lengths.tolist():
        out.append(json.loads(bytes(flat[start:start + n].tolist()).decode()))
        start += n
    return out


def barrier() -> None:
    if active():
        import torch.distributed as dist

        _checked(dist.barrier)


def _collect(value: torch.Tensor) -> torch.Tensor:
    """One small int64 tensor per rank, stacked in rank order."""
    import torch
    import torch.distributed as dist

    parts = [torch.empty_like(value) for _ in range(world_size())]
    _checked(dist.all_gather, parts, value)
    return torch.cat(parts)


def _checked(collective, *args):
    """Run a collective; a dead, failed or hanging peer becomes one RankFailed line naming this rank."""
    try:
        return collective(*args)
    except RuntimeError as exc:  # torch.distributed.DistError and its timeouts are RuntimeErrors
        raise RankFailed(f"another rank failed or did not answer within {timeout().total_seconds():g} s "
                         f"({_first_line(exc)[:200]}); the run is stopped") from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
