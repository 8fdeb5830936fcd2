"""Turn the shared `--model`, `--data` and related options into a checked model and dataset."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from advkit.errors import DataError, UsageError


@dataclass
class Inputs:
    """A model and a dataset that fit each other, on one device."""

    model: object
    data: object
    model_spec: str
    device: object


def load_inputs(model_spec: str | None, data_spec: str | None, *, split: str = "test", n: int | None = None,
                seed: int = 0, device: str = "auto", bounds=None, mean=None, std=None,
                warn_untrained: bool = True) -> Inputs:
    """Load data and model and check that they fit: input shape, class count, pixel bounds."""
    from advkit.data.dataset import load_data
    from advkit.models.inference import resolve_device
    from advkit.models.load import load_model
    from advkit.training.default import default_model

    torch_device = resolve_device(device)
    data_spec = data_spec or "digits"
    data = load_data(data_spec, split=split, n=n, seed=seed, bounds=None)
    if len(data) == 0:
        raise DataError(f"data {data_spec!r} has no samples")
    if model_spec is None:
        if data_spec != "digits":
            raise UsageError("--model is required with --data other than digits "
                             "(train one: advkit train --model cnn --data SPEC --out model.safetensors)")
        if bounds is not None or mean is not None or std is not None:
            raise UsageError("--bounds, --mean and --std need --model; the default model has its own")
        model, model_spec = default_model(torch_device), "default"
    else:
        model = load_model(model_spec, input_shape=data.input_shape, num_classes=data.num_classes,
                           bounds=bounds, mean=mean, std=std, class_names=data.class_names, device=torch_device)
    check_fit(model, data, data_spec)
    if warn_untrained and is_fresh(model_spec, model):
        print(f"advkit: warning: model {model_spec!r} has fresh random weights; "
              "train it first with `advkit train`", file=sys.stderr)
    return Inputs(model.eval(), data, model_spec, torch_device)


def check_fit(model, data, data_spec: str) -> None:
    """Refuse data that does not fit the model: input shape, pixel bounds, labels below its class count.

    A lazy set is read once here batch by batch (never held whole), so that a bad image fails with
    one error before any attack work rather than hours into a run.
    """
    from advkit.data.dataset import validate

    if tuple(model.input_shape) != tuple(data.input_shape):
        raise DataError(f"model expects inputs of shape {list(model.input_shape)}, "
                        f"data {data_spec!r} has {list(data.input_shape)}")
    validate(data, bounds=model.bounds, num_classes=model.num_classes)


def load_for_analysis(cls, what: str, model_specs, data_spec, **options):
    """Model(s) and data for analysis class `cls`: a list of models when it sets `multi_model`,
    None when it trains its own (`needs_model = False`); also returns the model specs."""
    from advkit.data.dataset import load_data

    if not cls.needs_model:
        if model_specs or any(options[k] is not None for k in ("bounds", "mean", "std")):
            raise UsageError(f"{what} trains its own models: drop --model, --bounds, --mean and --std")
        data = load_data(data_spec or "digits", split=options["split"], n=options["n"], seed=options["seed"])
        return None, data, []
    if len(model_specs) > 1 and not cls.multi_model:
        raise UsageError(f"{what} analyses one model; got --model {len(model_specs)} times")
    loaded = [load_inputs(spec, data_spec, **options) for spec in (model_specs or [None])]
    models = [inputs.model for inputs in loaded]
    return (models if cls.multi_model else models[0]), loaded[0].data, [inputs.model_spec for inputs in loaded]


def is_fresh(model_spec: str, model) -> bool:
    """True when the spec names a zoo architecture with new random weights: not a file or factory,
    nor a zoo model whose weights came from a cache or file (its network records their `source`)."""
    from advkit.plugins.registry import registry

    name = model_spec.partition(":")[0]
    if Path(model_spec).exists() or name not in {r.name for r in registry().all("models")}:
        return False
    return getattr(getattr(model, "net", None), "source", "random weights") == "random weights"
