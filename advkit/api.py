"""Python entry points that resolve registered names: `attack`, `get_attack`, `make_attack`, `instantiate`."""

from __future__ import annotations

import math

from .attack import AttackResult, logits_of, run_attack
from .data import check_inputs, check_labels
from .errors import DataError, UsageError


def get_attack(name: str) -> type:
    """The attack class registered as `name` (`pgd`, `torchattacks.pgd`, `art.pgd`, ...)."""
    from .plugins import registry

    return registry().lookup("attacks", name).cls


def instantiate(kind: str, name: str, *args, seed: int | None = None, **params):
    """Build the `kind` plugin class registered as `name` with checked parameters.

    Returns (instance, qualified name, effective parameters including defaults). String values
    are converted by the constructor's annotations (as the CLI does); `seed` is passed on when
    the class takes one; negative `eps`, `steps < 1` and the like are refused; errors the
    constructor raises (ValueError, TypeError) become a one-line UsageError.
    """
    from .params import bind, parameters
    from .plugins import SINGULAR, registry

    entry = registry().lookup(kind, name)
    cls = entry.cls
    what = f"{SINGULAR[kind]} {entry.qualified_name!r}"
    schema = parameters(cls)
    if seed is not None and "seed" in {p.name for p in schema} and "seed" not in params:
        params["seed"] = seed
    bound = bind(cls, params, what=what)
    check_common(bound, what=what)
    try:
        instance = cls(*args, **bound)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{what}: {exc}") from None
    effective = {p.name: p.default for p in schema if not p.required}
    return instance, entry.qualified_name, {**effective, **bound}


def make_attack(name: str, model, *, seed: int | None = None, **params):
    """Instantiate attack `name` on `model`: (attack, qualified name, effective parameters)."""
    return instantiate("attacks", name, model, seed=seed, **params)


def madry_step(eps: float, steps: int) -> float:
    """PGD's step size when none is given: 2.5 * eps / steps (Madry et al. 2018)."""
    return 2.5 * eps / max(1, int(steps))


def check_common(params: dict, what: str) -> None:
    """Range checks for parameters whose meaning is shared by every attack."""
    for key in ("eps", "alpha", "eps_step", "step_size"):
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 <= value < math.inf:
            raise UsageError(f"{what}: {key} must be finite and >= 0, got {value}")
    for key in ("steps", "max_iter", "n_restarts", "restarts"):
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise UsageError(f"{what}: {key} must be >= 1, got {value}")


def check_batch(model, x, y) -> None:
    """Clear errors for inputs that do not fit the model: shape, NaN, bounds, labels."""
    expected = tuple(getattr(model, "input_shape", x.shape[1:]))
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise DataError(f"model expects inputs of shape N x {' x '.join(map(str, expected))}, "
                        f"got {' x '.join(map(str, x.shape))}")
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"labels must be a vector of {len(x)} class indices, got shape {list(y.shape)}")
    check_inputs(x, getattr(model, "bounds", (0.0, 1.0)))
    check_labels(y, getattr(model, "num_classes", None))


def attack(name: str, model, x, y, *, targets=None, batch_size: int = 256, seed: int = 0,
           progress: bool = False, **params) -> AttackResult:
    """Run attack `name` on `model` over `x` (N x C x H x W, inside the model's bounds) and labels `y`.

    `targets`: None (untargeted), a tensor of target classes, or a mode: "random",
    "least-likely", "next" or a class number. `seed` seeds torch/NumPy/Python and is passed to
    attacks that take one. A plain `nn.Module` is treated as taking inputs in [0, 1].
    """
    import torch

    from .models import as_model
    from .seeding import seed_everything
    from .targets import choose_targets

    model = as_model(model, input_shape=tuple(x.shape[1:]))
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y).long()
    check_batch(model, x, y)
    seed_everything(seed)
    instance, qualified, bound = make_attack(name, model, seed=seed, **params)
    if targets is not None and not isinstance(targets, torch.Tensor):
        logits = logits_of(model, x, batch_size)
        targets = choose_targets(targets, logits, y, torch.Generator().manual_seed(seed))
    if targets is not None:
        check_labels(torch.as_tensor(targets), model.num_classes, what="targets")
    return run_attack(instance, x, y, targets=targets, batch_size=batch_size, progress=progress,
                      name=qualified, params=bound)
