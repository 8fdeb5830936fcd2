"""One advkit attack class per torchattacks attack, generated from a catalogue table.

torchattacks assumes inputs in [0, 1]. The wrapper rescales inputs of models with other bounds
into [0, 1] and converts the parameters measured in input units with them: a parameter with
unit power `k` is divided by `(high - low) ** k` (eps, step sizes and noise: 1; C&W-style
constants that weigh a squared distance against the loss: 2).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import advkit

STEP = {"eps": 1, "alpha": 1}
# Constructor arguments advkit supplies itself: from the model, or fixed so stdout stays clean.
FROM_MODEL = ("n_classes",)
FIXED = {"verbose": False}
# C&W's search over c: 9 runs in Carlini & Wagner (2017); 5 reach their success on distilled models.
BINARY_SEARCH_STEPS = 5
# Strong defaults where torchattacks' are quick demo values (README "Strong defaults"). C&W: lr=0.01
# stalls on a T=100 distilled digits CNN (55% success), 0.05 breaks 99.7%. PGD, APGD, APGD-T, FAB:
# 100 iterations (AutoAttack's; Madry et al.'s MNIST challenge PGD), not 10: PGD-10 overstates robust
# accuracy on the digits CNN at eps 0.1 by 0.8 pt against PGD-100.
CW_DEFAULTS = {"lr": 0.05}
HUNDRED_STEPS = {"steps": 100}
# AutoAttack's: targeted APGD and FAB-T aim at the 9 classes of highest logit, not at all K - 1
# (torchattacks' choice, 999 targeted runs per sample on ImageNet); `n_target_classes` sets fewer.
TARGET_CLASSES = 9


@dataclass(frozen=True)
class Spec:
    """How advkit exposes one torchattacks class (`cls`); its advkit name is `cls.lower()`.

    `norm`: the advkit norm, or None when the attack's own `norm` argument decides (`norms`
    lists the values accepted). `units`: parameters in input units and their power.
    `ball`: the parameter bounding the perturbation when it is not `eps`. `rgb`: torchattacks
    filters 3 channels; grey inputs are run as three equal channels. `true_labels`: targeted
    mode through a target map so the attack also sees the true labels (its by-label mode is broken).
    `needs_targets`: the attack only works toward a target; untargeted runs aim at (y + 1) mod K.
    `quick_params`: reduced iterations for the conformance check (`advkit.testing`).
    `search`: advkit adds Carlini & Wagner's per-sample binary search over the constant `c`.
    `top_targets`: a multi-targeted attack; advkit adds `n_target_classes`, how many it aims at.
    `defaults`: advkit's defaults where the library's are weaker than the field's configuration.
    """

    cls: str
    norm: str | None = "Linf"
    targeted: bool = True
    black_box: bool = False
    units: dict = field(default_factory=lambda: STEP)
    norms: tuple = ()
    ball: str = "eps"
    rgb: bool = False
    true_labels: bool = False
    needs_targets: bool = False
    quick_params: dict = field(default_factory=dict)
    search: bool = False
    top_targets: bool = False
    defaults: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cls.lower()


_LP = ("Linf", "L2")
_NOISE = {**STEP, "noise_sd": 1}
_EAD = {"initial_const": 2, "beta": 1}
_EAD_QUICK = {"binary_search_steps": 2, "max_iterations": 10, "initial_const": 1}  # abort check: max_iterations // 10

CATALOGUE = [
    # Linf
    Spec("FGSM"),
    Spec("BIM"),
    Spec("RFGSM"),
    Spec("PGD", defaults=HUNDRED_STEPS),
    Spec("EOTPGD"),
    Spec("FFGSM"),
    Spec("TPGD", targeted=False),
    Spec("MIFGSM"),
    Spec("UPGD"),
    Spec("APGD", None, targeted=False, norms=_LP, defaults=HUNDRED_STEPS),
    Spec("APGDT", None, targeted=False, norms=_LP, top_targets=True, defaults=HUNDRED_STEPS),
    Spec("DIFGSM"),
    Spec("TIFGSM", rgb=True, quick_params={"len_kernel": 3}),
    Spec("Jitter"),
    Spec("NIFGSM"),
    Spec("PGDRS", units=_NOISE, quick_params={"noise_batch_size": 2}),
    Spec("SINIFGSM", quick_params={"m": 2}),
    Spec("VMIFGSM", quick_params={"N": 2}),
    Spec("VNIFGSM", quick_params={"N": 2}),
    Spec("SPSA", black_box=True, units={"eps": 1, "delta": 1, "lr": 1},
          quick_params={"nb_sample": 16, "max_batch_size": 16}),
    Spec("PIFGSM", targeted=False, units={"max_epsilon": 1}, ball="max_epsilon", rgb=True,
          quick_params={"num_iter_set": 2}),
    Spec("PIFGSMPP", units={"max_epsilon": 1}, ball="max_epsilon", rgb=True,
          quick_params={"num_iter_set": 2}),
    # L2
    Spec("CW", "L2", units={"c": 2}, search=True, defaults=CW_DEFAULTS,
         quick_params={"steps": 20, "lr": 0.1, "c": 10, "binary_search_steps": 1}),
    Spec("PGDL2", "L2", defaults=HUNDRED_STEPS),
    Spec("PGDRSL2", "L2", units=_NOISE, quick_params={"noise_batch_size": 2}),
    Spec("DeepFool", "L2", targeted=False, units={}),
    Spec("EADEN", "L2", units=_EAD, quick_params=_EAD_QUICK),
    # L1
    Spec("EADL1", "L1", units=_EAD, quick_params=_EAD_QUICK),
    # L0
    Spec("SparseFool", "L0", targeted=False, units={}),
    Spec("OnePixel", "L0", black_box=True, units={}, quick_params={"popsize": 4}),
    Spec("Pixle", "L0", black_box=True, units={}),
    Spec("JSMA", "L0", units={"theta": 1}, needs_targets=True),
    # Linf or L2, chosen by the attack's `norm` argument
    Spec("FAB", None, norms=_LP, true_labels=True, top_targets=True, defaults=HUNDRED_STEPS),
    Spec("Square", None, black_box=True, norms=_LP, quick_params={"n_queries": 100}),
    Spec("AutoAttack", None, targeted=False, norms=_LP),
    # no norm: Gaussian noise, a baseline
    Spec("GN", None, targeted=False, black_box=True, units={"std": 1}),
]


class TorchattacksAttack(advkit.LibraryAttack):
    """Base of the generated wrappers; `spec` is the catalogue row."""

    spec: Spec
    hidden = ("model", *FROM_MODEL, *FIXED)
    added: dict = {}  # parameters advkit adds to the library's: name -> (default, description)

    @classmethod
    def signature(cls):
        sig = super().signature()
        own = [p.replace(default=cls.spec.defaults.get(p.name, p.default)) for p in sig.parameters.values()]
        extra = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=d) for k, (d, _) in cls.added.items()]
        return sig.replace(parameters=[*own, *extra])

    @classmethod
    def parameter_docs(cls):
        return {**super().parameter_docs(), **{k: doc for k, (_, doc) in cls.added.items()}}

    @classmethod
    def default_texts(cls):
        return {**super().default_texts(), **{k: str(v) for k, v in cls.spec.defaults.items()},
                **{k: str(d) for k, (d, _) in cls.added.items()}}

    def __init__(self, model, **params):
        super().__init__(model, **params)
        if self.spec.norms:
            if self.params.get("norm") not in self.spec.norms:
                raise advkit.UsageError(f"attack {self.name!r}: norm must be one of {', '.join(self.spec.norms)}, "
                                        f"got {self.params.get('norm')!r}")
            self.norm = self.params["norm"]  # the instance measures in the norm it was given

    def library_params(self) -> dict:
        """The constructor arguments of the torchattacks class, in [0, 1] units."""
        lo, hi = self.bounds
        scale = hi - lo
        params = {k: (v / scale ** self.spec.units[k] if k in self.spec.units and _is_number(v) else v)
                  for k, v in self.params.items()}
        accepted = advkit.source_class(*self.source).signature.parameters
        params.update({k: v for k, v in FIXED.items() if k in accepted})
        params.update({k: self.model.num_classes for k in FROM_MODEL if k in accepted})
        return {k: v for k, v in params.items() if k not in self.added}

    def perturb(self, x, y, targets=None):
        import torchattacks

        lo, hi = self.bounds
        unit = (lo, hi) == (0.0, 1.0)
        net = self.model if unit else _Composed(self.model, lambda z: lo + (hi - lo) * z)
        x_unit = x if unit else (x - lo) / (hi - lo)
        channels = x.shape[1]
        if self.spec.rgb and channels != 3:
            if channels != 1:
                raise advkit.UsageError(f"attack {self.name!r} needs 1 or 3 input channels, got {channels}")
            net, x_unit = _Composed(net, lambda z: z.mean(1, keepdim=True)), x_unit.expand(-1, 3, -1, -1)
        attack = getattr(torchattacks, self.spec.cls)(net, **self.library_params())
        self._prepare(attack)
        if targets is None and self.spec.needs_targets:
            targets = (y + 1) % self.model.num_classes
        labels = y
        if targets is not None and self.spec.true_labels:
            attack.set_mode_targeted_by_function(lambda inputs, labels: targets, quiet=True)
            _align_targets(attack, net, x_unit, y, targets)
        elif targets is not None:
            attack.set_mode_targeted_by_label(quiet=True)
            labels = targets
        x_adv = attack(x_unit, labels)
        if x_adv.shape[1] != channels:
            x_adv = x_adv.mean(1, keepdim=True)
        return x_adv if unit else lo + (hi - lo) * x_adv

    def _prepare(self, attack) -> None:
        """Adjust the torchattacks object before it runs: at most `TARGET_CLASSES` targets (the C&W
        search sets its constants here too)."""
        inner = getattr(getattr(attack, "_autoattack", None), "attacks", ())  # torchattacks' AutoAttack
        for each in (attack, *inner):
            if hasattr(each, "n_target_classes"):
                each.n_target_classes = min(each.n_target_classes, TARGET_CLASSES)


class TopTargets(TorchattacksAttack):
    """APGD-T and FAB-T aiming at the `n_target_classes` classes of highest clean logit besides the true one."""

    added = {"n_target_classes": (TARGET_CLASSES, "target classes, those of highest logit besides the true one "
                                                  "(added by advkit; AutoAttack's 9; torchattacks' all K - 1)")}

    def __init__(self, model, **params):
        super().__init__(model, **params)
        wanted = self.params["n_target_classes"]
        if not isinstance(wanted, int) or isinstance(wanted, bool) or wanted < 1:
            raise advkit.UsageError(f"attack {self.name!r}: n_target_classes must be an integer >= 1, got {wanted!r}")

    def _prepare(self, attack) -> None:
        super()._prepare(attack)
        attack.n_target_classes = min(attack.n_target_classes, self.params["n_target_classes"])


class SearchedCW(TorchattacksAttack):
    """torchattacks' C&W-L2 with Carlini & Wagner's binary search over `c`, per sample.

    Each of `binary_search_steps` runs starts from `c` (first run) and then, per sample, halves the
    bracket around the smallest `c` that succeeded, or multiplies `c` by 10 while none has; the
    smallest successful perturbation over all runs is returned (torchattacks alone runs one `c`).
    """

    added = {"binary_search_steps": (BINARY_SEARCH_STEPS, "runs of the per-sample binary search over c "
                                                          "(added by advkit: torchattacks alone runs one c)")}

    def perturb(self, x, y, targets=None):
        import torch

        runs = int(self.params["binary_search_steps"])
        if runs < 1:
            raise advkit.UsageError(f"attack {self.name!r}: binary_search_steps must be >= 1, got {runs}")
        self._const = torch.full((len(x),), float(self.library_params()["c"]), device=x.device)
        low, high = torch.zeros_like(self._const), torch.full_like(self._const, float("inf"))
        best, best_l2 = x.clone(), torch.full_like(self._const, float("inf"))
        for _ in range(runs):
            x_adv = super().perturb(x, y, targets)
            with torch.no_grad():
                pred = self.model(x_adv).argmax(1)
            success = pred == targets if targets is not None else pred != y
            l2 = (x_adv - x).flatten(1).norm(dim=1)
            better = success & (l2 < best_l2)
            best[better], best_l2[better] = x_adv[better], l2[better]
            high = torch.where(success, torch.minimum(high, self._const), high)
            low = torch.where(success, low, torch.maximum(low, self._const))
            self._const = torch.where(torch.isinf(high), self._const * 10, (low + high) / 2)
        return best

    def _prepare(self, attack) -> None:
        """One constant per sample: torchattacks weighs the summed loss by `attack.c`, so it is set to 1
        and each sample's loss term is multiplied by its own constant."""
        super()._prepare(attack)
        loss, const = attack.f, self._const
        attack.c = 1.0
        attack.f = lambda outputs, labels: const * loss(outputs, labels)


