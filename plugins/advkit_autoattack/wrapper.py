"""One advkit attack class per entry of the reference AutoAttack: its versions and its attacks.

The reference works on inputs in [0, 1] and on logits; advkit models give logits, and models with
other input bounds are refused (RobustBench's models all take [0, 1]).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import advkit

EXTRA = 'pip install -e ".[autoattack]"'
NORMS = ("Linf", "L2", "L1")
# Constructor arguments advkit supplies itself, or that only concern the reference's own logging.
PLUMBING = ("model", "predict", "device", "verbose", "logger", "is_tf_model", "loss_fn", "version", "attacks")
AUTOATTACK = ("pyautoattack.autoattack", "AutoAttack")


@dataclass(frozen=True)
class Spec:
    """How advkit exposes one entry: `name` (advkit's), the reference class (`module`, `cls`).

    `version`: the AutoAttack version run (the `AutoAttack` class only). `fixed`: constructor
    arguments set as that version sets them (hidden from the schema). `quick_params`: reduced
    iterations for the conformance check. `doc`: what a version runs.
    """

    name: str
    module: str
    cls: str
    version: str | None = None
    fixed: dict = field(default_factory=dict)
    quick_params: dict = field(default_factory=dict)
    doc: str = ""


_APGD = "pyautoattack.autopgd_base"
_FAB = "pyautoattack.fab_pt"
_QUICK_FAB = {"n_iter": 5, "n_target_classes": 2}

CATALOGUE = [
    Spec("standard", *AUTOATTACK, version="standard", doc="APGD-CE, APGD-T, FAB-T and Square 5000, as RobustBench runs it"),
    Spec("plus", *AUTOATTACK, version="plus", doc="APGD-CE, APGD-DLR, FAB, Square, APGD-T and FAB-T, more restarts"),
    Spec("rand", *AUTOATTACK, version="rand", doc="APGD-CE and APGD-DLR with EOT over 20 draws, for randomized models"),
    Spec("apgd-ce", _APGD, "APGDAttack", fixed={"loss": "ce"}, quick_params={"n_iter": 5}),
    Spec("apgd-dlr", _APGD, "APGDAttack", fixed={"loss": "dlr"}, quick_params={"n_iter": 5}),
    Spec("apgd-t", _APGD, "APGDAttack_targeted", quick_params={"n_iter": 5, "n_target_classes": 2}),
    Spec("fab", _FAB, "FABAttack_PT", fixed={"targeted": False}, quick_params=_QUICK_FAB),
    Spec("fab-t", _FAB, "FABAttack_PT", fixed={"targeted": True}, quick_params=_QUICK_FAB),
    Spec("square", "pyautoattack.square", "SquareAttack", fixed={"resc_schedule": False},
         quick_params={"n_queries": 30}),
]


class AutoAttackAttack(advkit.LibraryAttack):
    """Base of the generated wrappers; `spec` is the catalogue row."""

    spec: Spec
    norm_param = "norm"

    def __init__(self, model, **params):
        super().__init__(model, **params)
        norm = self.params.get("norm")
        if norm not in NORMS:
            raise advkit.UsageError(f"attack 'autoattack.{self.name}': norm must be one of {', '.join(NORMS)}, "
                                    f"got {norm!r}")
        self.norm = norm
        if self.bounds != (0.0, 1.0):
            raise advkit.UsageError(f"attack 'autoattack.{self.name}' (the reference AutoAttack) needs a model "
                                    f"with inputs in [0, 1], this one takes {list(self.bounds)}")

    @classmethod
    def signature(cls):
        """The reference's signature; `eps` defaults to AutoAttack's own default and `seed` to 0 where the
        reference has none (None there means a time-based seed)."""
        sig = super().signature()
        defaults = {"eps": _autoattack_default("eps"), "seed": 0}
        return sig.replace(parameters=[p.replace(default=defaults[p.name])
                                       if p.name in defaults and p.default is None else p
                                       for p in sig.parameters.values()])

    def perturb(self, x, y):
        import importlib

        library = getattr(importlib.import_module(self.spec.module), self.spec.cls)
        if self.spec.version:
            runner = library(self.model, version=self.spec.version, device=x.device, **self.params)
            runner.verbose = False
            return runner.run_standard_evaluation(x, y, batch_size=len(x))[0]
        attack = library(self.model, device=x.device, verbose=False, **self.spec.fixed, **self.params)
        return attack.perturb(x, y)


def _autoattack_default(name: str):
    return advkit.source_class(*AUTOATTACK).signature.parameters[name].default


def make_class(spec: Spec) -> type:
    """A registered advkit attack class for one catalogue row."""
    source = (spec.module, spec.cls)
    attrs = {"spec": spec, "hidden": (*PLUMBING, *spec.fixed), "targeted": False,
             "black_box": spec.cls == "SquareAttack", "quick_params": dict(spec.quick_params),
             "iterations_param": None, "step_param": None}
    cls = advkit.library_class(AutoAttackAttack, spec.name, source, "Linf", library="pyautoattack", **attrs)
    if spec.version:
        cls.__doc__ = f"pyautoattack.AutoAttack, version {spec.version!r}: {spec.doc}."
    return cls


def missing_class(spec: Spec) -> type:
    """Stands in for `spec` when pyautoattack is not installed: using it says how to install it."""

    def __init__(self, model, eps: float = 0.3, norm: str = "Linf", seed: int = 0):
        raise advkit.UsageError(f"attack 'autoattack.{spec.name}' needs the reference AutoAttack, "
                                f"which is not installed: {EXTRA}")

    doc = f"The reference AutoAttack's {spec.name!r} (not installed: {EXTRA})."
    return type(f"Missing{spec.cls}", (advkit.Attack,),
                {"name": spec.name, "norm": "Linf", "norm_param": "norm", "__init__": __init__, "__doc__": doc,
                 "perturb": lambda self, x, y: x, "__module__": __name__})
