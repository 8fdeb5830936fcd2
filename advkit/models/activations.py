"""Activation functions by name, for the `activation=` parameter of zoo models."""

from __future__ import annotations

from torch import nn


class ReLU(nn.ReLU):
    """max(0, x)."""

    name = "relu"


class Tanh(nn.Tanh):
    """Hyperbolic tangent."""

    name = "tanh"


class Sigmoid(nn.Sigmoid):
    """Logistic sigmoid."""

    name = "sigmoid"


class Softplus(nn.Softplus):
    """log(1 + exp(x))."""

    name = "softplus"


class SiLU(nn.SiLU):
    """x * sigmoid(x) (Swish)."""

    name = "silu"


class GELU(nn.GELU):
    """x * Phi(x)."""

    name = "gelu"


class ELU(nn.ELU):
    """x if x > 0 else exp(x) - 1 (alpha = 1)."""

    name = "elu"





def make_activation(name: str) -> nn.Module:
    """A fresh activation module registered under `name`; unknown names get a UsageError listing the valid ones."""
    from advkit.errors import UsageError
    from advkit.plugins.registry import registry

    try:
        return registry().lookup("activations", name).cls()
    except UsageError as exc:
        valid = ", ".join(sorted({r.name for r in registry().all("activations")}))
        raise UsageError(f"{exc}; valid: {valid}") from None
