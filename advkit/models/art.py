"""ART interoperability: `to_art(model)` builds an ART `PyTorchClassifier`, `from_art(estimator)` an advkit Model.

An advkit Model folds its normalization in and takes inputs inside its bounds, so `to_art` gives
ART `clip_values` = bounds and no preprocessing. `from_art` keeps an estimator's `clip_values`
(bounds), its mean/std `preprocessing` (folded into the model), `nb_classes` and `input_shape`.
An estimator without `clip_values` needs `bounds=(low, high)`: advkit never guesses input bounds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from advkit.errors import ModelError, UsageError
from advkit.models.model import Model


class ArtNetwork(nn.Module):
    """What `to_art` hands to ART: `model` on float32 inputs (some ART attacks build float64 arrays),
    with an optional softmax for ART attacks that require probabilities."""

    def __init__(self, model: Model, probabilities: bool = False):
        super().__init__()
        self.model = model
        self.probabilities = probabilities

    def forward(self, x):
        logits = self.model(x.float())
        return logits.softmax(dim=1) if self.probabilities else logits


def to_art(model: nn.Module, *, probabilities: bool = False, input_shape=None, nb_classes: int | None = None,
           bounds: tuple[float, float] | None = None):
    """An ART `PyTorchClassifier` for `model`, on the model's device, with cross-entropy loss.

    `model` is an advkit `Model`, or a plain `nn.Module` taking inputs of `input_shape` (C, H, W)
    inside `bounds` (default (0, 1)) and returning `nb_classes` logits (found by one forward pass
    when not given), as `advkit.Model` takes them. `probabilities=True` appends a softmax, for ART
    attacks that require probability outputs (SimBA).
    """
    from art.estimators.classification import PyTorchClassifier

    if isinstance(model, Model):
        given = {"input_shape": (input_shape, model.input_shape), "nb_classes": (nb_classes, model.num_classes),
                 "bounds": (bounds, model.bounds)}
        for what, (value, own) in given.items():
            if value is not None and tuple(map(float, np.atleast_1d(value))) != tuple(map(float, np.atleast_1d(own))):
                raise UsageError(f"to_art: {what}={value} disagrees with the advkit Model's {tuple(np.atleast_1d(own))}")
    elif isinstance(model, nn.Module):
        if input_shape is None:
            raise UsageError(f"to_art needs input_shape=(C, H, W) for a plain {type(model).__name__} "
                             "(or an advkit Model)")
        if nb_classes is not None and (isinstance(nb_classes, bool) or not isinstance(nb_classes, int)
                                       or nb_classes < 1):
            raise UsageError(f"to_art: nb_classes must be a positive integer, got {nb_classes!r}")
        model = Model(model, input_shape, nb_classes, bounds=tuple(bounds) if bounds is not None else (0.0, 1.0),
                      spec={"architecture": f"module:{type(model).__name__}"})
    else:
        raise UsageError(f"to_art needs an nn.Module or an advkit Model, got {type(model).__name__}")
    device = model.device
    options = dict(model=ArtNetwork(model, probabilities), loss=nn.CrossEntropyLoss(),
                   input_shape=tuple(model.input_shape), nb_classes=model.num_classes,
                   clip_values=tuple(model.bounds), preprocessing=None, channels_first=True,
                   device_type="gpu" if device.type == "cuda" else "cpu")
    if device.type == "cuda":
        with torch.cuda.device(device):  # ART places the network on the current CUDA device
            return PyTorchClassifier(**options)
    return PyTorchClassifier(**options)


def from_art(estimator, *, bounds: tuple[float, float] | None = None) -> Model:
    """An advkit Model for an ART `PyTorchClassifier`, keeping clip_values, mean/std, classes and shape.

    `bounds` is used when the estimator has no `clip_values` (and must agree with them when it has).
    """
    from art.estimators.classification import PyTorchClassifier

    if not isinstance(estimator, PyTorchClassifier):
        raise ModelError(f"from_art needs an ART PyTorchClassifier, got {type(estimator).__name__}")
    if not estimator.channels_first:
        raise ModelError("from_art needs a channels-first PyTorchClassifier (N x C x H x W inputs)")
    clip = _clip_bounds(estimator.clip_values)
    if clip is None and bounds is None:
        raise ModelError("the ART estimator has no clip_values; pass bounds=(low, high) to from_art")
    if clip is not None and bounds is not None and tuple(map(float, bounds)) != clip:
        raise ModelError(f"bounds {tuple(bounds)} disagree with the estimator's clip_values {clip}")
    mean, std = _mean_std(estimator)
    net = estimator.model
    if isinstance(net, ArtNetwork) and not net.probabilities and mean is None:
        net = net.model  # a round trip through to_art gives the advkit model back
    return Model(net, estimator.input_shape, estimator.nb_classes,
                 bounds=clip or tuple(bounds), mean=mean, std=std,
                 spec={"architecture": f"art:{type(estimator.model).__name__}"})


def _clip_bounds(clip_values) -> tuple[float, float] | None:
    if clip_values is None:
        return None
    lo, hi = (np.unique(np.asarray(v, dtype=np.float64)) for v in clip_values)
    if lo.size != 1 or hi.size != 1:
        raise ModelError("from_art needs scalar clip_values (one low and one high for every input value)")
    return float(lo[0]), float(hi[0])


def _mean_std(estimator):
    """The estimator's standardisation as per-channel lists, or (None, None) when it has none."""
    from art.preprocessing.standardisation_mean_std import StandardisationMeanStd, StandardisationMeanStdPyTorch

    mean = std = None
    for op in estimator.preprocessing_operations:
        if not isinstance(op, (StandardisationMeanStd, StandardisationMeanStdPyTorch)) or mean is not None:
            raise ModelError(f"from_art supports mean/std preprocessing only, not {type(op).__name__} "
                             "(preprocessing defences cannot be folded into an advkit model)")
        mean, std = (np.asarray(v, dtype=np.float64).flatten().tolist() for v in (op.mean, op.std))
    if mean is not None and set(mean) == {0.0} and set(std) == {1.0}:
        return None, None  # ART's default preprocessing (0, 1) is the identity
    channels = estimator.input_shape[0]
    for values, what in ((mean, "mean"), (std, "std")):
        if values is not None and len(values) not in (1, channels):
            raise ModelError(f"preprocessing {what} must have 1 or {channels} values (one per channel), "
                             f"got {len(values)}")
    return mean, std
