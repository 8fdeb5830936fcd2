"""Robust accuracy over epsilons: a cascade of attacks, the per-example worst case, and its cost.

A sample counts as robust at eps only if it is classified correctly and no attack found an
adversarial example for it at eps or at any smaller eps (a smaller ball lies inside the larger
one). An attack finds one when any point it evaluates inside the ball is misclassified, whether or
not its final output still is (`advkit.watch`). The cascade therefore runs each attack, eps by eps in
ascending order, only on the samples still robust, and stops computing a sample inside an attack
once it is fooled; `cascade=False` runs every attack on every sample to the end, as the reference.
Both give the same worst case whenever an attack's result on a sample does not depend on the other
samples in its batch (random starts drawn for the whole batch make both runs equally valid,
different draws)."""

from __future__ import annotations

from dataclasses import dataclass, field

from advkit.attacks import norms
from advkit.errors import UsageError
from advkit.evaluation.cost import _cost
from advkit.evaluation.suite import ALPHA_RULE, DEFAULT_EPS, EVAL_NORMS, AttackSpec, as_specs, instantiate
from advkit.evaluation.watch import run_watched
from advkit.reporting.progress import Progress


@dataclass
class Evaluation:
    """Everything `evaluate` measured; `summary()` is the JSON form, the tensors feed the reports."""

    attacks: list[str]
    params: dict
    norm: str
    eps: list[float]
    cascade: bool
    seed: int
    device: str
    clean_accuracy: float
    worst_case: dict
    per_attack: dict
    cost: dict
    x: object = None
    y: object = None
    clean_pred: object = None
    adversarial: dict = field(default_factory=dict)
    sizes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    sanity_cost: dict = field(default_factory=dict)
    checked: bool = False
    output_change: float = 0.0  # largest logit change between two identical passes (0: deterministic model)

    @property
    def any_point(self) -> bool:
        """Samples count as fooled by any evaluated point (not for a model whose outputs vary)."""
        return not self.output_change

    @property
    def n(self) -> int:
        return len(self.y)

    def summary(self) -> dict:
        return {
            "n": self.n, "norm": self.norm, "eps": self.eps,
            "mode": "cascade" if self.cascade else "full",
            "fooled_by_any_evaluated_point": self.any_point, "early_stop": self.cascade and self.any_point,
            "attacks": self.attacks, "params": self.params,
            "clean_accuracy": self.clean_accuracy,
            "worst_case": {_key(e): a for e, a in self.worst_case.items()},
            "per_attack": {a: {_key(e): r for e, r in runs.items()} for a, runs in self.per_attack.items()},
            "cost": self.cost,
            "sanity_checked": self.checked,
            "warnings": [w.to_dict() for w in self.warnings],
            "sanity_cost": self.sanity_cost,
            "seed": self.seed, "device": self.device,
        }


def _key(eps: float) -> str:
    return f"{eps:g}"


