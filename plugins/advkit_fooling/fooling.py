"""The `fooling` analysis: images that look like noise to us and like a class to the model."""

from __future__ import annotations

import math

import torch

import advkit


class Fooling(advkit.Analysis):
    """Fooling images (Nguyen et al. 2015): noise grown by gradient ascent until the model is 99% sure of a class.

    Starts from uniform noise inside the model's input bounds and takes signed gradient steps
    on log p_target (step_size is a fraction of the bounds' range) until p_target >= confidence
    or max_steps. `target` is a class number or `all` (per_class images for every class). The
    data is used only for its input shape; the report gives each image's confidence and steps.
    """

    name = "fooling"

    def __init__(self, target: str = "all", per_class: int = 1, confidence: float = 0.99,
                 step_size: float = 0.01, max_steps: int = 1000, seed: int = 0):
        if target != "all" and not str(target).isdigit():
            raise advkit.UsageError(f"fooling target must be a class number or 'all', got {target!r}")
        if per_class < 1 or max_steps < 1 or step_size <= 0:
            raise advkit.UsageError("fooling needs per_class >= 1, max_steps >= 1 and step_size > 0")
        if not 0 < confidence < 1:
            raise advkit.UsageError(f"fooling confidence must be in (0, 1), got {confidence}")
        self.target = target
        self.per_class = per_class
        self.confidence = confidence
        self.step_size = step_size
        self.max_steps = max_steps
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        targets = self._targets(model.num_classes).to(model.device)
        x, reached_at = self.grow(model, targets)
        with torch.no_grad():
            p = torch.softmax(model(x), 1)
        p_target = p.gather(1, targets[:, None]).squeeze(1).cpu()
        names = model.class_names or [str(c) for c in range(model.num_classes)]
        images = [{"target": names[int(t)], "confidence": float(c), "steps": int(s) if s >= 0 else None,
                   "reached": bool(s >= 0)} for t, c, s in zip(targets.cpu(), p_target, reached_at)]
        steps = [im["steps"] for im in images if im["reached"]]
        numbers = {
            "images": images,
            "reached": sum(im["reached"] for im in images) / len(images),
            "min_confidence": float(p_target.min()),
            "mean_steps": sum(steps) / len(steps) if steps else None,
        }
        report = advkit.Report(self.name, numbers, {"fooling_images": self._figure(model, x.cpu(), images)})
        if numbers["reached"] < 1:
            report.notes.append(f"{len(images) - len(steps)} images stayed below {self.confidence} after "
                                f"{self.max_steps} steps; raise max_steps or step_size")
        return report

    def grow(self, model, targets):
        """Images (on the model's device) and the step at which each reached the confidence (-1: never)."""
        lo, hi = model.bounds
        generator = torch.Generator().manual_seed(self.seed)
        x = (lo + (hi - lo) * torch.rand(len(targets), *model.input_shape, generator=generator)).to(model.device)
        reached_at = torch.full((len(targets),), -1)
        with advkit.eval_mode(model):
            for step in range(self.max_steps + 1):
                x = x.detach().requires_grad_(True)
                log_p = torch.log_softmax(model(x), 1).gather(1, targets[:, None]).squeeze(1)
                done = (log_p.detach() >= math.log(self.confidence)).cpu()
                reached_at[done & (reached_at < 0)] = step
                if done.all() or step == self.max_steps:
                    break
                (grad,) = torch.autograd.grad(log_p.sum(), x)
                active = (~done).to(x.device).view(-1, *[1] * (x.ndim - 1))
                x = (x + self.step_size * (hi - lo) * grad.sign() * active).clamp(lo, hi)
        return x.detach(), reached_at

    def _targets(self, num_classes: int):
        classes = range(num_classes) if self.target == "all" else [int(self.target)]
        if self.target != "all" and not int(self.target) < num_classes:
            raise advkit.UsageError(f"fooling target {self.target} is out of range: the model has {num_classes} classes")
        return torch.tensor([c for c in classes for _ in range(self.per_class)])

    def _figure(self, model, x, images):
        plt = advkit.pyplot()
        lo, hi = model.bounds
        columns = min(len(images), 10)
        rows = math.ceil(len(images) / columns)
        fig, axes = plt.subplots(rows, columns, figsize=(1.4 * columns, 1.6 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for k, image in enumerate(images):
            advkit.image(axes.flat[k], (x[k] - lo) / (hi - lo), f"{image['target']}: {image['confidence']:.3f}")
        fig.suptitle("fooling images grown from noise (model confidence for the named class)", fontsize=8)
        return fig
