"""One advkit attack class per catalogue row, driving ART through `advkit.to_art(model)`."""

from __future__ import annotations

import advkit

from .catalogue import Spec

EVASION = "art.attacks.evasion"
# ART constructor arguments advkit always supplies itself.
PLUMBING = ("estimator", "classifier", "verbose", "batch_size", "targeted", "summary_writer")


class ArtAttack(advkit.LibraryAttack):
    """Base of the generated ART wrappers; `spec` is the catalogue row."""

    spec: Spec

    def perturb(self, x, y, targets=None):
        import numpy as np
        import torch

        estimator = advkit.to_art(self.model, probabilities=self.spec.probabilities)
        accepted = advkit.source_class(*self.source).signature.parameters
        options = {"verbose": False, "batch_size": 1 if self.spec.single else len(x), "targeted": targets is not None,
                   **self.spec.fixed, **self.params}
        options = {k: v for k, v in options.items() if k in accepted}
        attack = getattr(_evasion(), self.spec.cls)(estimator, **options)
        labels = targets if targets is not None else (None if self.spec.targets == "labels" else y)
        x_np = x.detach().cpu().numpy()
        y_np = None if labels is None else np.eye(self.model.num_classes, dtype=np.float32)[labels.cpu().numpy()]
        if self.spec.single:
            x_adv = np.concatenate([attack.generate(x_np[i:i + 1], None if y_np is None else y_np[i:i + 1])
                                    for i in range(len(x_np))])
        else:
            x_adv = attack.generate(x_np, y_np)
        return torch.from_numpy(np.asarray(x_adv, dtype=np.float32)).to(x.device, x.dtype)


def _evasion():
    import importlib

    return importlib.import_module(EVASION)


def make_class(spec: Spec) -> type:
    """A registered advkit attack class for one catalogue row."""
    source = (f"{EVASION}.{spec.module}", spec.cls)
    hidden = tuple(p for p in PLUMBING + spec.hidden + tuple(spec.fixed) if p not in spec.shown)
    attrs = {"spec": spec, "hidden": hidden, "black_box": spec.black_box, "quick_params": dict(spec.quick)}
    if spec.targets is None:
        attrs["perturb"] = lambda self, x, y: ArtAttack.perturb(self, x, y)
    return advkit.library_class(ArtAttack, spec.name, source, spec.norm, library="art", **attrs)
