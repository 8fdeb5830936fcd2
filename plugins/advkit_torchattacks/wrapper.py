"""One advkit attack class per torchattacks attack, generated from a catalogue table."""

from __future__ import annotations

from dataclasses import dataclass

import advkit

# Parameters measured in input units: rescaled when the model's bounds are not [0, 1].
PIXEL_PARAMS = ("eps", "alpha")


@dataclass(frozen=True)
class Spec:
    """How advkit exposes one torchattacks class."""

    name: str
    cls: str
    module: str
    norm: str | None
    targeted: bool = True


CATALOGUE = [
    Spec("fgsm", "FGSM", "fgsm", "Linf"),
    Spec("pgd", "PGD", "pgd", "Linf"),
]


class TorchattacksAttack(advkit.Attack):
    """Base of the generated wrappers; `spec` names the torchattacks class."""

    spec: Spec

    def __init__(self, model, **params):
        super().__init__(model)
        defaults = {name: p.default for name, p in self.signature().parameters.items()}
        self.params = {**defaults, **params}
        for key, value in self.params.items():
            setattr(self, key, value)

    @classmethod
    def signature(cls):
        import inspect

        sig = advkit.source_class(f"torchattacks.attacks.{cls.spec.module}", cls.spec.cls).signature
        return sig.replace(parameters=[p for p in sig.parameters.values() if p.name not in ("self", "model")])

    def perturb(self, x, y, targets=None):
        import torchattacks

        lo, hi = self.bounds
        scale = hi - lo
        net = self.model if (lo, hi) == (0.0, 1.0) else _Rescaled(self.model, lo, scale)
        params = {k: (v / scale if k in PIXEL_PARAMS and isinstance(v, (int, float)) else v)
                  for k, v in self.params.items()}
        attack = getattr(torchattacks, self.spec.cls)(net, **params)
        labels = y
        if targets is not None:
            attack.set_mode_targeted_by_label(quiet=True)
            labels = targets
        x_unit = (x - lo) / scale
        return lo + scale * attack(x_unit, labels)


def _Rescaled(model, lo, scale):
    import torch

    class Rescaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, z):
            return self.inner(lo + scale * z)

    return Rescaled()


def make_class(spec: Spec) -> type:
    """A registered advkit attack class for one catalogue entry."""
    source = advkit.source_class(f"torchattacks.attacks.{spec.module}", spec.cls)
    doc = source.doc.strip().splitlines()
    attrs = {"name": spec.name, "norm": spec.norm, "spec": spec, "__module__": __name__,
             "__doc__": f"torchattacks.{spec.cls}: {doc[0] if doc else spec.cls}"}
    if not spec.targeted:
        attrs["perturb"] = lambda self, x, y: TorchattacksAttack.perturb(self, x, y)
    return type(spec.cls, (TorchattacksAttack,), attrs)
