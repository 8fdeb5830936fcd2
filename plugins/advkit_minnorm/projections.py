"""Projections of perturbations onto Linf, L2 and L1 balls of per-sample radii, and the dual norms."""

from __future__ import annotations

import torch

DUAL = {"Linf": "L1", "L2": "L2", "L1": "Linf"}


def _view(values, like):
    return values.view(-1, *[1] * (like.ndim - 1))


def project(delta, radius, norm: str):
    """`delta` (N x ...) projected onto the `norm` balls of radius `radius` (N; may be inf), Euclidean."""
    if norm == "Linf":
        r = _view(radius, delta)
        return torch.maximum(torch.minimum(delta, r), -r)
    if norm == "L2":
        size = delta.flatten(1).norm(dim=1)
        scale = (radius / size.clamp_min(1e-12)).clamp(max=1.0)
        return delta * _view(scale, delta)
    if norm == "L1":
        return project_l1(delta, radius)
    raise ValueError(f"no projection for norm {norm!r}")


def project_l1(delta, radius):
    """Euclidean projection onto the L1 ball (Duchi et al. 2008, sort-based), per sample."""
    flat = delta.flatten(1)
    magnitude = flat.abs()
    inside = magnitude.sum(1) <= radius
    if inside.all():
        return delta
    r = torch.where(inside, torch.zeros_like(radius), radius).unsqueeze(1)  # finite where it matters
    mu = magnitude.sort(dim=1, descending=True).values
    cumulative = mu.cumsum(1)
    ranks = torch.arange(1, flat.shape[1] + 1, device=flat.device, dtype=flat.dtype)
    count = (mu - (cumulative - r) / ranks > 0).sum(1, keepdim=True).clamp_min(1)
    theta = ((cumulative.gather(1, count - 1) - r) / count).clamp_min(0)
    projected = flat.sign() * (magnitude - theta).clamp_min(0)
    return torch.where(inside.unsqueeze(1), flat, projected).view_as(delta)