def _align_targets(attack, net, x, y, targets) -> None:
    """Give FAB the targets of the inputs it attacks.

    torchattacks' FAB sets one target per input of the batch but runs each restart on the inputs
    still classified correctly, reading the targets by position in that subset: every target after
    the first misclassified input would belong to another input. This keeps the indices of the
    inputs each run gets and hands it their targets, following FAB's own rule for which remain.
    """
    import torch

    with torch.no_grad():
        remaining = (net(x).argmax(1) == y).nonzero().flatten()
    run = attack.attack_single_run_targeted

    def aligned(x_run, y_run, use_rand_start=False):
        nonlocal remaining
        attack.target_class = targets[remaining]
        x_adv = run(x_run, y_run, use_rand_start=use_rand_start)
        with torch.no_grad():
            size = advkit.perturbation_size(x_adv - x_run, attack.norm)
            remaining = remaining[(net(x_adv).argmax(1) == y_run) | (size > attack.eps)]
        return x_adv

    attack.attack_single_run_targeted = aligned


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _Composed(model, transform):
    """`model` applied to `transform(inputs)`, as a module (torchattacks reads its parameters)."""
    import torch

    class Composed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, z):
            return self.inner(transform(z))

    return Composed()


def make_class(spec: Spec) -> type:
    """A registered advkit attack class for one catalogue row."""
    source = (f"torchattacks.attacks.{spec.name}", spec.cls)
    accepted = advkit.source_class(*source).signature.parameters
    norm = accepted["norm"].default if spec.norms else spec.norm
    attrs = {"spec": spec, "black_box": spec.black_box, "targeted": spec.targeted,
             "quick_params": dict(spec.quick_params),
             # torchattacks' names: the budget, PGD-style step size `alpha` over `steps`, the `norm` switch
             "budget_param": spec.ball if spec.ball in accepted else None,
             "step_param": "alpha" if "alpha" in accepted else None,
             "iterations_param": "steps" if "steps" in accepted else None,
             "norm_param": "norm" if spec.norms else None}
    if not spec.targeted:
        attrs["perturb"] = lambda self, x, y: TorchattacksAttack.perturb(self, x, y)
    base = SearchedCW if spec.search else TopTargets if spec.top_targets else TorchattacksAttack
    return advkit.library_class(base, spec.name, source, norm, library="torchattacks", **attrs)
