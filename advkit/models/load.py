"""Building a model from a `--model` spec.

A `--model` spec is one of:
  * a zoo architecture, optionally with parameters: `cnn`, `mlp:hidden=100-100,activation=silu`,
    `torchvision:resnet50:weights=IMAGENET1K_V2` (a leading value fills the zoo's first required parameter)
  * an advkit checkpoint: `model.safetensors` or `model.pt` (weights plus metadata)
  * a TorchScript file: `model.ts` / `model.pt` saved with `torch.jit.save`
  * Python code returning an `nn.Module`: `path/to/file.py:func` or `package.module:func`"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path

import torch

from advkit.errors import UsageError
from advkit.models.architecture import build_network, names_zoo
from advkit.models.model import Model
from advkit.models.validation import check_model


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

    overrides = {k: v for k, v in {"bounds": bounds, "mean": mean, "std": std}.items() if v is not None}
    path = Path(spec)
    if path.suffix == ".py" and path.is_file():
        from advkit.models.architecture import python_file_hint

        raise UsageError(python_file_hint(spec))
    # `timm:NAME:checkpoint=x.pth` ends like a checkpoint but names a zoo
    from_file = path.exists() or (path.suffix in checkpoints.SUFFIXES and not names_zoo(spec))
    if from_file:
        model = checkpoints.load(path, input_shape=input_shape, **overrides)
    else:
        if input_shape is None:
            raise UsageError(f"model {spec!r} needs data to know its input shape")
        if num_classes is not None and not (isinstance(num_classes, numbers.Integral) and num_classes >= 1):
            raise UsageError(f"model {spec!r}: num_classes must be a whole number >= 1, got {num_classes!r}")
        net, recipe = build_network(spec, input_shape, num_classes)
        if "source" in recipe:  # the user's own network: its output width, from a probe, is its class count
            num_classes = None
        # a zoo network states the normalization its weights expect (`preprocessing`): folded in, --mean/--std win
        expected = {k: v for k, v in (getattr(net, "preprocessing", None) or {}).items() if k in ("mean", "std")}
        model = Model(net, input_shape, num_classes, spec=recipe, **{"bounds": (0.0, 1.0), **expected, **overrides})
        if class_names is not None and len(class_names) == model.num_classes:
            model.class_names = list(class_names)
    if device is not None:
        model = model.to(device)
    # finite float32 weights, one finite logit per class (of the checkpoint, or of the data)
    model = check_model(model, f"model {spec}", class_names=class_names, classes_from_data=not from_file)
    return model.eval()