def evaluate(model, x, y, attacks=None, eps=None, *, norm: str = "Linf", cascade: bool = True,
             batch_size: int = 256, seed: int = 0, checks: bool = True, probe: int = 64,
             progress=None) -> Evaluation:
    """Robust accuracy of `model` on `x, y` per attack and per eps, and the per-example worst case.

    `attacks`: a suite string (`"pgd:steps=20,apgd:loss=dlr"`), a list of names, `AttackSpec`s or
    `(name, params)` pairs; None runs the default suite (`DEFAULT_SUITE`). `eps`: a list of budgets
    in input units (default `DEFAULT_EPS[norm]`); eps = 0 gives the clean accuracy without attacking.
    `cascade=False` runs every attack on every sample (the reference the cascade's saving is measured
    against). `checks` runs the sanity checks of `advkit.sanity` on `probe` samples. `progress` (on
    stderr; see `advkit.attack`) counts the samples still to attack over every (attack, eps), with an
    ETA for the whole run (in the cascade an upper bound: fooled samples drop out).
    """
    import torch

    from advkit.attacks.runner import robust as robust_after
    from advkit.data.dataset import check_batch
    from advkit.evaluation.sanity import varying_outputs
    from advkit.models.inference import logits_of
    from advkit.models.model import as_model

    if norm not in EVAL_NORMS:
        raise UsageError(f"--norm must be one of {', '.join(EVAL_NORMS)}, got {norm!r}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    model = as_model(model, input_shape=tuple(x.shape[1:]))
    x = torch.as_tensor(x, dtype=torch.float32).cpu()
    y = torch.as_tensor(y).long().cpu()
    check_batch(model, x, y)
    eps = sorted({float(e) for e in (DEFAULT_EPS[norm] if eps is None else eps)})
    if not eps or eps[0] < 0:
        raise UsageError(f"--eps needs one or more values >= 0, got {eps}")
    specs = as_specs(attacks)
    nonzero = [e for e in eps if e > 0]
    instances = {(s, e): instantiate(s, model, e, norm, seed) for s in specs for e in nonzero}

    logits = logits_of(model, x, batch_size)
    clean_pred = logits.argmax(1)
    correct = clean_pred == y
    # a randomised model's single misclassified pass proves nothing: keep attacks' own outputs, run them to the end
    output_change = varying_outputs(model, x[:batch_size], logits[:batch_size], batch_size)
    any_point = not output_change
    robust = correct.clone()
    clean_accuracy = _share(correct)
    per_attack = {s.label: {} for s in specs}
    sizes = {s.label: [] for s in specs}
    worst_case, adversarial, runs = {}, {}, []
    with Progress(None, "evaluate", progress=progress) as meter:
        runs_left = len(specs) * len(nonzero)
        for e in eps:
            for s in specs:
                if e == 0:
                    per_attack[s.label][e] = {"ran_on": 0, "fooled": 0, "robust_accuracy": clean_accuracy}
                    continue
                index = robust.nonzero().flatten() if cascade else torch.arange(len(y))
                # the work left: this many samples for this and every later (attack, eps); fewer in the cascade
                meter.set_total(meter.done + len(index) * runs_left)
                meter.describe(f"evaluate {s.label} eps={e:g}")
                runs_left -= 1
                x_adv, pred, watch = run_watched(instances[(s, e)][0], model, x[index], y[index], e, norm,
                                                 batch_size=batch_size, seed=seed, record=any_point,
                                                 early_stop=cascade and any_point, progress=meter,
                                                 desc=f"{s.label} eps={e:g}")
                fooled = correct[index] & ~robust_after(y[index], clean_pred[index], pred)
                fooled_mask = _mask(index[fooled], len(y))
                runs.append((s.label, len(index), watch.cost()))
                # cascade: robust after this attack and all before it; full: against this attack alone
                after = (robust if cascade else correct) & ~fooled_mask
                per_attack[s.label][e] = {"ran_on": len(index), "fooled": int(fooled.sum()),
                                          "robust_accuracy": _share(after), **watch.cost()}
                sizes[s.label] += norms.size(x_adv[fooled] - x[index[fooled]], norm).tolist()
                found = adversarial.setdefault(e, {})
                for i, adv, p in zip(index[fooled].tolist(), x_adv[fooled], pred[fooled].tolist()):
                    if robust[i]:
                        found[i] = (adv, p, s.label)
                robust &= ~fooled_mask
            worst_case[e] = _share(robust)
    evaluation = Evaluation(
        attacks=[s.label for s in specs],
        params={s.label: _recorded(s, *instances[(s, nonzero[0])]) if nonzero else dict(s.params)
                for s in specs},
        norm=norm, eps=eps, cascade=cascade, seed=seed, device=str(model.device),
        clean_accuracy=clean_accuracy, worst_case=worst_case, per_attack=per_attack,
        cost=_cost(runs, len(y), cascade), x=x, y=y, clean_pred=clean_pred, adversarial=adversarial, sizes=sizes,
        output_change=output_change,
    )
    if checks:
        from advkit.evaluation.sanity import run_checks

        evaluation.checked = True
        evaluation.warnings, evaluation.sanity_cost = run_checks(model, evaluation, specs, probe=probe,
                                                                 batch_size=batch_size)
    return evaluation


def _recorded(spec: AttackSpec, attack, bound: dict) -> dict:
    """The parameters an attack ran with, without its budget (eps); a derived step size is recorded as its rule."""
    params = {k: v for k, v in bound.items() if k != attack.budget_param}
    if attack.step_param in params and attack.step_param not in dict(spec.params):
        params[attack.step_param] = ALPHA_RULE
    return params


def _mask(index, n: int):
    import torch

    mask = torch.zeros(n, dtype=torch.bool)
    mask[index] = True
    return mask


def _share(mask) -> float:
    return float(mask.float().mean()) if len(mask) else 0.0
