"""Smooth activations of Xie et al. 2020, and the ReLU whose backward pass can be made smooth."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


class ParametricSoftplus(nn.Module):
    """log(1 + exp(alpha x)) / alpha, alpha = 10: gradient sigmoid(alpha x), close to ReLU."""

    name = "psoftplus"

    def __init__(self, alpha: float = 10.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return nn.functional.softplus(x, beta=self.alpha)


class SmoothReLU(nn.Module):
    """x - log(1 + alpha x) / alpha for x >= 0, else 0 (alpha = 10): ReLU with a continuous gradient."""

    name = "smoothrelu"

    def __init__(self, alpha: float = 10.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        positive = x.clamp(min=0)
        return positive - torch.log1p(self.alpha * positive) / self.alpha


class _ReLUWithSmoothGradient(torch.autograd.Function):
    """ReLU forward; backward uses sigmoid(alpha x) when `smooth`, else the step function."""

    @staticmethod
    def forward(ctx, x, alpha: float, smooth: bool):
        ctx.save_for_backward(x)
        ctx.alpha, ctx.smooth = alpha, smooth
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        slope = torch.sigmoid(ctx.alpha * x) if ctx.smooth else (x > 0).to(grad.dtype)
        return grad * slope, None, None


class SmoothBackwardReLU(nn.Module):
    """ReLU forward, sigmoid(alpha x) gradient backward (alpha = 10; Xie et al.'s ablation).

    `smooth` says whether the backward pass is smooth; it is read when the forward pass runs, so
    `smooth_backward(model, on)` around attack generation or around the training forward pass
    gives the smooth gradient to the attacker only, the optimiser only, or both.
    """

    name = "sbrelu"

    def __init__(self, alpha: float = 10.0, smooth: bool = True):
        super().__init__()
        self.alpha = alpha
        self.smooth = smooth

    def forward(self, x):
        return _ReLUWithSmoothGradient.apply(x, self.alpha, self.smooth)


@contextmanager
def smooth_backward(model: nn.Module, smooth: bool):
    """Set the backward mode of every `SmoothBackwardReLU` in `model` inside the block."""
    modules = [m for m in model.modules() if isinstance(m, SmoothBackwardReLU)]
    saved = [m.smooth for m in modules]
    for m in modules:
        m.smooth = smooth
    try:
        yield
    finally:
        for m, mode in zip(modules, saved):
            m.smooth = mode
