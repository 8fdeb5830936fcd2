"""One advkit attack class per catalogue row, driving ART through `advkit.to_art(model)`."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import advkit

from .catalogue import Spec

EVASION = "art.attacks.evasion"
# ART constructor arguments advkit always supplies itself.
PLUMBING = ("estimator", "classifier", "verbose", "batch_size", "targeted", "summary_writer")
# ART's names for an attack's iteration count, in the order looked for.
ITERATIONS = ("max_iter", "steps")


class ArtAttack(advkit.LibraryAttack):
    """Base of the generated ART wrappers; `spec` is the catalogue row."""

    spec: Spec

    def perturb(self, x, y, targets=None):
        import numpy as np
        import torch

        attack = self._art_attack(len(x), targeted=targets is not None)
        labels = targets if targets is not None else (None if self.spec.targets == "labels" else y)
        x_np = x.detach().cpu().numpy()
        y_np = None if labels is None else np.eye(self.model.num_classes, dtype=np.float32)[labels.cpu().numpy()]
        batches = [slice(i, i + 1) for i in range(len(x_np))] if self.spec.single else [slice(None)]
        try:
            with _seeded_random_states() if self.spec.unseeded else nullcontext():
                x_adv = np.concatenate([attack.generate(x_np[s], None if y_np is None else y_np[s])
                                        for s in batches])
        except ValueError as exc:
            raise advkit.UsageError(f"art.{self.name}: {exc}") from None
        return torch.from_numpy(x_adv.astype(np.float32)).to(x.device, x.dtype)

    def _art_attack(self, batch_size: int, targeted: bool):
        """The ART attack object on this model's estimator, with verbose output off."""
        import importlib

        art_cls = getattr(importlib.import_module(self.source[0]), self.spec.cls)
        if getattr(self, "_estimator", None) is None:
            self._estimator = advkit.to_art(self.model, probabilities=self.spec.probabilities)
        accepted = advkit.source_class(*self.source).signature.parameters
        options = {"verbose": False, "batch_size": 1 if self.spec.single else batch_size, "targeted": targeted,
                   **self.spec.fixed, **self.params}
        _quiet_inner_attack(art_cls, options)
        try:
            return art_cls(self._estimator, **{k: v for k, v in options.items() if k in accepted})
        except (ValueError, TypeError, IndexError) as exc:  # ART's own parameter checks
            raise advkit.UsageError(f"art.{self.name}: invalid parameters: {exc}") from None


@contextmanager
def _seeded_random_states():
    """Seed the `np.random.RandomState()` that some ART attacks create without a seed from NumPy's
    global generator (which advkit seeds), so that the same seed gives the same result."""
    import numpy as np

    original = np.random.RandomState

    class SeededRandomState(original):
        def __init__(self, seed=None):
            super().__init__(np.random.randint(2**31) if seed is None else seed)

    np.random.RandomState = SeededRandomState
    try:
        yield
    finally:
        np.random.RandomState = original


def _quiet_inner_attack(art_cls, options: dict) -> None:
    """ART's UniversalPerturbation builds an inner attack by name: turn its progress bars off too."""
    path = getattr(art_cls, "attacks_dict", {}).get(options.get("attacker"))
    if path:
        module, _, name = path.rpartition(".")
        if "verbose" in advkit.source_class(module, name).signature.parameters:
            options["attacker_params"] = {"verbose": False, **(options.get("attacker_params") or {})}


def make_class(spec: Spec) -> type:
    """A registered advkit attack class for one catalogue row."""
    source = (f"{EVASION}.{spec.module}", spec.cls)
    hidden = tuple(p for p in PLUMBING + spec.hidden + tuple(spec.fixed) if p not in spec.shown)
    accepted = advkit.source_class(*source).signature.parameters
    attrs = {"spec": spec, "hidden": hidden, "black_box": spec.black_box, "quick_params": dict(spec.quick),
             "targeted": spec.targets is not None,
             # ART's names: the budget `eps`, the step size `eps_step` (fixed-step rows) over `max_iter`
             "budget_param": "eps" if "eps" in accepted else None,
             "step_param": spec.step,
             "iterations_param": next((p for p in ITERATIONS if p in accepted), None)}
    if spec.targets is None:
        attrs["perturb"] = lambda self, x, y: ArtAttack.perturb(self, x, y)
    return advkit.library_class(ArtAttack, spec.name, source, spec.norm, library="art", **attrs)
