"""Conformance checks for attack authors: `check_attack(MyAttack, model, x, y)`.

Use it in your plugin's tests (pytest shows the AssertionError naming the attack and the failed
property)::

    from advkit.testing import check_attack

    def test_my_attack(model, x, y):
        check_attack(MyAttack, model, x, y, eps=0.1)

What is checked: the declared `targeted` agrees with `perturb`'s signature (it takes `targets`);
the output has the input's shape and lies inside the model's bounds and, for Linf/L2 attacks with
a budget (`budget_param`, default `eps`), inside that ball; a batch of 1 and an odd batch size work;
the same seed gives the same output; the caller's tensor is not modified; the model's
train/eval mode and its parameters' gradients and `requires_grad` flags are restored; an attack
with a targeted mode raises the probability of its targets (runner-up classes) over the clean inputs.

Quick parameters keep the check fast and meaningful: `QUICK_PARAMS` reduces common iteration
counts by parameter name (only names the attack takes), `QUICK_EPS` gives Linf/L2 attacks with
an `eps` a budget that fools a small model, and an attack class adds its own with a class
attribute `quick_params = {"max_iter": 3}` (a literal dict, so `advkit list` can read it
without importing the class). Keyword arguments of `check_attack` override both;
`quick=False` runs the attack's defaults.
"""

from __future__ import annotations

from advkit.attacks import norms
from advkit.attacks.base import Attack
from advkit.errors import AdvkitError

# Reduced iteration counts by parameter name, applied to any attack that takes the name.
QUICK_PARAMS = {
    "steps": 3,
    "max_iter": 3,
    "nb_iter": 3,
    "max_iterations": 3,
    "n_queries": 30,
    "nb_queries": 30,
    "n_restarts": 1,
    "restarts": 1,
    "binary_search_steps": 2,
}
# Budgets (for inputs in [0, 1], scaled to the model's bounds) large enough that few iterations
# fool a small model, so that the targeted check measures something.
QUICK_EPS = {"Linf": 0.3, "L2": 2.0}


def quick_params(cls: type, bounds=(0.0, 1.0)) -> dict:
    """Reduced parameters for `cls`: `QUICK_PARAMS` and `QUICK_EPS` for the names it takes,
    then the class attribute `quick_params`."""
    from advkit.plugins.schema import parameters

    names = {p.name for p in parameters(cls)}
    quick = {k: v for k, v in QUICK_PARAMS.items() if k in names}
    budget = getattr(cls, "budget_param", None)
    if budget in names and getattr(cls, "norm", None) in QUICK_EPS:
        quick[budget] = QUICK_EPS[cls.norm] * (bounds[1] - bounds[0])
    return {**quick, **getattr(cls, "quick_params", {})}


def check_attack(attack: str | type, model, x, y, *, seed: int = 0, quick: bool = True, **params) -> dict:
    """Assert the attack contract for `attack` (a registered name or an `Attack` subclass).

    `model` is an advkit `Model` (or any module with `bounds` and `num_classes`), `x` a batch of
    at least 3 inputs inside its bounds, `y` their labels; use inputs the model classifies
    correctly. Returns what was measured (target probabilities of the targeted check).
    Raises AssertionError naming the attack and the failed property.
    """
    import torch

    from advkit.attacks.runner import get_attack

    cls = get_attack(attack) if isinstance(attack, str) else attack
    name = getattr(cls, "name", "") or cls.__name__
    _require(isinstance(cls, type) and issubclass(cls, Attack), name, "is an advkit.Attack subclass")
    _require(len(x) >= 3, name, "needs at least 3 samples to check batch sizes")
    _require(cls.supports_targets() == cls.perturb_takes_targets(), name,
             f"declares targeted = {cls.perturb_takes_targets()} as its perturb "
             f"{'takes' if cls.perturb_takes_targets() else 'does not take'} targets")
    settings = {**(quick_params(cls, getattr(model, "bounds", (0.0, 1.0))) if quick else {}), **params}
    instance = _instantiate(cls, model, settings, seed, name)
    odd, y_odd = (x[:5], y[:5]) if len(x) >= 5 else (x[:3], y[:3])

    x_before = odd.clone()
    state = _ModelState(model, name)
    first = _run(instance, odd, y_odd, seed, name)
    state.verify()
    _require(torch.equal(odd, x_before), name, "leaves the input tensor unmodified")
    _check_output(instance, odd, first, name)
    _require(torch.equal(first, _run(instance, odd, y_odd, seed, name)), name,
             f"gives the same output for the same seed ({seed})")
    single = _run(instance, odd[:1], y_odd[:1], seed, name)
    _check_output(instance, odd[:1], single, name)

    measured = {"attack": name, "params": settings}
    if cls.supports_targets():
        measured.update(_check_targeted(instance, model, odd, y_odd, seed, name))
    return measured


