"""Smooth adversarial training: a smooth activation in place of ReLU, then PGD-k adversarial training."""

from __future__ import annotations

import advkit

from .activations import smooth_backward
from .swap import swap_activations

SMOOTH_FOR = ("both", "attacker", "optimizer")
PGD = "torchattacks.pgd"


class SmoothAdversarialTraining(advkit.Defense):
    """Smooth adversarial training (Xie et al. 2020): swap the activations, then train on PGD-k examples.

    `activation` replaces every activation module (psoftplus, silu, gelu, elu, softplus, smoothrelu,
    relu, ...; see `advkit list activations`). `sbrelu` keeps ReLU's forward pass and uses the
    parametric-softplus gradient backward for the `smooth_for` passes: the attacker's (generating
    PGD examples), the optimizer's (the weight update), or both; the trained model is saved as ReLU.
    Training minimises the loss on PGD examples only (Madry et al.): `steps` steps of `step_size`
    in the Linf ball `eps` (input units), from a random start when `random_start`.
    """

    name = "sat"

    def __init__(self, activation: str = "psoftplus", eps: float = 0.1, step_size: float = 0.1, steps: int = 1,
                 random_start: bool = True, smooth_for: str = "both"):
        advkit.make_activation(activation)  # unknown names: UsageError listing the valid ones
        if smooth_for not in SMOOTH_FOR:
            raise advkit.UsageError(f"sat: smooth_for must be one of {', '.join(SMOOTH_FOR)}, got {smooth_for!r}")
        if smooth_for != "both" and activation != "sbrelu":
            raise advkit.UsageError(f"sat: smooth_for={smooth_for} needs activation=sbrelu "
                                    f"({activation} is the same forward and backward)")
        self.activation = activation
        self.eps = eps
        self.step_size = step_size
        self.steps = steps
        self.random_start = random_start
        self.smooth_for = smooth_for
        self.swap: dict = {}

    def apply(self, model, data):
        self.swap = swap_activations(model, self.activation)
        attack, _, _ = advkit.make_attack(PGD, model, eps=self.eps, alpha=self.step_size, steps=self.steps,
                                          random_start=self.random_start, seed=self.settings.seed)
        loss = advkit.AdversarialLoss(
            attack, alpha=0.0,
            attacking=lambda: smooth_backward(model, self.smooth_for in ("both", "attacker")),
            updating=lambda: smooth_backward(model, self.smooth_for in ("both", "optimizer")))
        self.fit(model, data.x, data.y, loss, stage="pgd")
        if self.activation == "sbrelu":
            swap_activations(model, "relu")  # same forward pass: deploy and save a plain ReLU network
        return model

    def report(self) -> dict:
        return {"activation_swap": self.swap, "smooth_for": self.smooth_for, "inner_attack": PGD}
