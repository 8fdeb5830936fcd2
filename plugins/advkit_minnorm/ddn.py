"""DDN: decoupled direction and norm (Rony et al., CVPR 2019), an L2 minimum-norm attack."""

from __future__ import annotations

import math

from .base import Best, MinNormAttack


class DDN(MinNormAttack):
    """Decoupling Direction and Norm (Rony et al. 2019, "Decoupling Direction and Norm for Efficient
    Gradient-Based L2 Adversarial Attacks and Defenses"): a normalised gradient step on the
    cross-entropy sets the direction, and the L2 norm is set apart, shrunk by `gamma` while the point
    is adversarial and grown while it is not.

    Distance: L2. Returns each sample's smallest adversarial example found (the input where none
    was); with `eps`, that perturbation projected into the eps ball.

    Args:
        eps: None for the unbounded minimum-norm search; else the ball the result is projected into.
        steps: number of iterations.
        alpha: step size (of the L2-normalised gradient, in input units) at the first iteration,
            cosine-annealed to alpha / 100.
        gamma: relative change of the norm per iteration.
        init_norm: the norm of the first perturbation, in input units.
        seed: seeds the random direction taken where the gradient is zero.
    """

    name = "ddn"
    norm = "L2"
    targeted = True
    quick_params = {"steps": 20}  # noqa: RUF012 (a literal, read from source by `advkit list`)

    def __init__(self, model, eps: float | None = None, steps: int = 100, alpha: float = 1.0,
                 gamma: float = 0.05, init_norm: float = 1.0, seed: int = 0):
        super().__init__(model)
        self.eps, self.steps, self.alpha, self.gamma, self.init_norm, self.seed = (
            eps, steps, alpha, gamma, init_norm, seed)
        self._check(("L2",))

    def perturb(self, x, y, targets=None):
        import torch
        import torch.nn.functional as F

        targeted = targets is not None
        labels = targets if targeted else y
        generator = torch.Generator(x.device).manual_seed(self.seed)
        best = Best(x, self.norm)
        largest = self._largest(x)
        size = torch.full_like(largest, self.init_norm)
        delta = torch.zeros_like(x, requires_grad=True)
        view = (-1, *[1] * (x.ndim - 1))
        for i in range(self.steps):
            alpha = self.alpha * (0.01 + 0.99 * (1 + math.cos(math.pi * i / self.steps)) / 2)
            logits = self.model(x + delta)
            loss = F.cross_entropy(logits, labels, reduction="none") * (-1 if targeted else 1)
            grad = torch.autograd.grad(loss.sum(), delta)[0]
            adversarial = best.update(delta, logits, labels, targeted)
            with torch.no_grad():
                length = grad.flatten(1).norm(dim=1)
                flat = length < 1e-12
                if flat.any():
                    grad[flat] = torch.randn(grad[flat].shape, generator=generator, device=x.device, dtype=x.dtype)
                    length = grad.flatten(1).norm(dim=1)
                moved = delta + alpha * grad / length.view(view)
                size = torch.minimum(torch.where(adversarial, size * (1 - self.gamma), size * (1 + self.gamma)),
                                     largest)
                moved = moved * (size / moved.flatten(1).norm(dim=1).clamp_min(1e-12)).view(view)
                delta.data = self._clamped(x, moved)
        with torch.no_grad():
            best.update(delta, self.model(x + delta), labels, targeted)
        return self._finish(x, best)
