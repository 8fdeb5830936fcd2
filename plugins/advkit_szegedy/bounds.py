"""Lipschitz upper bounds of single layers (L2 norm, on the layer's actual input shape).

Linear: the largest singular value. Conv2d: Szegedy's Fourier bound (section 4.3) next to power
iteration on the real operator. Averaging layers: Schur's test. Batch normalization (eval mode),
pooling, input normalization and activations: closed forms. Elementwise activations are
1-Lipschitz when |f'| <= 1 (ReLU, ReLU6, leaky ReLU with |slope| <= 1, ELU with alpha <= 1, CELU,
tanh, hardtanh, softplus); SiLU, GELU, Mish, Hardswish and SELU have the larger constants below.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# sup |f'(x)|, found where f'' = 0 and rounded up in the fourth decimal
SMOOTH_CONSTANTS = {
    nn.Sigmoid: 0.25,
    nn.SiLU: 1.0999,  # at x = 2.3994
    nn.GELU: 1.1290,  # at x = sqrt(2) (tanh approximation: 1.12900 at x = 1.4185)
    nn.Mish: 1.0885,  # at x = 1.4906
    nn.Hardswish: 1.5,  # at x = 3
    nn.SELU: 1.7581,  # scale * alpha, as x -> 0-
}
ONE_LIPSCHITZ = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Hardtanh, nn.Softplus, nn.CELU, nn.Flatten, nn.Unflatten, nn.Identity,
                 nn.Dropout)
AVERAGING = (nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)


def layer_bound(module: nn.Module, input_shape, iterations: int = 100, seed: int = 0) -> dict:
    """Upper bound of `module` on inputs of `input_shape` (C x H x W or features), with how it was found.

    Returns `upper_bound` (None when no bound is known), `method`, and for convolutions
    `power_iteration` and `fourier` as well.
    """
    if isinstance(module, nn.Linear):
        return {"upper_bound": float(torch.linalg.matrix_norm(module.weight.detach().double(), ord=2)),
                "method": "largest singular value"}
    if isinstance(module, nn.Conv2d):
        estimate = power_iteration(module, input_shape, iterations, seed)
        fourier = fourier_bound(module, input_shape[-2:])
        return {"upper_bound": fourier if fourier is not None else estimate,
                "method": "Fourier bound" if fourier is not None else "power iteration (estimate)",
                "power_iteration": estimate, "fourier": fourier}
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        scale = 1 / torch.sqrt(module.running_var + module.eps)
        if module.weight is not None:
            scale = scale * module.weight.detach()
        return {"upper_bound": float(scale.abs().max()), "method": "max |gamma / sqrt(var + eps)|"}
    if isinstance(module, (nn.MaxPool1d, nn.MaxPool2d)):
        return {"upper_bound": math.sqrt(_windows_per_input(module)), "method": "sqrt(windows per input)"}
    if isinstance(module, AVERAGING):
        return {"upper_bound": schur_bound(module, input_shape), "method": "Schur test"}
    if isinstance(module, (nn.LeakyReLU, nn.ELU)):
        slope = abs(getattr(module, "negative_slope", getattr(module, "alpha", 1.0)))
        return {"upper_bound": max(1.0, slope), "method": "max |f'|"}
    for kind, constant in SMOOTH_CONSTANTS.items():
        if isinstance(module, kind):
            return {"upper_bound": constant, "method": "max |f'|"}
    if isinstance(module, ONE_LIPSCHITZ):
        return {"upper_bound": 1.0, "method": "1-Lipschitz"}
    if _is_normalization(module):
        return {"upper_bound": float(1 / module.std.min()), "method": "1 / min(std)"}
    return {"upper_bound": None, "method": f"no known bound for {type(module).__name__}"}


def power_iteration(module: nn.Module, input_shape, iterations: int = 100, seed: int = 0) -> float:
    """||A|| of the layer's linear part A (bias removed), by power iteration with A then A^T.

    For a Conv2d, A is conv2d and A^T is conv_transpose2d with the same padding, stride and
    dilation (autograd's backward of the layer itself, so every padding mode is the real one).
    Converges to the operator norm from below.
    """
    weight = next(module.parameters())
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn((1, *input_shape), generator=generator, dtype=weight.dtype).to(weight.device)
    with torch.no_grad():
        offset = module(torch.zeros_like(v))
    norm = 0.0
    with torch.enable_grad():
        for _ in range(iterations):
            v = (v / v.norm()).requires_grad_(True)
            u = module(v) - offset
            norm = float(u.detach().norm())
            (v,) = torch.autograd.grad(u, v, grad_outputs=u.detach())
    return norm


def fourier_bound(conv: nn.Conv2d, input_hw) -> float | None:
    """Szegedy's bound: the sup over frequencies of the largest singular value of the D x (C s^2)
    matrix of the kernels' 2-D DFTs (one block per stride phase).

    Exact for the circular convolution on a grid that holds the zero-padded input; the layer is a
    restriction of it, so this bounds it from above. None for non-zero padding modes.
    """
    if conv.padding_mode != "zeros":
        return None
    weight = _dense_weight(conv).double()
    out_channels, in_channels, k1, k2 = weight.shape
    (d1, d2), (s1, s2) = conv.dilation, conv.stride
    kernel = weight.new_zeros(out_channels, in_channels, d1 * (k1 - 1) + 1, d2 * (k2 - 1) + 1)
    kernel[:, :, ::d1, ::d2] = weight
    padding = _total_padding(conv)
    grid = [math.ceil((size + pad) / s) for size, pad, s in zip(input_hw, padding, (s1, s2))]
    blocks = [torch.fft.fft2(kernel[:, :, a1::s1, a2::s2], s=grid) for a1 in range(s1) for a2 in range(s2)]
    symbol = torch.cat(blocks, dim=1).permute(2, 3, 0, 1)  # frequency x frequency x D x (C s^2)
    return float(torch.linalg.matrix_norm(symbol, ord=2).max())


def schur_bound(module: nn.Module, input_shape) -> float:
    """sqrt(max row sum * max column sum) of a linear layer with non-negative weights (pooling)."""
    ones = torch.ones((1, *input_shape), requires_grad=True)
    with torch.enable_grad():
        rows = module(ones)
        (columns,) = torch.autograd.grad(rows, ones, grad_outputs=torch.ones_like(rows))
    return math.sqrt(float(rows.detach().max()) * float(columns.max()))


def _dense_weight(conv: nn.Conv2d) -> torch.Tensor:
    """The D x C x k x k weight with the zero blocks of a grouped convolution filled in."""
    weight = conv.weight.detach()
    if conv.groups == 1:
        return weight
    out_per, in_per = conv.out_channels // conv.groups, conv.in_channels // conv.groups
    dense = weight.new_zeros(conv.out_channels, conv.in_channels, *weight.shape[2:])
    for g in range(conv.groups):
        dense[g * out_per:(g + 1) * out_per, g * in_per:(g + 1) * in_per] = weight[g * out_per:(g + 1) * out_per]
    return dense


def _total_padding(conv: nn.Conv2d) -> tuple[int, int]:
    if conv.padding == "valid":
        return (0, 0)
    if conv.padding == "same":
        return tuple(d * (k - 1) for d, k in zip(conv.dilation, conv.kernel_size))
    return tuple(2 * p for p in conv.padding)


def _windows_per_input(pool) -> int:
    """How many pooling windows one input can fall into (1 when windows do not overlap)."""
    dims = 2 if isinstance(pool, nn.MaxPool2d) else 1
    kernel, stride, dilation = (_tuple(getattr(pool, a), dims) for a in ("kernel_size", "stride", "dilation"))
    stride = stride or kernel
    return math.prod(min(k, math.ceil((d * (k - 1) + 1) / s)) for k, s, d in zip(kernel, stride, dilation))


def _tuple(value, dims: int):
    if value is None:
        return None
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * dims


def _is_normalization(module: nn.Module) -> bool:
    """advkit's folded-in input normalization ((x - mean) / std with per-channel buffers)."""
    return type(module).__name__ == "Normalize" and isinstance(getattr(module, "std", None), torch.Tensor)
