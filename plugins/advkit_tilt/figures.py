"""Figures of the boundary-tilting analyses: mirror images, the tilting plane, local tilts, the sweep."""

from __future__ import annotations

import advkit

from . import geometry


def _display(x, bounds):
    lo, hi = bounds
    return ((x - lo) / (hi - lo)).float()


def mirror_figure(x, w, b, bounds, classes):
    """Rows of input | mirror image | projected image, with each one's signed distance d."""
    plt = advkit.pyplot()
    d = geometry.signed_distance(x, w, b)
    d_mirror = geometry.signed_distance(geometry.mirror(x, w, b), w, b)
    d_projected = geometry.signed_distance(geometry.projected(x, w, b), w, b)
    fig, axes = plt.subplots(len(x), 3, figsize=(5.4, 1.9 * len(x)), squeeze=False)
    for row in range(len(x)):
        cells = ((x[row], f"input d={d[row]:.2f}"),
                 (geometry.mirror(x[row:row + 1], w, b)[0], f"mirror d={d_mirror[row]:.2f}"),
                 (geometry.projected(x[row:row + 1], w, b)[0], f"projected d={d_projected[row]:.1e}"))
        for col, (img, title) in enumerate(cells):
            advkit.image(axes[row, col], _display(img, bounds), title)
    fig.suptitle(f"classes {classes[0]} (d<0) vs {classes[1]} (d>0); mirror images are not clipped", fontsize=8)
    return fig


def plane_figure(x, signs, w, b, classes):
    """The data on the tilting plane (z, unit part of w orthogonal to z) with both boundaries."""
    plt = advkit.pyplot()
    p, q, (a, c) = geometry.plane_coordinates(x, signs, w)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for sign, cls, color in ((-1, classes[0], "tab:blue"), (1, classes[1], "tab:orange")):
        mask = signs == sign
        ax.scatter(p[mask].numpy(), q[mask].numpy(), s=4, alpha=0.5, color=color, label=f"class {cls}")
    q_lo, q_hi = float(q.min()), float(q.max())
    midpoint = 0.5 * (float(p[signs < 0].mean()) + float(p[signs > 0].mean()))
    ax.axvline(midpoint, color="gray", linestyle="--", label="nearest-centroid boundary")
    if abs(a) > 1e-12:  # w lies in the plane (w = a z + c u), so its boundary there is a p + c q + b = 0
        ax.plot([-(c * q_lo + b) / a, -(c * q_hi + b) / a], [q_lo, q_hi], color="black", label="classifier boundary")
    ax.set_xlabel("z = (j - i) / ||j - i||")
    ax.set_ylabel("unit part of w orthogonal to z")
    ax.legend(fontsize=7)
    ax.set_title("tilting plane", fontsize=9)
    return fig


def local_figure(angles, distances):
    """Histograms of the local tilt angle and the linearised distance to the boundary."""
    plt = advkit.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    left.hist(angles.numpy(), bins=30, color="tab:blue")
    left.set_xlabel("local tilt angle (rad)")
    right.hist(distances.numpy(), bins=30, color="tab:orange")
    right.set_xlabel("|s(x)| / ||grad s(x)||")
    for ax in (left, right):
        ax.set_ylabel("inputs")
    return fig


def sweep_figure(rows, x, ends, bounds, regulariser: str):
    """theta, d_adv and errors against the regularisation strength, with mirror images at both ends."""
    plt = advkit.pyplot()
    strengths = [r[regulariser] for r in rows]
    fig = plt.figure(figsize=(11, 3.2 + 1.6 * len(x)))
    grid = fig.add_gridspec(1 + len(x), 4)
    panels = (("theta", "tilting angle (rad)"), ("d_adv", "adversarial distance"),
              (("train_error", "test_error"), "error"), ("norm_w", "||w||"))
    for col, (keys, label) in enumerate(panels):
        ax = fig.add_subplot(grid[0, col])
        for key in (keys if isinstance(keys, tuple) else (keys,)):
            ax.plot(strengths, [r[key] for r in rows], marker="o", markersize=3, label=key)
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_xlabel(f"{regulariser} (weaker to the right)")
        ax.set_ylabel(label)
        if isinstance(keys, tuple):
            ax.legend(fontsize=7)
    for row in range(len(x)):
        advkit.image(fig.add_subplot(grid[row + 1, 0]), _display(x[row], bounds), "input")
        for col, (strength, w, b) in enumerate(ends, start=1):
            advkit.image(fig.add_subplot(grid[row + 1, col]), _display(geometry.mirror(x[row:row + 1], w, b)[0], bounds),
                         f"mirror, {regulariser}={strength:.3g}")
    fig.tight_layout()
    return fig
