"""A fresh network from an architecture spec: a zoo name with parameters, or `file.py:func` / `module:func`."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

from torch import nn

from advkit.errors import ModelError, UsageError


def build_network(spec: str, input_shape: Sequence[int], num_classes: int | None) -> tuple[nn.Module, dict]:
    """A fresh `nn.Module` for a zoo name (with parameters) or a `file.py:func` / `module:func` spec."""
    from advkit.plugins.registry import registry
    from advkit.plugins.schema import bind, jsonable, parameters

    name, sep, rest = spec.partition(":")
    if name not in _zoo_names():
        if sep and rest:
            return _call_factory(name, rest), {"architecture": spec}
        registry().lookup("models", name)  # raises "unknown model ..., did you mean"
    cls = registry().lookup("models", name).cls
    kwargs = bind(cls, dict(_split_kv(rest, spec)), what=f"model {name!r}")
    if num_classes is None:
        raise UsageError(f"model {name!r} needs the number of classes (from --data)")
    try:
        net = cls(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"model {name!r}: {exc}") from None
    effective = {p.name: p.default for p in parameters(cls) if not p.required} | kwargs
    return net, {"architecture": name, "params": {k: jsonable(v) for k, v in effective.items()}}


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