def _require(condition, name: str, what: str) -> None:
    if not condition:
        raise AssertionError(f"attack {name!r} fails the conformance check: it must be true that it {what}")


def _instantiate(cls, model, settings, seed, name):
    from advkit.plugins.schema import parameters

    if "seed" in {p.name for p in parameters(cls)}:
        settings.setdefault("seed", seed)
    try:
        return cls(model, **settings)
    except (AdvkitError, TypeError, ValueError) as exc:
        raise AssertionError(f"attack {name!r} cannot be built with {settings}: {exc}") from exc


def _run(instance, x, y, seed, name, targets=None):
    from advkit.seeding import seed_everything

    seed_everything(seed)
    try:
        return instance(x, y, targets=targets)
    except Exception as exc:  # any crash is a failed check; the cause stays chained
        raise AssertionError(f"attack {name!r} fails the conformance check: it crashes on a batch of {len(x)}: "
                             f"{type(exc).__name__}: {exc}") from exc


def _check_output(instance, x, x_adv, name):
    import torch

    _require(isinstance(x_adv, torch.Tensor) and x_adv.shape == x.shape, name,
             f"returns a tensor of the input's shape {list(x.shape)}")
    lo, hi = instance.bounds
    _require(bool(torch.isfinite(x_adv).all()), name, "returns finite values")
    _require(bool((x_adv >= lo).all() and (x_adv <= hi).all()), name, f"stays inside the bounds [{lo}, {hi}]")
    eps = getattr(instance, instance.budget_param, None) if instance.budget_param else None
    if isinstance(eps, (int, float)) and instance.norm in ("Linf", "L2"):
        size = norms.size(x_adv - x, instance.norm)
        _require(bool(norms.within(size, eps).all()), name,
                 f"stays inside its {instance.norm} ball of eps {eps:.6g} (largest: {float(size.max()):.6g})")


def _check_targeted(instance, model, x, y, seed, name) -> dict:
    """Targets (each input's runner-up class, the easiest) must become more probable, on average."""
    from advkit.models.inference import logits_of

    clean_logits = logits_of(model, x)
    targets = clean_logits.topk(2, dim=1).indices[:, 1].to(y.device)
    x_adv = _run(instance, x, y, seed, name, targets=targets)
    _check_output(instance, x, x_adv, name)
    clean = _target_probability(clean_logits, targets)
    attacked = _target_probability(logits_of(model, x_adv), targets)
    _require(attacked > clean, name,
             f"raises the mean target probability in targeted mode (clean {clean:.4f}, attacked {attacked:.4f})")
    return {"target_probability_clean": clean, "target_probability_attacked": attacked,
            "target_hits": int((logits_of(model, x_adv).argmax(1) == targets.cpu()).sum())}


def _target_probability(logits, targets) -> float:
    import torch

    return float(torch.softmax(logits, 1).gather(1, targets.cpu().view(-1, 1)).mean())


class _ModelState:
    """Puts `model` in train mode with no parameter gradients; `verify` checks the attack restored both,
    then gives the model back its original mode."""

    def __init__(self, model, name):
        self.model, self.name, self.training = model, name, model.training
        model.train()
        for p in model.parameters():
            p.grad = None
        self.modes = [m.training for m in model.modules()]
        self.flags = [p.requires_grad for p in model.parameters()]

    def verify(self):
        model, name = self.model, self.name
        modes = [m.training for m in model.modules()]
        model.train(self.training)
        _require(modes == self.modes, name, "restores the model's train/eval mode")
        _require(all(p.grad is None for p in model.parameters()), name, "leaves no gradients on the model's parameters")
        _require([p.requires_grad for p in model.parameters()] == self.flags, name,
                 "restores the parameters' requires_grad flags")
