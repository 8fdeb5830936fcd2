"""Result files: JSON (atomic), NumPy archives, and figures as PNG."""

from __future__ import annotations

import json
import math
from pathlib import Path

from .atomic import atomic_path, write_text


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


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image(ax, x, title: str = "", cmap=None) -> None:
    """Show one C x H x W image on `ax`, without ticks."""
    array = x.detach().cpu().numpy() if hasattr(x, "detach") else x
    if array.shape[0] == 1:
        ax.imshow(array[0], cmap=cmap or "gray", vmin=None if cmap else 0, vmax=None if cmap else 1)
    else:
        ax.imshow(array.transpose(1, 2, 0).clip(0, 1))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def examples_figure(path, result, model, class_names=None, rows: int = 6) -> Path:
    """Rows of clean | perturbation | adversarial, each with predicted label and confidence."""
    import torch

    from .attack import logits_of

    plt = pyplot()
    lo, hi = model.bounds
    fooled = (result.success & result.eligible).nonzero().flatten().tolist()
    rest = [i for i in range(result.n) if i not in set(fooled)]
    index = (fooled + rest)[:rows]
    x_clean = result.x[index]
    x_adv = result.x_adv[index]
    p_clean = torch.softmax(logits_of(model, x_clean), 1)
    p_adv = torch.softmax(logits_of(model, x_adv), 1)
    names = class_names or [str(i) for i in range(p_clean.shape[1])]
    fig, axes = plt.subplots(len(index), 3, figsize=(6, 2.1 * len(index)), squeeze=False, layout="constrained")
    for row, i in enumerate(index):
        delta = (x_adv[row] - x_clean[row]) / (hi - lo)
        scale = float(delta.abs().max()) or 1.0
        c, a = int(p_clean[row].argmax()), int(p_adv[row].argmax())
        image(axes[row, 0], (x_clean[row] - lo) / (hi - lo), f"clean: {names[c]} ({p_clean[row, c]:.0%})")
        image(axes[row, 1], (delta / scale).mean(0, keepdim=True) if delta.shape[0] > 1 else delta / scale,
              f"perturbation (x{1 / scale:.0f})", cmap="seismic")
        image(axes[row, 2], (x_adv[row] - lo) / (hi - lo), f"adversarial: {names[a]} ({p_adv[row, a]:.0%})")
        axes[row, 1].images[0].set_clim(-1, 1)
    fig.suptitle(f"{result.attack}: true label of each row = {', '.join(names[int(result.y[i])] for i in index)}",
                 fontsize=8)
    return save_figure(fig, path)


def write_bundle(out, summary: dict, figures: dict, *, json_name: str = "result.json",
                 markdown=None) -> list[str]:
    """One PNG per figure, the summary as JSON (listing the figures) and, given a `markdown(summary)`
    renderer, report.md; all written atomically. Returns the figure file names."""
    out = Path(out)
    names = [f"{stem}.png" for stem in figures]
    for stem, fig in figures.items():
        save_figure(fig, out / f"{stem}.png")
    summary = {**summary, "figures": names}
    write_json(out / json_name, summary)
    if markdown is not None:
        write_text(out / "report.md", markdown(summary))
    return names


def close_figures(figures: dict) -> None:
    """Release figures that were not saved."""
    plt = pyplot()
    for fig in figures.values():
        plt.close(fig)
