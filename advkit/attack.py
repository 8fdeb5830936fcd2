"""The `Attack` base class, its contract, and the batched runner behind `advkit.attack`."""

from __future__ import annotations

import contextlib
import inspect
import numbers
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import AttackContractError, UsageError

NORMS = ("Linf", "L2", "L1", "L0")


class Attack:
    """Base class of every attack. Subclasses set `name` and `norm` and implement `perturb(x, y)`.

    The constructor's signature is the parameter schema (`__init__(self, model, eps=..., ...)`).
    A subclass that can attack toward given classes accepts `perturb(x, y, targets=None)`.
    `__call__` enforces the contract: eval mode (restored afterwards), the model's device, no
    gradient left on parameters, the caller's tensor untouched, output clipped into the model's
    input bounds, and, for attacks with an `eps` and an Linf, L2 or L1 norm, the epsilon ball.
    """

    name: str = ""
    norm: str | None = None
    black_box: bool = False

    def __init__(self, model):
        self.model = model

    def perturb(self, x, y):
        """Return adversarial versions of `x` (N x C x H x W) for labels `y` (N)."""
        raise NotImplementedError(f"{type(self).__name__} must implement perturb(x, y)")

    @classmethod
    def supports_targets(cls) -> bool:
        return "targets" in inspect.signature(cls.perturb).parameters

    @property
    def bounds(self) -> tuple[float, float]:
        return tuple(getattr(self.model, "bounds", (0.0, 1.0)))

    def __call__(self, x, y, targets=None):
        import torch

        if targets is not None and not self.supports_targets():
            raise UsageError(f"attack {self.name!r} has no targeted mode")
        model = self.model
        device = _device_of(model)
        params = list(model.parameters())
        saved = [(p.requires_grad, p.grad) for p in params]
        x_ref = x.detach().to(device)  # never handed to perturb, which gets a copy
        y_in = y.detach().to(device).clone()
        for p in params:
            p.requires_grad_(False)
        try:
            with eval_mode(model), torch.enable_grad():
                kwargs = {} if targets is None else {"targets": targets.detach().to(device).clone()}
                x_adv = self.perturb(x_ref.clone(), y_in, **kwargs)
        finally:
            for p, (requires_grad, grad) in zip(params, saved):
                p.requires_grad_(requires_grad)
                p.grad = grad
        return self._checked(x_ref, x_adv).to(x.device)

    def _who(self) -> str:
        return f"attack {self.name!r} (plugin {plugin_of(type(self))})"

    def _checked(self, x, x_adv):
        import torch

        if not isinstance(x_adv, torch.Tensor) or x_adv.shape != x.shape:
            shape = list(x_adv.shape) if isinstance(x_adv, torch.Tensor) else type(x_adv).__name__
            raise AttackContractError(f"{self._who()} returned {shape}, expected a tensor of shape {list(x.shape)}")
        x_adv = x_adv.detach().to(x.device, x.dtype)
        if not torch.isfinite(x_adv).all():
            raise AttackContractError(f"{self._who()} returned NaN or Inf values")
        lo, hi = self.bounds
        x_adv = x_adv.clamp(lo, hi)
        eps = getattr(self, "eps", None)
        if isinstance(eps, numbers.Real) and not isinstance(eps, bool) and self.norm in ("Linf", "L2", "L1"):
            eps = float(eps)
            delta = (x_adv - x).flatten(1)
            size = {"Linf": lambda: delta.abs().amax(1), "L2": lambda: delta.norm(dim=1),
                    "L1": lambda: delta.abs().sum(1)}[self.norm]()
            limit = eps * (1 + 1e-4) + 1e-6
            if len(size) and size.max() > limit:
                raise AttackContractError(
                    f"{self._who()} left its {self.norm} ball: perturbation {size.max():.6g} > eps {eps:.6g} "
                    f"on {int((size > limit).sum())} of {len(size)} samples"
                )
        return x_adv


def plugin_of(cls: type) -> str:
    """The plugin that registered attack class `cls` (or its module when unregistered)."""
    from .plugins import registry

    for entry in registry().all("attacks"):
        target = entry.target
        if target is cls or getattr(target, "_cls", None) is cls:
            return entry.plugin
    return cls.__module__.split(".")[0]


def _device_of(model):
    from .models import device_of

    return device_of(model)


