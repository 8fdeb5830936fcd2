"""Transferability: adversarial examples made on one model, fed to others (Szegedy Tables 3 and 4)."""

from __future__ import annotations

import torch

import advkit

from .checks import at_least, known_attack


class Transfer(advkit.Analysis):
    """Error rates of adversarial examples crafted on each model (rows) and fed to every model (columns).

    Uses the first `samples` inputs that every model classifies correctly, so each cell is the share
    of them misclassified and the diagonal is the white-box success rate. Besides the adversarial
    examples of each source model, rows hold them amplified to a per-pixel std of `stddev`
    (Szegedy used 0.1), Gaussian noise of the same per-pixel std as each sample's adversarial
    perturbation, and Gaussian noise of std `stddev`. Per-pixel std is sqrt(mean(r^2)).
    `attack` is NAME or NAME:key=value:... The default, szegedy.lbfgs, is the paper's: minimal,
    unbounded perturbations, so the transfer rates measure how far the smallest fooling change carries to other models.
    """

    name = "transfer"
    multi_model = True

    def __init__(self, attack: str = "szegedy.lbfgs", samples: int = 100, stddev: float = 0.1, seed: int = 0):
        at_least("szegedy.transfer", 1, samples=samples)
        if not stddev > 0:
            raise advkit.UsageError(f"szegedy.transfer: stddev must be > 0, got {stddev}")
        self.attack = attack
        self.attack_name, self.attack_params = known_attack("szegedy.transfer", attack)
        self.samples = samples
        self.stddev = stddev
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        models = model if isinstance(model, (list, tuple)) else [model]
        labels = [_label(m, i) for i, m in enumerate(models)]
        x, y = data.x[:self.samples], data.y[:self.samples]
        correct = torch.stack([advkit.predict(m, x) == y for m in models]).all(0)
        if not correct.any():
            raise advkit.DataError(f"szegedy.transfer: no sample of the first {len(x)} is classified "
                                   "correctly by every model")
        x, y = x[correct], y[correct]
        generator = torch.Generator().manual_seed(self.seed)
        rows, white_box = [], []
        with advkit.progress(len(models) * len(x), f"analyze szegedy.transfer {self.attack_name}") as meter:
            for source, label in zip(models, labels):
                result = advkit.attack(self.attack_name, source, x, y, seed=self.seed, progress=meter,
                                       **self.attack_params)
                white_box.append(result.success_rate)
                r = result.x_adv - x
                size = _rms(r).view(-1, *[1] * (x.ndim - 1))
                amplified = x + r * (self.stddev / size.clamp_min(1e-12))
                noise = x + torch.randn(x.shape, generator=generator) * size
                rows += [(f"adversarial from {label}", result.x_adv),
                         (f"adversarial from {label}, amplified to std {self.stddev:g}", amplified),
                         (f"Gaussian noise, std of adversarial from {label}", noise)]
        rows.append((f"Gaussian noise, std {self.stddev:g}", x + torch.randn(x.shape, generator=generator) * self.stddev))
        lo, hi = models[0].bounds
        table = []
        for name, examples in rows:
            examples = examples.clamp(lo, hi)
            errors = {label: float((advkit.predict(m, examples) != y).float().mean()) for m, label in zip(models, labels)}
            table.append({"examples": name, "std": float(_rms(examples - x).mean()), **errors})
        numbers = {"models": labels, "samples": len(x), "attack": self.attack, "white_box_success": white_box,
                   "error_rates": table}
        return advkit.Report(self.name, numbers, {"transfer": _heatmap(table, labels)})


def _rms(r: torch.Tensor) -> torch.Tensor:
    return r.flatten(1).pow(2).mean(1).sqrt()


def _label(model, index: int) -> str:
    spec = getattr(model, "spec", None) or {}
    params = ",".join(f"{k}={v}" for k, v in (spec.get("params") or {}).items())
    name = spec.get("architecture", type(model).__name__)
    return f"m{index} {name}" + (f"({params})" if params else "")


def _heatmap(table: list[dict], labels: list[str]):
    plt = advkit.pyplot()
    matrix = [[row[label] for label in labels] for row in table]
    fig, ax = plt.subplots(figsize=(2 + 1.6 * len(labels), 1 + 0.45 * len(table)))
    shown = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i, values in enumerate(matrix):
        for j, value in enumerate(values):
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", color="white" if value < 0.6 else "black",
                    fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(table)), [f"{row['examples']} (std {row['std']:.3f})" for row in table], fontsize=8)
    ax.set_xlabel("evaluated on")
    ax.set_title("Error rate of examples crafted on each model")
    fig.colorbar(shown, ax=ax, label="error rate")
    return fig
