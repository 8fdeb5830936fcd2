"""Target labels for targeted attacks: random wrong class, least likely, next class, or a given class."""

from __future__ import annotations

import torch

from advkit.errors import UsageError

MODES = ("random", "least-likely", "next")


def choose_targets(mode: str | int, logits: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None):
    """Targets for labels `y`: `random` (uniform over wrong classes), `least-likely`, `next` ((y+1) mod K)
    or an integer class for every sample."""
    num_classes = logits.shape[1]
    if isinstance(mode, int) or (isinstance(mode, str) and mode.isdigit()):
        target = int(mode)
        if not 0 <= target < num_classes:
            raise UsageError(f"target class {target} is not in [0, {num_classes})")
        return torch.full_like(y, target)
    if mode == "random":
        offset = torch.randint(1, num_classes, y.shape, generator=generator).to(y.device)
        return (y + offset) % num_classes
    if mode == "least-likely":
        return logits.argmin(dim=1)
    if mode == "next":
        return (y + 1) % num_classes
    raise UsageError(f"unknown target mode {mode!r}; use one of {', '.join(MODES)} or a class number")
