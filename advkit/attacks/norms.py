"""Perturbation norms: the size of a perturbation per norm and the one tolerance of every eps-ball check."""

from __future__ import annotations

NORMS = ("Linf", "L2", "L1", "L0")

RELATIVE_TOLERANCE = 1e-4  # float rounding of a projection onto the ball, relative to eps
ABSOLUTE_TOLERANCE = 1e-6  # and absolute, for eps near 0


def size(delta, norm: str):
    """The `norm` size of each sample of `delta` (N x ...), flattened per sample: a 1-D tensor of N.

    Linf: largest absolute change; L2: Euclidean length; L1: sum of absolute changes; L0: number of
    changed entries (in `delta`'s dtype). A sample with no entries has size 0.
    """
    flat = delta.flatten(1)
    if norm == "Linf":
        return flat.abs().amax(1) if flat.numel() else flat.abs().sum(1)
    if norm == "L2":
        return flat.norm(dim=1)
    if norm == "L1":
        return flat.abs().sum(1)
    if norm == "L0":
        count = (flat != 0).sum(1)
        return count.to(flat.dtype) if flat.is_floating_point() else count
    raise ValueError(f"unknown norm {norm!r} (one of {', '.join(NORMS)})")


def limit(eps: float) -> float:
    """The largest size that still counts as inside the eps ball."""
    return float(eps) * (1 + RELATIVE_TOLERANCE) + ABSOLUTE_TOLERANCE


def within(sizes, eps: float):
    """Which of `sizes` (a tensor from `size`) lie inside the eps ball, up to the one tolerance."""
    return sizes <= limit(eps)
