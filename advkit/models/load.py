"""Building a model from a `--model` spec.

A `--model` spec is one of:
  * a zoo architecture, optionally with parameters: `cnn`, `mlp:hidden=100-100,activation=silu`
  * an advkit checkpoint: `model.safetensors` or `model.pt` (weights plus metadata)
  * a TorchScript file: `model.ts` / `model.pt` saved with `torch.jit.save`
  * Python code returning an `nn.Module`: `path/to/file.py:func` or `package.module:func`"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from advkit.errors import ModelError, UsageError
from advkit.models.model import Model


def load_model(
    spec: str,
    *,
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    bounds: tuple[float, float] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    device: torch.device | str | None = None,
) -> Model:
    """Build or load the model a `--model` spec names; shape and classes come from the data."""
    from advkit.models import checkpoints

    overrides = {k: v for k, v in dict(bounds=bounds, mean=mean, std=std).items() if v is not None}
    path = Path(spec)
    if path.suffix in checkpoints.SUFFIXES or path.exists():
        model = checkpoints.load(path, input_shape=input_shape, **overrides)
    else:
        if input_shape is None:
            raise UsageError(f"model {spec!r} needs data to know its input shape")
        net, recipe = build_network(spec, input_shape, num_classes)
        model = Model(net, input_shape, num_classes, class_names=class_names, spec=recipe,
                      **{"bounds": (0.0, 1.0), **overrides})
    if device is not None:
        model = model.to(device)
    return model.eval()


def build_network(spec: str, input_shape: Sequence[int], num_classes: int | None) -> tuple[nn.Module, dict]:
    """A fresh `nn.Module` for a zoo name (with parameters) or a `file.py:func` / `module:func` spec."""
    from advkit.plugins import schema as params_mod
    from advkit.plugins.registry import registry

    name, sep, rest = spec.partition(":")
    if name not in _zoo_names():
        if sep and rest:
            return _call_factory(name, rest), {"architecture": spec}
        registry().lookup("models", name)  # raises "unknown model ..., did you mean"
    cls = registry().lookup("models", name).cls
    kwargs = params_mod.bind(cls, dict(_split_kv(rest, spec)), what=f"model {name!r}")
    if num_classes is None:
        raise UsageError(f"model {name!r} needs the number of classes (from --data)")
    try:
        net = cls(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"model {name!r}: {exc}") from None
    effective = {p.name: p.default for p in params_mod.parameters(cls) if not p.required} | kwargs
    return net, {"architecture": name, "params": {k: params_mod.jsonable(v) for k, v in effective.items()}}


def _zoo_names() -> set[str]:
    from advkit.plugins.registry import registry

    return {r.name for r in registry().all("models")} | {r.qualified_name for r in registry().all("models")}


def _split_kv(text: str, spec: str):
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"model parameters are written key=value, got {item!r} in {spec!r}")
        yield key.strip(), value.strip()


def _call_factory(target: str, func: str) -> nn.Module:
    """Import `file.py` or `package.module` and call `func()`: this runs code the user named."""
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise ModelError(f"model file not found: {target}")
        mod_name = f"advkit_user_model_{abs(hash(str(path.resolve())))}"
        module_spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[mod_name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise ModelError(f"importing {target} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise ModelError(f"cannot import model module {target!r}: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, func, None)
    if not callable(factory):
        raise ModelError(f"{target} has no callable {func!r}")
    try:
        net = factory()
    except Exception as exc:
        raise ModelError(f"{target}:{func}() failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(net, nn.Module):
        raise ModelError(f"{target}:{func} returned {type(net).__name__}, not an nn.Module")
    return net
