"""What the minimum-norm attacks share: the smallest adversarial example found so far, and the eps ball."""

from __future__ import annotations

import advkit

from .projections import project


class MinNormAttack(advkit.Attack):
    """Base of the minimum-norm attacks: `perturb` tracks, per sample, the smallest adversarial
    perturbation found (`Best`) and returns it; with a numeric `eps` it is projected into the eps ball."""

    norm = "L2"
    eps = None

    def _check(self, norms) -> None:
        if self.norm not in norms:
            raise advkit.UsageError(f"attack {self.name!r}: norm must be one of {', '.join(norms)}, got {self.norm!r}")
        if self.eps is not None and self.eps < 0:
            raise advkit.UsageError(f"attack {self.name!r}: eps must be >= 0 or None, got {self.eps}")

    def _largest(self, x):
        """The largest perturbation size inside the input bounds, per sample."""
        import torch

        lo, hi = self.bounds
        return advkit.perturbation_size(torch.maximum(x - lo, hi - x), self.norm)

    def _clamped(self, x, delta):
        lo, hi = self.bounds
        return (x + delta).clamp(lo, hi) - x

    def _feasible(self, point, grad):
        """`grad` without the components that push pixels already at a bound beyond it (clipping would
        undo them): on saturated images, such as digits, the step then moves pixels that can move."""
        lo, hi = self.bounds
        return grad.masked_fill(((point >= hi) & (grad > 0)) | ((point <= lo) & (grad < 0)), 0.0)

    def _finish(self, x, best):
        """The smallest adversarial examples found (the input where none was), projected into the eps ball."""
        if self.eps is None:
            return best.x_adv
        import torch

        radius = torch.full((len(x),), float(self.eps), device=x.device, dtype=x.dtype)
        return x + self._clamped(x, project(best.x_adv - x, radius, self.norm))


class Best:
    """Per sample, the smallest adversarial perturbation seen and whether any was."""

    def __init__(self, x, norm: str):
        import torch

        self.x, self.norm = x.detach(), norm
        self.x_adv = self.x.clone()
        self.size = torch.full((len(x),), float("inf"), device=x.device, dtype=x.dtype)
        self.found = torch.zeros(len(x), dtype=torch.bool, device=x.device)

    def update(self, delta, logits, labels, targeted: bool):
        """Record the points `x + delta` with `logits` that are adversarial and smaller than the best; return
        which are adversarial."""
        import torch

        with torch.no_grad():
            pred = logits.argmax(1)
            adversarial = pred == labels if targeted else pred != labels
            size = advkit.perturbation_size(delta.detach(), self.norm)
            better = adversarial & (size < self.size)
            self.size = torch.where(better, size, self.size)
            self.x_adv[better] = (self.x + delta.detach())[better]
            self.found |= adversarial
        return adversarial
