"""The margin s(x) = logit_j - logit_i of a model on a class pair: values, gradients, linear form."""

from __future__ import annotations

import torch

import advkit


def margin_and_gradient(model, x, classes, batch_size: int = 256):
    """s(x) and grad_x s(x) for every input (float64 on the CPU); the model's mode and grads are left alone."""
    i, j = classes
    device = model.device
    values, grads = [], []
    with advkit.eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device).float().requires_grad_(True)
            logits = model(xb)
            s = logits[:, j] - logits[:, i]
            (grad,) = torch.autograd.grad(s.sum(), xb)
            values.append(s.detach().double().cpu())
            grads.append(grad.double().cpu())
    return torch.cat(values), torch.cat(grads)


def linear_form(model, x, classes, tolerance: float = 1e-3):
    """(w, b) with s(x) = w.x + b on the inputs `x`, or None when the model's margin is not linear there."""
    origin = torch.zeros(1, *x.shape[1:])
    s0, w = margin_and_gradient(model, origin, classes)
    s, _ = margin_and_gradient(model, x, classes)
    predicted = x.flatten(1).double() @ w.flatten() + s0
    if float((predicted - s).abs().max()) > tolerance * (1.0 + float(s.abs().max())):
        return None
    return w.flatten(), float(s0)
