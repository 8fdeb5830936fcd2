"""Robust accuracy over epsilons: a cascade of attacks, the per-example worst case, and its cost.

A sample counts as robust at eps only if it is classified correctly and no attack found an
adversarial example for it at eps or at any smaller eps (a smaller ball lies inside the larger
one). An attack finds one when any point it evaluates inside the ball is misclassified, whether or
not its final output still is (`advkit.watch`). The cascade therefore runs each attack, eps by eps in
ascending order, only on the samples still robust, and stops computing a sample inside an attack
once it is fooled; `cascade=False` runs every attack on every sample to the end, as the reference.
Both give the same worst case whenever an attack's result on a sample does not depend on the other
samples in its batch (random starts drawn for the whole batch make both runs equally valid,
different draws).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UsageError

DEFAULT_SUITE = "torchattacks.apgd:loss=ce,torchattacks.apgd:loss=dlr,torchattacks.square:n_queries=1000"
ALPHA_RULE = "2.5*eps/steps"  # Madry et al.'s step size, used when an attack's alpha is not given
DEFAULT_EPS = {"Linf": (0.0, 0.05, 0.1, 0.2, 0.3), "L2": (0.0, 0.5, 1.0, 2.0)}
EVAL_NORMS = ("Linf", "L2")


@dataclass(frozen=True)
class AttackSpec:
    """One attack of a suite: a registered name and fixed parameters (eps is set per run)."""

    name: str
    params: tuple = ()

    @property
    def label(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}({args})" if args else self.name


def parse_attacks(text: str) -> list[AttackSpec]:
    """`"pgd:steps=20,alpha=0.01,apgd:loss=dlr"` -> specs; a bare `key=value` extends the previous attack."""
    specs: list[tuple[str, dict]] = []
    for token in filter(None, (t.strip() for t in text.split(","))):
        name, sep, rest = token.partition(":")
        if "=" in name:
            if not specs:
                raise UsageError(f"--attacks: {token!r} has no attack name before it (write NAME:key=value)")
            specs[-1][1].update(_key_values([token]))
        else:
            specs.append((name.strip(), _key_values(rest.split(":")) if sep else {}))
    if not specs:
        raise UsageError("--attacks is empty")
    out = [AttackSpec(name, tuple(params.items())) for name, params in specs]
    if len({s.label for s in out}) != len(out):
        raise UsageError(f"--attacks names the same attack twice: {text!r}")
    return out


def _key_values(items) -> dict[str, str]:
    from .params import parse_key_values

    params = parse_key_values(items, what="--attacks: attack parameters")
    if "eps" in params:
        raise UsageError("--attacks: set eps with --eps, not per attack")
    return params


def as_specs(attacks) -> list[AttackSpec]:
    """Specs from a string, a list of names / `AttackSpec`s / `(name, params)` pairs, or None (default suite)."""
    if attacks is None:
        return parse_attacks(DEFAULT_SUITE)
    if isinstance(attacks, str):
        return parse_attacks(attacks)
    out = []
    for item in attacks:
        if isinstance(item, AttackSpec):
            out.append(item)
        elif isinstance(item, str):
            out.extend(parse_attacks(item))
        else:
            name, params = item
            out.append(AttackSpec(name, tuple(dict(params).items())))
    return out


def instantiate(spec: AttackSpec, model, eps: float, norm: str, seed: int, **overrides):
    """An attack instance for `spec` at `eps`: the norm, class count and a PGD step size follow eps.

    Parameters are converted by the attack's schema first (bad values are a UsageError); `alpha`
    (when the attack has one and it was not given) follows `ALPHA_RULE`, 2.5 * eps / steps.
    """
    from .api import get_attack, madry_step, make_attack
    from .params import bind, parameters

    try:
        cls = get_attack(spec.name)
    except UsageError as exc:
        raise UsageError(f"evaluation attack {spec.label!r} is not available: {exc} "
                         "(see `advkit list attacks`, or choose the suite with --attacks)") from None
    schema = {p.name: p.default for p in parameters(cls)}
    params = bind(cls, {**dict(spec.params), **overrides}, what=f"attack {spec.label!r}")
    if "eps" not in schema:
        raise UsageError(f"attack {spec.label!r} has no eps parameter, so it cannot be evaluated over epsilons")
    params["eps"] = eps
    if "norm" in schema:
        params.setdefault("norm", norm)
    if "n_classes" in schema:
        params.setdefault("n_classes", model.num_classes)
    if "alpha" in schema and "alpha" not in params:
        params["alpha"] = madry_step(eps, params.get("steps") or schema.get("steps") or 1)
    attack, qualified, bound = make_attack(spec.name, model, seed=seed, **params)
    if attack.norm != norm:
        raise UsageError(f"attack {spec.label!r} measures perturbations in {attack.norm}, "
                         f"the evaluation in {norm} (choose --norm {attack.norm} or another attack)")
    return attack, bound


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
             progress: bool = False) -> Evaluation:
    """Robust accuracy of `model` on `x, y` per attack and per eps, and the per-example worst case.

    `attacks`: a suite string (`"pgd:steps=20,apgd:loss=dlr"`), a list of names, `AttackSpec`s or
    `(name, params)` pairs; None runs the default suite (`DEFAULT_SUITE`). `eps`: a list of budgets
    in input units (default `DEFAULT_EPS[norm]`); eps = 0 gives the clean accuracy without attacking.
    `cascade=False` runs every attack on every sample (the reference the cascade's saving is measured
    against). `checks` runs the sanity checks of `advkit.sanity` on `probe` samples.
    """
    import torch

    from .api import check_batch
    from .attack import logits_of
    from .attack import robust as robust_after
    from .models import as_model
    from .sanity import varying_outputs

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
    for e in eps:
        for s in specs:
            if e == 0:
                per_attack[s.label][e] = {"ran_on": 0, "fooled": 0, "robust_accuracy": clean_accuracy}
                continue
            index = robust.nonzero().flatten() if cascade else torch.arange(len(y))
            x_adv, pred, watch = run_watched(instances[(s, e)][0], model, x[index], y[index], e, norm,
                                             batch_size=batch_size, seed=seed, record=any_point,
                                             early_stop=cascade and any_point, progress=progress,
                                             desc=f"{s.label} eps={e:g}")
            fooled = correct[index] & ~robust_after(y[index], clean_pred[index], pred)
            fooled_mask = _mask(index[fooled], len(y))
            runs.append((s.label, len(index), watch.cost()))
            # cascade: robust after this attack and all before it; full: against this attack alone
            after = (robust if cascade else correct) & ~fooled_mask
            per_attack[s.label][e] = {"ran_on": len(index), "fooled": int(fooled.sum()),
                                      "robust_accuracy": _share(after), **watch.cost()}
            delta = (x_adv[fooled] - x[index[fooled]]).flatten(1)
            sizes[s.label] += (delta.abs().amax(1) if norm == "Linf" else delta.norm(dim=1)).tolist()
            found = adversarial.setdefault(e, {})
            for i, adv, p in zip(index[fooled].tolist(), x_adv[fooled], pred[fooled].tolist()):
                if robust[i]:
                    found[i] = (adv, p, s.label)
            robust &= ~fooled_mask
        worst_case[e] = _share(robust)
    evaluation = Evaluation(
        attacks=[s.label for s in specs],
        params={s.label: _recorded(s, instances[(s, nonzero[0])][1]) if nonzero else dict(s.params)
                for s in specs},
        norm=norm, eps=eps, cascade=cascade, seed=seed, device=str(model.device),
        clean_accuracy=clean_accuracy, worst_case=worst_case, per_attack=per_attack,
        cost=_cost(runs, len(y), cascade), x=x, y=y, clean_pred=clean_pred, adversarial=adversarial, sizes=sizes,
        output_change=output_change,
    )
    if checks:
        from .sanity import run_checks

        evaluation.checked = True
        evaluation.warnings, evaluation.sanity_cost = run_checks(model, evaluation, specs, probe=probe,
                                                                 batch_size=batch_size)
    return evaluation


def _recorded(spec: AttackSpec, bound: dict) -> dict:
    """The parameters an attack ran with, without eps; a derived alpha is recorded as its rule."""
    params = {k: v for k, v in bound.items() if k != "eps"}
    if "alpha" in params and "alpha" not in dict(spec.params):
        params["alpha"] = ALPHA_RULE
    return params


def run_watched(attack, model, x, y, eps: float, norm: str, *, batch_size: int, seed: int, record: bool = True,
                early_stop: bool = False, progress: bool = False, desc: str = ""):
    """Adversarial examples and their predictions for one attack, and the watch that counted its passes.

    With `record`, a sample counts as fooled when any point the attack evaluated inside the eps ball
    was misclassified (`advkit.watch`) and a fresh prediction confirms it; otherwise the attack's own
    output stands. `early_stop` also stops computing fooled samples for the rest of the attack.
    """
    import torch
    from tqdm.auto import tqdm

    from .attack import predict
    from .seeding import seed_everything
    from .watch import ForwardWatch

    seed_everything(seed)
    own, found = [], []
    device = model.device
    with ForwardWatch(model, record=record, freeze=early_stop) as watch:
        for start in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", disable=not progress, leave=False):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            with watch.batch(xb, yb, eps, norm, model.bounds) as batch:
                x_adv = attack(xb, yb)
            own.append(x_adv.cpu())
            found.append(batch.merge(x_adv).cpu())
        if not len(x):
            return x.clone(), y.clone(), watch
        x_own, x_adv = torch.cat(own), torch.cat(found)
        pred = predict(model, x_adv, batch_size)
        unconfirmed = (pred == y) & (x_adv != x_own).flatten(1).any(1)
        if unconfirmed.any():  # misclassified in the attack's pass but not in this one (random or GPU-numeric)
            x_adv[unconfirmed] = x_own[unconfirmed]
            pred[unconfirmed] = predict(model, x_own[unconfirmed], batch_size)
    return x_adv, pred, watch


def _mask(index, n: int):
    import torch

    mask = torch.zeros(n, dtype=torch.bool)
    mask[index] = True
    return mask


def _share(mask) -> float:
    return float(mask.float().mean()) if len(mask) else 0.0


def _cost(runs: list, n: int, cascade: bool) -> dict:
    """Measured cost, and what every attack on every sample costs: measured in full mode.

    In cascade mode it is estimated as a range over the (attack, eps, sample) runs the cascade
    skipped: `high` charges each what the attack spent per sample it did run on (early-stopped
    passes added back, seconds scaled by the passes), exact for attacks that spend the same on every
    sample (fixed steps); `low` charges each the one pass that predicts an attack's output, the least
    any attack costs. Attacks that stop on a sample once they fool it (Square, DeepFool) spend
    less on the easier samples the cascade skipped, so the truth lies in between.
    An attack that ran on no sample (all fooled before it) has no cost per sample: `high` is None.
    """
    keys = ("seconds", "forward", "backward")
    measured = _total([cost for _, _, cost in runs])
    if not cascade or not runs:
        return {"mode": "cascade" if cascade else "full", "measured": measured}
    low, high = [], []
    for label in dict.fromkeys(label for label, _, _ in runs):
        mine = [(ran_on, _without_early_stop(cost)) for name, ran_on, cost in runs if name == label]
        ran, samples = _total([cost for _, cost in mine]), sum(ran_on for ran_on, _ in mine)
        skipped = n * len(mine) - samples
        per_sample = {key: ran[key] / samples if samples else 0.0 for key in keys}
        high.append({key: ran[key] + per_sample[key] * skipped for key in keys} if samples or not skipped else None)
        passes = ran["forward"] + ran["backward"]
        low.append({"seconds": ran["seconds"] * (passes + skipped) / passes if passes else 0.0,
                    "forward": ran["forward"] + skipped, "backward": ran["backward"]})
    estimate = {"low": _total(low), "high": None if None in high else _total(high)}
    saving = {end: full and {key: round(1 - measured[key] / full[key], 4) if full[key] else 0.0 for key in keys}
              for end, full in estimate.items()}
    skipped = {key: sum(cost["skipped"][key] for _, _, cost in runs) for key in ("forward", "backward")}
    return {"mode": "cascade", "measured": measured, "skipped_by_early_stop": skipped,
            "full_estimate": estimate, "saving": saving}


def _total(costs: list) -> dict:
    return {"seconds": round(sum(c["seconds"] for c in costs), 4),
            "forward": int(round(sum(c["forward"] for c in costs))),
            "backward": int(round(sum(c["backward"] for c in costs)))}


def _without_early_stop(cost: dict) -> dict:
    """One run's cost had early stopping computed every sample to the end."""
    skipped = cost["skipped"]
    passes = cost["forward"] + cost["backward"]
    would = passes + skipped["forward"] + skipped["backward"]
    return {"seconds": cost["seconds"] * would / passes if passes else cost["seconds"],
            "forward": cost["forward"] + skipped["forward"], "backward": cost["backward"] + skipped["backward"]}
