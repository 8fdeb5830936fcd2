"""Models that mislead attacks, for the evaluate/sanity tests (`--model tests/masked.py:saturated` works too)."""

import torch


class Saturated(torch.nn.Module):
    """Logits times 1000: the softmax saturates and float32 cross-entropy gradients are exactly zero."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return 1000 * self.net(x)


class Noisy(torch.nn.Module):
    """Random logits noise even in eval mode: a randomized defense."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        logits = self.net(x)
        return logits + 0.5 * torch.randn_like(logits)


def saturated():
    from advkit.training.default import default_model

    return Saturated(default_model())
