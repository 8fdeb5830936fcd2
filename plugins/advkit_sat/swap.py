"""Swap the activations of any model (zoo, checkpoint or user code) for a registered one, by name."""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

import advkit

from .activations import ParametricSoftplus, SmoothBackwardReLU, SmoothReLU

# Element-wise hidden nonlinearities that are replaced (Softmax and friends are left alone).
MODULE_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU,
                nn.Mish, nn.Softplus, nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
                ParametricSoftplus, SmoothReLU, SmoothBackwardReLU)
FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, F.relu6, F.leaky_relu, F.elu, F.celu, F.selu, F.gelu,
             F.silu, F.mish, F.softplus, F.hardtanh, F.hardswish, torch.tanh, torch.sigmoid, F.sigmoid, F.tanh}
METHODS = {"relu", "relu_", "tanh", "sigmoid", "tanh_", "sigmoid_"}
_TYPE_NAMES = {t.__name__ for t in MODULE_TYPES}


def swap_activations(model: nn.Module, name: str) -> dict:
    """Replace every activation module of `model` in place by a fresh `name`; report what was and was not swapped.

    Functional calls inside `forward` (F.relu, torch.tanh, x.relu()) cannot be replaced: they are
    found with torch.fx and listed (with a warning); TorchScript submodules are listed too.
    A zoo or checkpoint model's spec is updated, so its saved checkpoint rebuilds the new activation.
    """
    advkit.make_activation(name)  # unknown names: UsageError listing the valid ones
    swapped, frozen = [], []
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            path = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(parent, torch.jit.ScriptModule):
                if getattr(child, "original_name", "") in _TYPE_NAMES:
                    frozen.append(f"{path} (TorchScript)")
            elif isinstance(child, MODULE_TYPES):
                setattr(parent, child_name, advkit.make_activation(name).to(_device(model)))
                swapped.append(path)
    functional = functional_activations(model)
    params = getattr(model, "spec", {}).get("params")
    if isinstance(params, dict) and "activation" in params:
        params["activation"] = name
    traced = functional is not None
    report = {"activation": name, "swapped": swapped, "not_swapped": frozen + (functional or []), "traced": traced}
    untraced = [] if traced else ["functional calls unknown (forward not traceable by torch.fx)"]
    missed = report["not_swapped"] + untraced
    if missed:
        warnings.warn(f"activation swap to {name!r} could not replace: {', '.join(missed)}", stacklevel=2)
    return report


def functional_activations(model: nn.Module) -> list[str] | None:
    """Activation calls in `forward` that are functions, not modules (None when torch.fx cannot trace it)."""
    try:
        graph = _ActivationsAsLeaves().trace(model)
    except Exception:
        return None
    return [f"{node.op} {getattr(node.target, '__name__', node.target)} ({node.name})" for node in graph.nodes
            if (node.op == "call_function" and node.target in FUNCTIONS)
            or (node.op == "call_method" and node.target in METHODS)]


class _ActivationsAsLeaves(torch.fx.Tracer):
    """Trace without entering activation modules (they are swapped as modules, not reported as calls)."""

    def is_leaf_module(self, module, qualified_name):
        return isinstance(module, MODULE_TYPES) or super().is_leaf_module(module, qualified_name)


def _device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    return torch.device("cpu")