@dataclass
class AttackResult:
    """Adversarial examples and per-sample outcomes of one attack run (tensors on the CPU)."""

    attack: str
    params: dict
    x: Any
    x_adv: Any
    y: Any
    pred_clean: Any
    pred_adv: Any
    success: Any
    linf: Any
    l2: Any
    seconds: float
    targets: Any = None
    device: str = "cpu"
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def clean_accuracy(self) -> float:
        return float((self.pred_clean == self.y).float().mean()) if self.n else 0.0

    @property
    def robust_accuracy(self) -> float:
        """Share of samples classified correctly both before and after the attack."""
        return rates(self.y, self.pred_clean, self.pred_adv, self.success, self.targets)[0]

    @property
    def eligible(self):
        """Samples the success rate is measured on: correctly classified, and (targeted) with a target
        other than the true label."""
        return eligible(self.y, self.pred_clean, self.targets)

    @property
    def success_rate(self) -> float:
        """Share of eligible samples that the attack fooled (or sent to their target)."""
        return rates(self.y, self.pred_clean, self.pred_adv, self.success, self.targets)[1]

    def summary(self) -> dict:
        """The numbers `advkit attack --json` prints (provenance is added by the caller)."""
        fooled = self.success & self.eligible
        return {
            "attack": self.attack,
            "params": self.params,
            "n": self.n,
            "targeted": self.targets is not None,
            "clean_accuracy": self.clean_accuracy,
            "robust_accuracy": self.robust_accuracy,
            "success_rate": self.success_rate,
            "perturbation": {
                "linf_mean": _mean(self.linf[fooled]),
                "linf_max": _max(self.linf[fooled]),
                "l2_mean": _mean(self.l2[fooled]),
                "l2_max": _max(self.l2[fooled]),
                "rms_mean": _mean(self.l2[fooled]) / max(1, self.x_adv[0].numel()) ** 0.5 if self.n else 0.0,
                "over": "successful adversarial examples" if fooled.any() else "none succeeded",
            },
            "seconds": round(self.seconds, 4),
            "samples_per_second": round(self.n / self.seconds, 2) if self.seconds > 0 else None,
            "device": self.device,
            **self.extra,
        }


def robust(y, pred_clean, pred_adv):
    """Per sample: classified correctly before and after the attack (a misclassified sample that the
    attack happens to move to its true class is not robust)."""
    return (pred_clean == y) & (pred_adv == y)


def eligible(y, pred_clean, targets=None):
    """Per sample: counted in the success rate (correct, and for a targeted attack a target other than y)."""
    correct = pred_clean == y
    return correct if targets is None else correct & (targets != y)


def rates(y, pred_clean, pred_adv, success, targets=None) -> tuple[float, float]:
    """(robust accuracy over all samples, success rate over the eligible ones): the two numbers every
    command reports for an attack."""
    if not len(y):
        return 0.0, 0.0
    mask = eligible(y, pred_clean, targets)
    success_rate = float(success[mask].float().mean()) if mask.any() else 0.0
    return float(robust(y, pred_clean, pred_adv).float().mean()), success_rate


def _mean(t) -> float:
    return float(t.mean()) if len(t) else 0.0


def _max(t) -> float:
    return float(t.max()) if len(t) else 0.0


def run_attack(attack: Attack, x, y, *, targets=None, batch_size: int = 256, progress: bool = False,
               name: str | None = None, params: dict | None = None) -> AttackResult:
    """Run `attack` over `x, y` in batches on the model's device and measure every sample."""
    import torch
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    model = attack.model
    device = _device_of(model)
    outputs, started = [], time.perf_counter()
    batches = range(0, len(x), batch_size)
    for start in tqdm(batches, desc=name or attack.name, unit="batch", disable=not progress, leave=False):
        xb = x[start:start + batch_size].to(device)
        yb = y[start:start + batch_size].to(device)
        tb = None if targets is None else targets[start:start + batch_size].to(device)
        outputs.append(attack(xb, yb, targets=tb))
    x_adv = torch.cat(outputs) if outputs else x.clone()
    seconds = time.perf_counter() - started
    pred_clean, pred_adv = predict(model, x, batch_size), predict(model, x_adv, batch_size)
    delta = (x_adv.cpu() - x.cpu()).flatten(1)
    y_cpu = y.cpu()
    success = pred_adv == (targets.cpu() if targets is not None else y_cpu)
    if targets is None:
        success = ~success
    return AttackResult(
        attack=name or attack.name, params=params or {}, x=x.cpu(), x_adv=x_adv.cpu(), y=y_cpu,
        pred_clean=pred_clean, pred_adv=pred_adv, success=success,
        linf=delta.abs().amax(1) if len(delta) else delta.sum(1), l2=delta.norm(dim=1), seconds=seconds,
        targets=None if targets is None else targets.cpu(), device=str(device),
    )


def predict(model, x, batch_size: int = 512):
    """Predicted classes of `x` in eval mode, on the model's device, returned on the CPU."""
    return logits_of(model, x, batch_size).argmax(1)


def logits_of(model, x, batch_size: int = 512):
    """Logits of `x` in eval mode, without gradients; the model's train/eval mode is restored."""
    import torch

    device = _device_of(model)
    with eval_mode(model), torch.no_grad():
        out = [model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


@contextlib.contextmanager
def eval_mode(model):
    """Run the block with `model` in eval mode; afterwards every module's train/eval flag is as before."""
    modules = list(model.modules())
    modes = [m.training for m in modules]
    if any(modes):
        model.eval()
    try:
        yield model
    finally:
        for m, mode in zip(modules, modes):
            if m.training != mode:
                m.training = mode
