"""The examples figure of an attack run: clean | perturbation | adversarial, with predicted labels."""

from __future__ import annotations

from pathlib import Path

from advkit.reporting.figures import image, pyplot
from advkit.reporting.files import save_figure


def examples_figure(path, result, model, class_names=None, rows: int = 6) -> Path:
    """Rows of clean | perturbation | adversarial, each with predicted label and confidence."""
    import torch

    from advkit.models.inference import logits_of

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
