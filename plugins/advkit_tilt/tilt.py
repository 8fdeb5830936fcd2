"""The `tilt` analysis: how far a model's boundary between two classes is tilted away from the centroids'."""

from __future__ import annotations

import math

import torch

import advkit

from . import figures, geometry
from .margin import linear_form, margin_and_gradient

MODES = ("auto", "global", "local")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


class Tilt(advkit.Analysis):
    """Boundary tilting (Tanay & Griffin): tilt angle, adversarial distance and mirror images of a class pair.

    A linear model (or the pair (i, j) of a multi-class one: w = W_j - W_i, b = b_j - b_i) gets
    the global numbers: theta between w and the centroid direction z = (j - i) / ||j - i||,
    d_adv = mean y d(x), d_err, ||w||, the identity d_adv = 1/2 ||j - i|| cos(theta) (both sides and
    their gap), mirror and projected images and the tilting-plane scatter. Any other model gets
    a local tilt per input: the angle between grad s(x) (s = logit_j - logit_i) and z, and the
    linearised distance |s(x)| / ||grad s(x)||. mode: auto (global when linear), global or local.
    """

    name = "tilt"

    def __init__(self, classes: tuple = (3, 7), mode: str = "auto", samples: int = 4, seed: int = 0):
        if mode not in MODES:
            raise advkit.UsageError(f"tilt mode must be one of {', '.join(MODES)}, got {mode!r}")
        if samples < 1:
            raise advkit.UsageError(f"tilt samples must be at least 1, got {samples}")
        self.classes = tuple(classes)
        self.mode = mode
        self.samples = samples
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        x, signs = geometry.select_pair(data.x, data.y, self.classes, model.num_classes)
        classes = tuple(int(c) for c in self.classes)
        form = None if self.mode == "local" else linear_form(model, x, classes)
        if form is None and self.mode == "global":
            raise advkit.UsageError("tilt mode=global needs a linear model (its margin logit_j - logit_i is not "
                                    "linear in the input); use mode=local or auto")
        if form is None:
            return self._local(model, x, signs, classes)
        return self._global(model, x, signs, classes, *form)

    def _global(self, model, x, signs, classes, w, b) -> advkit.Report:
        numbers = {"mode": "global", "classes": list(classes), "n": len(x), **geometry.tilt(x, signs, w, b)}
        numbers["theta_degrees"] = math.degrees(numbers["theta"])
        sample = self._sample(x, signs)
        report = advkit.Report(self.name, numbers, {
            "mirror_images": figures.mirror_figure(sample, w, b, model.bounds, classes),
            "tilting_plane": figures.plane_figure(x, signs, w, b, classes),
        })
        if not numbers["identity"]["balanced"]:
            report.notes.append("classes are not balanced: d_adv = 1/2 ||j - i|| cos(theta) holds only "
                                "approximately (see identity.gap)")
        return report

    def _local(self, model, x, signs, classes) -> advkit.Report:
        values, grads = margin_and_gradient(model, x, classes)
        z = geometry.centroid_direction(x, signs)
        grad_norm = grads.flatten(1).norm(dim=1)
        usable = grad_norm > 0
        angles = torch.arccos((grads.flatten(1)[usable] @ z / (grad_norm[usable] * z.norm())).clamp(-1, 1))
        distances = values[usable].abs() / grad_norm[usable]
        numbers = {
            "mode": "local",
            "classes": list(classes),
            "n": len(x),
            "zero_gradient": int((~usable).sum()),
            "angle": _summary(angles),
            "distance": _summary(distances),
            "d_adv_linearised": float((signs[usable] * values[usable] / grad_norm[usable]).mean()),
            "error_rate": float((signs * values <= 0).double().mean()),
            "centroid_distance": float(z.norm()),
        }
        report = advkit.Report(self.name, numbers, {"local_tilt": figures.local_figure(angles, distances)})
        if numbers["zero_gradient"]:
            report.notes.append(f"{numbers['zero_gradient']} inputs have a zero margin gradient (saturated or "
                                "masked); they are left out of the angle and distance summaries")
        return report

    def _sample(self, x, signs):
        """Up to `samples` inputs, alternating between the two classes, chosen by the seed."""
        generator = torch.Generator().manual_seed(self.seed)
        sides = [(signs == s).nonzero().flatten() for s in (-1, 1)]
        sides = [side[torch.randperm(len(side), generator=generator)] for side in sides]
        picked = [side[k] for k in range(self.samples) for side in sides if k < len(side)][:self.samples]
        return x[torch.stack(picked)]


def _summary(values) -> dict:
    if not len(values):
        return {"mean": None, **{_label(q): None for q in QUANTILES}}
    values = values.double()
    return {"mean": float(values.mean()), **{_label(q): float(torch.quantile(values, q)) for q in QUANTILES}}


def _label(q: float) -> str:
    return "median" if q == 0.5 else f"q{round(q * 100)}"
