"""What a model's layers see: the leaf layers a forward pass calls, in order, and one layer's outputs."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerCall:
    """One call of a leaf layer during a forward pass: its name in `named_modules`, input and output."""

    name: str
    module: nn.Module
    inputs: torch.Tensor
    outputs: torch.Tensor


def trace_layers(model: nn.Module, x: torch.Tensor) -> list[LayerCall]:
    """Every leaf layer called by `model(x)`, in call order, with its (detached) input and output."""
    names = {module: name for name, module in model.named_modules()}
    calls: list[LayerCall] = []

    def record(module, inputs, outputs):
        if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(outputs, torch.Tensor):
            calls.append(LayerCall(names[module], module, inputs[0].detach(), outputs.detach()))

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return calls


def layer_outputs(model: nn.Module, module: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The outputs of `module` (a layer of `model`) for all of `x`, flattened per sample, on the CPU."""
    device = next(model.parameters()).device
    chunks: list[torch.Tensor] = []
    hook = module.register_forward_hook(lambda _m, _i, out: chunks.append(out.detach().flatten(1).cpu()))
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                model(x[start:start + batch_size].to(device))
    finally:
        hook.remove()
    return torch.cat(chunks)
