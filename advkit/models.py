"""advkit models: a network plus the facts attacks need (input shape, classes, bounds, normalization).

A `--model` spec is one of:
  * a zoo architecture, optionally with parameters: `cnn`, `mlp:hidden=100-100,activation=silu`
  * an advkit checkpoint: `model.safetensors` or `model.pt` (weights plus metadata)
  * a TorchScript file: `model.ts` / `model.pt` saved with `torch.jit.save`
  * Python code returning an `nn.Module`: `path/to/file.py:func` or `package.module:func`
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .errors import ModelError, UsageError


class Normalize(nn.Module):
    """(x - mean) / std per channel, folded into the model so attacks work in pixel space."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if any(s <= 0 for s in std):
            raise UsageError(f"--std must be positive, got {list(std)}")
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


class Model(nn.Module):
    """A classifier `net` taking inputs inside `bounds`, with its input shape and class count.

    `forward` returns logits. Normalization (mean/std) is applied inside, so attacks and
    epsilons always live in input (pixel) space.
    """

    def __init__(
        self,
        net: nn.Module,
        input_shape: Sequence[int],
        num_classes: int | None = None,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        class_names: Sequence[str] | None = None,
        spec: dict | None = None,
    ):
        super().__init__()
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            raise UsageError(f"--bounds must satisfy low < high, got {bounds}")
        self.net = net
        self.input_shape = tuple(int(s) for s in input_shape)
        self.bounds = (lo, hi)
        self.normalize = None
        if mean is not None or std is not None:
            channels = self.input_shape[0]
            mean = _per_channel(mean if mean is not None else [0.0], channels, "--mean")
            std = _per_channel(std if std is not None else [1.0], channels, "--std")
            self.normalize = Normalize(mean, std)
        self.class_names = list(class_names) if class_names else None
        self.spec = dict(spec or {})
        self.num_classes = int(num_classes) if num_classes else self._infer_classes()

    def forward(self, x):
        if self.normalize is not None:
            x = self.normalize(x)
        return self.net(x)

    @property
    def device(self) -> torch.device:
        return device_of(self)

    @property
    def mean(self):
        return None if self.normalize is None else self.normalize.mean.flatten().tolist()

    @property
    def std(self):
        return None if self.normalize is None else self.normalize.std.flatten().tolist()

    def metadata(self) -> dict:
        """Everything needed to rebuild this model around its weights."""
        return {
            "spec": self.spec,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "bounds": list(self.bounds),
            "mean": self.mean,
            "std": self.std,
            "class_names": self.class_names,
        }

    def _infer_classes(self) -> int:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                lo, hi = self.bounds
                probe = torch.full((1, *self.input_shape), (lo + hi) / 2, device=self.device)
                out = self(probe)
        except Exception as exc:
            raise ModelError(f"model does not accept inputs of shape {list(self.input_shape)}: {exc}") from exc
        finally:
            self.train(was_training)
        if out.ndim != 2:
            raise ModelError(f"model must return logits of shape (N, classes), got {list(out.shape)}")
        return int(out.shape[1])


def device_of(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); CPU for a module without either."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


def _per_channel(values, channels: int, option: str) -> list[float]:
    values = [float(v) for v in values]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise UsageError(f"{option} needs 1 value or one per channel ({channels}), got {len(values)}")
    return values


def as_model(model: nn.Module, input_shape: Sequence[int] | None = None, **kwargs) -> Model:
    """Wrap a plain `nn.Module` (bounds [0, 1] unless given); an advkit `Model` passes through."""
    if isinstance(model, Model):
        return model
    if input_shape is None:
        raise UsageError("a plain nn.Module needs input_shape=(C, H, W) to become an advkit model")
    return Model(model, input_shape, **kwargs)


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
    from . import checkpoints

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
    from . import params as params_mod
    from .plugins import registry

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
    from .plugins import registry

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


def resolve_device(name: str | None = "auto") -> torch.device:
    """`auto` picks CUDA when available; `cpu`, `cuda`, `cuda:1` as given."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but CUDA is not available on this machine")
    return device

