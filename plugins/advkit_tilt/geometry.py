"""Boundary-tilting geometry of a linear classifier s(x) = w.x + b on a class pair (Tanay & Griffin).

Class i is the negative side (y = -1), class j the positive side (y = +1). Everything is
computed in float64 on flattened inputs, so the identities hold to rounding error.
"""

from __future__ import annotations

import math

import torch

import advkit


def select_pair(x, y, classes, num_classes: int, balanced: bool = False, seed: int = 0):
    """Inputs of classes (i, j) and their signs (-1 for i, +1 for j); `balanced` subsamples the larger class."""
    if len(classes) != 2 or classes[0] == classes[1]:
        raise advkit.UsageError(f"classes must be two different class numbers like 3,7, got {classes}")
    i, j = (int(c) for c in classes)
    if not (0 <= i < num_classes and 0 <= j < num_classes):
        raise advkit.UsageError(f"class pair ({i}, {j}) is out of range: the model has {num_classes} classes")
    index_i, index_j = (y == i).nonzero().flatten(), (y == j).nonzero().flatten()
    if not len(index_i) or not len(index_j):
        raise advkit.DataError(f"the data has {len(index_i)} samples of class {i} and {len(index_j)} of class {j}; "
                               "both are needed")
    if balanced:
        n = min(len(index_i), len(index_j))
        generator = torch.Generator().manual_seed(seed)
        index_i = index_i[torch.randperm(len(index_i), generator=generator)[:n]].sort().values
        index_j = index_j[torch.randperm(len(index_j), generator=generator)[:n]].sort().values
    index = torch.cat([index_i, index_j])
    signs = torch.cat([-torch.ones(len(index_i)), torch.ones(len(index_j))]).double()
    return x[index], signs


def signed_distance(x, w, b):
    """d(x) = (w.x + b) / ||w|| for each input."""
    w = w.flatten().double()
    return (x.flatten(1).double() @ w + b) / w.norm()


def mirror(x, w, b):
    """The mirror image x - 2 d(x) w / ||w||: the same distance on the other side of the boundary."""
    return _move(x, w, b, 2.0)


def projected(x, w, b):
    """The projected image x - d(x) w / ||w||: the closest point on the boundary."""
    return _move(x, w, b, 1.0)


def _move(x, w, b, factor: float):
    w = w.flatten().double()
    step = factor * signed_distance(x, w, b)[:, None] * (w / w.norm())[None]
    return (x.flatten(1).double() - step).reshape(x.shape)


def centroid_direction(x, signs):
    """The centroids' difference j - i (flattened, float64)."""
    flat = x.flatten(1).double()
    return flat[signs > 0].mean(0) - flat[signs < 0].mean(0)


def tilt(x, signs, w, b) -> dict:
    """Tilting angle, adversarial and error distances, ||w||, and the identity d_adv = 1/2 ||j - i|| cos(theta).

    d_adv is the mean of y d(x); d_err the mean of max(0, -y d(x)) (misclassified inputs count
    their distance past the boundary, correct ones 0). The identity is exact for balanced classes.
    """
    w = w.flatten().double()
    gap = centroid_direction(x, signs)
    cos = float((w @ gap) / (w.norm() * gap.norm()))
    margin = signs * signed_distance(x, w, b)
    d_adv = float(margin.mean())
    rhs = 0.5 * float(gap.norm()) * cos
    return {
        "theta": math.acos(max(-1.0, min(1.0, cos))),
        "d_adv": d_adv,
        "d_err": float((-margin).clamp(min=0).mean()),
        "error_rate": float((margin <= 0).double().mean()),
        "norm_w": float(w.norm()),
        "centroid_distance": float(gap.norm()),
        "identity": {"d_adv": d_adv, "half_distance_cos_theta": rhs, "gap": d_adv - rhs,
                     "balanced": bool((signs > 0).sum() == (signs < 0).sum())},
    }


def plane_coordinates(x, signs, w):
    """Coordinates of `x` on the tilting plane: along z and along the unit part of w orthogonal to z."""
    z = centroid_direction(x, signs)
    z = z / z.norm()
    w = w.flatten().double()
    rest = w - (w @ z) * z
    u = rest / rest.norm() if rest.norm() > 0 else torch.zeros_like(rest)
    flat = x.flatten(1).double()
    return flat @ z, flat @ u, (float(w @ z), float(w @ u))
