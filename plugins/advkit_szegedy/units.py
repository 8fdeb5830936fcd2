"""Units vs directions (Szegedy section 3): images that maximise single units or random directions."""

from __future__ import annotations

import torch
from torch import nn

import advkit

from .checks import at_least
from .tracing import layer_outputs, trace_layers


class Units(advkit.Analysis):
    """Top-k held-out images for single units <phi(x), e_i> and for random directions <phi(x), v> of a layer.

    `layer` is a name from the model's `named_modules()` (default: the last hidden layer, the one
    feeding the last Linear layer). `directions` units (seeded, among those that ever change) and
    as many random unit vectors are compared: side-by-side image grids, the indices and activation
    values of the top-k images, and how often the top-k images share one label.
    """

    name = "units"

    def __init__(self, layer: str = "", k: int = 8, directions: int = 4, seed: int = 0):
        at_least("szegedy.units", 1, k=k, directions=directions)
        self.layer = layer
        self.k = k
        self.directions = directions
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        if self.k > len(data):
            raise advkit.UsageError(f"szegedy.units: k={self.k} is larger than the data ({len(data)} samples)")
        name = self.layer or _last_hidden(model, data.x[:1])
        modules = dict(model.named_modules())
        if name not in modules:
            raise advkit.UsageError(f"szegedy.units: unknown layer {name!r}; layers: "
                                    + ", ".join(n for n in modules if n))
        phi = layer_outputs(model, modules[name], data.x)
        generator = torch.Generator().manual_seed(self.seed)
        alive = torch.nonzero(phi.std(0) > 0).flatten()
        if not len(alive):
            raise advkit.DataError(f"szegedy.units: every unit of layer {name!r} is constant on this data")
        units = alive[torch.randperm(len(alive), generator=generator)[:self.directions]].sort().values
        directions = torch.randn(len(units), phi.shape[1], generator=generator)
        directions = directions / directions.norm(dim=1, keepdim=True)
        by_unit = [{"unit": unit, **top} for unit, top in zip(units.tolist(), _top(phi[:, units], self.k, data.y))]
        by_direction = [{"direction": j, **top} for j, top in enumerate(_top(phi @ directions.T, self.k, data.y))]
        numbers = {
            "layer": name, "units_in_layer": phi.shape[1], "samples": len(data), "k": self.k,
            "label_agreement": {"units": _mean(by_unit), "random_directions": _mean(by_direction)},
            "units": by_unit, "random_directions": by_direction,
        }
        return advkit.Report(self.name, numbers, {"units": _figure(data.x, by_unit, by_direction, name)})


def _last_hidden(model: nn.Module, x: torch.Tensor) -> str:
    """The layer whose output feeds the model's last Linear layer."""
    calls = trace_layers(model, x.to(next(model.parameters()).device))
    last = max((i for i, call in enumerate(calls) if isinstance(call.module, nn.Linear)), default=0)
    if last == 0:
        raise advkit.UsageError("szegedy.units: the model has no hidden layer before a Linear layer; "
                                "pass -p layer=NAME")
    return calls[last - 1].name


def _top(scores: torch.Tensor, k: int, labels: torch.Tensor) -> list[dict]:
    """Per column of `scores`: the k highest rows, their values and labels, and the label agreement."""
    values, index = scores.topk(k, dim=0)
    out = []
    for column in range(scores.shape[1]):
        top_labels = labels[index[:, column]]
        agreement = float(top_labels.bincount().max()) / k
        out.append({"top_indices": index[:, column].tolist(), "top_values": values[:, column].tolist(),
                    "top_labels": top_labels.tolist(), "label_agreement": agreement})
    return out


def _mean(entries: list[dict]) -> float:
    return sum(e["label_agreement"] for e in entries) / len(entries)


def _figure(x: torch.Tensor, by_unit: list[dict], by_direction: list[dict], layer: str):
    plt = advkit.pyplot()
    k = len(by_unit[0]["top_indices"])
    rows = len(by_unit)
    fig, axes = plt.subplots(rows, 2 * k + 1, figsize=(0.8 * (2 * k + 1), 0.9 * rows + 0.6), squeeze=False)
    for row in range(rows):
        axes[row, k].axis("off")
        for col, (entry, offset) in enumerate(((by_unit[row], 0), (by_direction[row], k + 1))):
            title = f"unit {entry['unit']}" if col == 0 else f"direction {entry['direction']}"
            for j, index in enumerate(entry["top_indices"]):
                advkit.image(axes[row, offset + j], x[index], title if j == 0 else "")
    fig.suptitle(f"layer {layer}: top-{k} images for single units (left) and random directions (right)",
                 fontsize=9)
    return fig
