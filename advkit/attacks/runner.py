"""Running attacks: `attack` by registered name, the batched runner, and `AttackResult` with the rates every command reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from advkit.attacks import norms
from advkit.attacks.base import Attack
from advkit.attacks.steps import STEP_RULE, derive_step, madry_step  # noqa: F401 (public here)
from advkit.data.dataset import check_batch, check_labels
from advkit.errors import UsageError
from advkit.models.inference import device_of, logits_of, predict
from advkit.plugins.registry import instantiate


@dataclass
class AttackResult:
    """Adversarial examples and per-sample outcomes of one attack run (tensors on the CPU).

    `x` and `x_adv` hold every sample for a run on tensors; a streamed run (`keep=K`) holds only
    the first K of them (its adversarial examples went to disk), the per-sample outcomes all n.
    """

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
    derived: dict = field(default_factory=dict)  # parameters derived rather than given: {name: rule}

    @property
    def n(self) -> int:
        return len(self.y)

    def head(self, k: int) -> AttackResult:
        """The first `k` samples (at most those whose images are kept) as a result of their own."""
        import dataclasses

        k = min(k, len(self.x))
        per_sample = {f: getattr(self, f)[:k] for f in ("x", "x_adv", "y", "pred_clean", "pred_adv", "success",
                                                      "linf", "l2")}
        return dataclasses.replace(self, **per_sample, targets=None if self.targets is None else self.targets[:k])

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
            "derived": dict(self.derived),
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
    """The mean in float64, kept inside [min, max] (a float32 mean of equal values can exceed them)."""
    if not len(t):
        return 0.0
    t = t.double()
    return float(t.mean().clamp(t.min(), t.max()))


def _max(t) -> float:
    return float(t.max()) if len(t) else 0.0


def run_attack(attack: Attack, x, y, *, targets=None, batch_size: int = 256, progress=None,
               name: str | None = None, params: dict | None = None) -> AttackResult:
    """Run `attack` over tensors `x, y` in batches on the model's device and measure every sample.

    `progress`: a mode (auto, bar, plain, none), True/False, None (the ambient mode) or a running
    `advkit.progress` to advance (`advkit.reporting.progress`); it counts attacked samples.
    """
    from advkit.data.dataset import Dataset

    samples = Dataset(x.cpu(), y.cpu(), name="inputs")
    return stream_attack(attack, samples, targets=targets, batch_size=batch_size, progress=progress, name=name,
                         params=params)


def stream_attack(attack: Attack, samples, *, targets=None, batch_size: int = 256, workers: int = 0,
                  progress=None, name: str | None = None, params: dict | None = None, writer=None,
                  keep: int | None = None, seed: int = 0) -> AttackResult:
    """Run `attack` over a `SampleSet` read batch by batch (`advkit.data.stream.batches`, `workers`
    reader processes), checking each batch against the model (shape, NaN, bounds, labels).

    `targets`: None, a tensor (one target per sample) or a mode (random, least-likely, next, a
    class), chosen per batch from the clean logits with one generator seeded by `seed`. `writer`
    (an `advkit.reporting.adversarial.AdversarialWriter`) receives every batch's adversarial
    examples; `keep` limits the images held in the result to the first K samples (None: all).
    Only per-sample outcomes grow with n.
    """
    import torch

    from advkit.attacks.targets import choose_targets
    from advkit.data.stream import batches
    from advkit.reporting.progress import track

    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    model = attack.model
    device = device_of(model)
    mode = None if targets is None or isinstance(targets, torch.Tensor) else targets
    generator = torch.Generator().manual_seed(seed)
    kept = keep if keep is not None else len(samples)
    columns = {k: [] for k in ("x", "x_adv", "y", "pred_clean", "pred_adv", "targets", "linf", "l2")}
    budget = (params or {}).get(getattr(attack, "budget_param", "eps"))
    label = f"attack {name or attack.name}" + (f" eps={budget:g}" if isinstance(budget, (int, float)) else "")
    seconds = 0.0
    with track(progress, len(samples), label) as meter:
        for positions, xb, yb in batches(samples, batch_size, workers=workers):
            check_batch(model, xb, yb)
            pred_clean = predict(model, xb, batch_size)  # before the attack: never the model an attack left behind
            if mode is not None:
                tb = choose_targets(mode, logits_of(model, xb, batch_size), yb, generator)
                check_labels(tb, model.num_classes, what="targets")
            else:
                tb = None if targets is None else targets[positions]
            started = time.perf_counter()
            adv = attack(xb.to(device), yb.to(device), targets=None if tb is None else tb.to(device)).cpu()
            seconds += time.perf_counter() - started
            pred_adv = predict(model, adv, batch_size)
            delta = (adv - xb).flatten(1)
            if writer is not None:
                writer.add(positions, adv, yb, pred_clean, pred_adv, targets=tb)
            room = kept - sum(len(t) for t in columns["x"])
            if room > 0 or not columns["x"]:  # a copy: a view would keep the whole batch alive
                columns["x"].append(xb[:max(room, 0)].clone())
                columns["x_adv"].append(adv[:max(room, 0)].clone())
            for key, value in (("y", yb), ("pred_clean", pred_clean), ("pred_adv", pred_adv), ("targets", tb),
                               ("linf", norms.size(delta, "Linf")), ("l2", norms.size(delta, "L2"))):
                if value is not None:
                    columns[key].append(value.cpu())
            meter.update(len(xb))
    out = {k: torch.cat(v) if v else None for k, v in columns.items()}
    if out["x"] is None:
        out["x"] = out["x_adv"] = torch.zeros(0, *samples.input_shape)
        out.update({k: torch.zeros(0, dtype=torch.long) for k in ("y", "pred_clean", "pred_adv")})
        out.update({k: torch.zeros(0) for k in ("linf", "l2")})
    success = out["pred_adv"] == (out["targets"] if out["targets"] is not None else out["y"])
    return AttackResult(
        attack=name or attack.name, params=params or {}, x=out["x"], x_adv=out["x_adv"], y=out["y"],
        pred_clean=out["pred_clean"], pred_adv=out["pred_adv"], success=success if targets is not None else ~success,
        linf=out["linf"], l2=out["l2"], seconds=seconds, targets=out["targets"], device=str(device),
    )


def get_attack(name: str) -> type:
    """The attack class registered as `name` (`pgd`, `torchattacks.pgd`, `art.pgd`, ...)."""
    from advkit.plugins.registry import registry

    return registry().lookup("attacks", name).cls


def make_attack(name: str, model, *, seed: int | None = None, **params):
    """Instantiate attack `name` on `model`: (attack, qualified name, effective parameters).

    A declared step size (`step_param`) not in `params` follows eps: `madry_step(eps, iterations)`
    (`advkit.attacks.steps.derive_step`, the one rule every command uses)."""
    params, _ = derive_step(get_attack(name), params)
    made = instantiate("attacks", name, model, seed=seed, **params)
    check_budget(made[0], made[1])
    return made


def check_budget(instance, qualified: str) -> None:
    """Refuse an eps larger than any perturbation inside the model's bounds can be: for Linf the
    bounds' range (hi - lo), for L2 the box's diagonal (hi - lo) * sqrt(C*H*W), for L1 (hi - lo) * C*H*W."""
    import math
    import numbers

    budget = instance.budget_param
    eps = getattr(instance, budget, None) if budget else None
    if not isinstance(eps, numbers.Real) or isinstance(eps, bool):
        return
    norm = instance.norm
    if instance.norm_param and isinstance(getattr(instance, "params", None), dict):
        norm = instance.params.get(instance.norm_param, norm)
    lo, hi = instance.bounds
    size = math.prod(getattr(instance.model, "input_shape", ()) or (1,))
    limit = {"Linf": hi - lo, "L2": (hi - lo) * math.sqrt(size), "L1": (hi - lo) * size}.get(str(norm))
    if limit is not None and float(eps) > limit * (1 + 1e-6):
        raise UsageError(f"attack {qualified!r}: {budget} {float(eps):g} is larger than any {norm} perturbation "
                         f"inside the model's bounds [{lo:g}, {hi:g}] can be (at most {limit:.4g}); eps is in "
                         "input units: 8/255 is 8 grey levels of 0-255 images in [0, 1]")


def attack(name: str, model, x, y=None, *, targets=None, batch_size: int = 256, seed: int = 0,
           progress=None, workers: int = 0, writer=None, keep: int | None = None, **params) -> AttackResult:
    """Run attack `name` on `model` over `x` (N x C x H x W, inside the model's bounds) and labels `y`.

    `x` may instead be a `SampleSet` (no `y`): it is streamed batch by batch (`stream_attack`:
    `workers` reader processes, each batch checked as it is read, adversarial examples to
    `writer`, only the first `keep` images held in the result).
    `targets`: None (untargeted), a tensor of target classes, or a mode: "random",
    "least-likely", "next" or a class number. `seed` seeds torch/NumPy/Python and is passed to
    attacks that take one. A plain `nn.Module` is treated as taking inputs in [0, 1]. `progress`
    (samples attacked, on stderr): auto, bar, plain, none, True/False, or a running `advkit.progress`
    to advance; None (default) is the ambient mode (`advkit.progress_mode`), auto unless set: a bar on
    a terminal, else a plain line every few seconds once the run takes longer than that.
    """
    import torch

    from advkit.attacks.targets import choose_targets
    from advkit.data.dataset import Dataset, SampleSet
    from advkit.models.model import as_model
    from advkit.seeding import seed_everything

    if isinstance(x, SampleSet):
        if y is not None:
            raise UsageError("attack: pass labels inside the SampleSet, not as y")
        samples = x
        model = as_model(model, input_shape=tuple(samples.input_shape))
    else:
        if y is None:
            raise UsageError("attack: labels y are required with a tensor x")
        model = as_model(model, input_shape=tuple(x.shape[1:]))
        x = torch.as_tensor(x, dtype=torch.float32)
        y = torch.as_tensor(y).long()
        check_batch(model, x, y)
        samples = Dataset(x.cpu(), y.cpu(), name="inputs")
    seed_everything(seed)
    params, derived = derive_step(get_attack(name), params)
    instance, qualified, bound = make_attack(name, model, seed=seed, **params)
    if targets is not None and not isinstance(targets, torch.Tensor) and not isinstance(x, SampleSet):
        logits = logits_of(model, x, batch_size)  # a mode over tensors: chosen over all samples at once
        targets = choose_targets(targets, logits, y, torch.Generator().manual_seed(seed))
    if isinstance(targets, torch.Tensor):
        targets = torch.as_tensor(targets).long().cpu()
        check_labels(targets, model.num_classes, what="targets")
    result = stream_attack(instance, samples, targets=targets, batch_size=batch_size, workers=workers,
                           progress=progress, name=qualified, params=bound, writer=writer, keep=keep, seed=seed)
    result.derived = derived
    return result
