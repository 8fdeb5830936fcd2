"""Running attacks: `attack` by registered name, the batched runner, and `AttackResult` with the rates every command reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from advkit.attacks import norms
from advkit.attacks.base import Attack
from advkit.data.dataset import check_batch, check_labels
from advkit.errors import UsageError
from advkit.models.inference import device_of, logits_of, predict
from advkit.plugins.registry import instantiate


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
    device = device_of(model)
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
        linf=norms.size(delta, "Linf"), l2=norms.size(delta, "L2"), seconds=seconds,
        targets=None if targets is None else targets.cpu(), device=str(device),
    )


def get_attack(name: str) -> type:
    """The attack class registered as `name` (`pgd`, `torchattacks.pgd`, `art.pgd`, ...)."""
    from advkit.plugins.registry import registry

    return registry().lookup("attacks", name).cls


def make_attack(name: str, model, *, seed: int | None = None, **params):
    """Instantiate attack `name` on `model`: (attack, qualified name, effective parameters)."""
    return instantiate("attacks", name, model, seed=seed, **params)


def madry_step(eps: float, steps: int) -> float:
    """PGD's step size when none is given: 2.5 * eps / steps (Madry et al. 2018)."""
    return 2.5 * eps / max(1, int(steps))


def attack(name: str, model, x, y, *, targets=None, batch_size: int = 256, seed: int = 0,
           progress: bool = False, **params) -> AttackResult:
    """Run attack `name` on `model` over `x` (N x C x H x W, inside the model's bounds) and labels `y`.

    `targets`: None (untargeted), a tensor of target classes, or a mode: "random",
    "least-likely", "next" or a class number. `seed` seeds torch/NumPy/Python and is passed to
    attacks that take one. A plain `nn.Module` is treated as taking inputs in [0, 1].
    """
    import torch

    from advkit.attacks.targets import choose_targets
    from advkit.models.model import as_model
    from advkit.seeding import seed_everything

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
