"""Building a model from a `--model` spec.

A `--model` spec is one of:
  * a zoo architecture, optionally with parameters: `cnn`, `mlp:hidden=100-100,activation=silu`
  * an advkit checkpoint: `model.safetensors` or `model.pt` (weights plus metadata)
  * a TorchScript file: `model.ts` / `model.pt` saved with `torch.jit.save`
  * Python code returning an `nn.Module`: `path/to/file.py:func` or `package.module:func`"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from advkit.errors import UsageError
from advkit.models.architecture import build_network
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
