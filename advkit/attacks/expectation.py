"""Expectation over Transformation (EOT) for models whose outputs vary between passes.

Attacking a randomised model (noise on the input, random resizing, dropout at test time) through one
pass follows one random draw's gradient; EOT (Athalye et al. 2018) attacks the expectation instead:
`expectation(model, draws)` averages the logits of `draws` passes, so its gradient is the mean of
the draws' gradients. `fooled_by_majority` judges success as AutoAttack's rand version does: a
sample counts as fooled only when most of several predictions misclassify it.
"""

from __future__ import annotations

import torch
from torch import nn


class Expectation(nn.Module):
    """`model`'s logits averaged over `draws` forward passes."""

    def __init__(self, model: nn.Module, draws: int):
        super().__init__()
        self.model, self.draws = model, int(draws)

    def forward(self, x):
        return torch.stack([self.model(x) for _ in range(self.draws)]).mean(0)


def expectation(model, draws: int):
    """An advkit model (same input shape, bounds and classes) whose output is `model`'s mean over `draws` passes."""
    from advkit.models.model import Model

    return Model(Expectation(model, draws), model.input_shape, model.num_classes, bounds=model.bounds,
                 class_names=model.class_names, spec=model.spec)


def fooled_by_majority(model, x, y, draws: int, batch_size: int = 512):
    """Per sample: misclassified by more than half of `draws` predictions of `model`."""
    from advkit.models.inference import predict

    wrong = sum((predict(model, x, batch_size) != y).long() for _ in range(draws))
    return wrong * 2 > draws
