"""The adversarial-training objective shared by every defense that trains on attacked inputs."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, ContextManager

import torch.nn.functional as F


class AdversarialLoss:
    """`alpha * J(x, y) + (1 - alpha) * J(x_adv, y)`, x_adv made by an advkit attack on the model in training.

    Goodfellow et al. use alpha = 0.5 with FGSM; Madry et al. use alpha = 0 with PGD. `attack` is an
    `advkit.Attack` instance bound to the model being trained (see `advkit.make_attack`); its
    contract (eval mode while attacking, no parameter gradients, bounds, eps ball) holds here too.
    `attacking` and `updating` are context factories entered while the attack runs and while the
    training forward pass is built (smooth adversarial training switches backward modes with them).
    """

    def __init__(self, attack, alpha: float = 0.5, *, loss: Callable = F.cross_entropy,
                 attacking: Callable[[], ContextManager] = nullcontext,
                 updating: Callable[[], ContextManager] = nullcontext):
        self.check_alpha(alpha)
        self.attack = attack
        self.alpha = alpha
        self.loss = loss
        self.attacking = attacking
        self.updating = updating

    @staticmethod
    def check_alpha(alpha: float) -> None:
        """UsageError unless the weight of the clean loss `alpha` is in [0, 1]."""
        from advkit.errors import UsageError

        if not 0.0 <= alpha <= 1.0:
            raise UsageError(f"alpha (weight of the clean loss) must be in [0, 1], got {alpha}")

    def __call__(self, model, x, y):
        with self.attacking():
            x_adv = self.attack(x, y) if self.alpha < 1 else None
        with self.updating():
            total = 0.0
            if self.alpha > 0:
                total = total + self.alpha * self.loss(model(x), y)
            if x_adv is not None:
                total = total + (1 - self.alpha) * self.loss(model(x_adv), y)
        return total
