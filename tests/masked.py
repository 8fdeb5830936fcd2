"""A model with masked gradients for the evaluate/sanity tests (also usable as `--model tests/masked.py:saturated`)."""

import torch


class Saturated(torch.nn.Module):
    """Logits times 1000: the softmax saturates and float32 cross-entropy gradients are exactly zero."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return 1000 * self.net(x)


def saturated():
    from advkit.default import default_model

    return Saturated(default_model())
