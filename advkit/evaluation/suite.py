"""An evaluation suite: attack specs parsed from `--attacks`, the default suite, and instances built per eps."""

from __future__ import annotations

from dataclasses import dataclass

from advkit.attacks.steps import STEP_RULE
from advkit.errors import UsageError

# AutoAttack standard's attacks (Croce & Hein 2020), in its order (the cascade drops each sample once
# fooled), with its per-attack budgets spent where they find something: APGD-CE 100 steps; APGD-T
# 100 steps on the 3 classes of highest logit (AutoAttack: 9; on the digits models every success of
# the 9 but one came from the top 3); FAB-T on the top class, on 9 only if that fools a sample of the
# batch; Square 500 queries, 5,000 only if those fool one (after APGD, FAB-T and Square found nothing
# on any model benchmarked). Measured equal to AutoAttack standard within 0.5 pt at >= 5x fewer
# passes: benchmarks/bench_evaluate_vs_autoattack.py, README "Strong defaults".
DEFAULT_SUITE = ("torchattacks.apgd:loss=ce:steps=100,torchattacks.apgdt:steps=100:n_target_classes=3,"
                 "torchattacks.fab:multi_targeted=True:steps=100:trial.n_target_classes=1,"
                 "torchattacks.square:n_queries=5000:trial.n_queries=500")

# AutoAttack standard's attacks and budgets on every sample still robust (APGD-T and FAB-T on 9 classes).
STANDARD_SUITE = ("torchattacks.apgd:loss=ce:steps=100,torchattacks.apgdt:steps=100,"
                  "torchattacks.fab:multi_targeted=True:steps=100,torchattacks.square:n_queries=5000")

# The suite before AutoAttack's budgets: torchattacks' quick values (APGD 10 steps, Square 1,000 queries).
FAST_SUITE = ("torchattacks.apgd:loss=ce:steps=10,torchattacks.apgd:loss=dlr:steps=10,"
              "torchattacks.square:n_queries=1000")

SUITES = {
    "default": (DEFAULT_SUITE, ("AutoAttack standard's attacks, budgets spent where they find something "
                                "(APGD-CE, APGD-T top 3, FAB-T and Square escalating)")),
    "standard": (STANDARD_SUITE, "AutoAttack standard's attacks and full budgets (about 5x the passes of default)"),
    "fast": (FAST_SUITE, ("WEAKER and cheaper: APGD-CE and APGD-DLR with 10 steps, Square with 1,000 "
                          "queries; it overstates robust accuracy, use it for quick looks only")),
}


ALPHA_RULE = STEP_RULE  # Madry et al.'s step size, used when an attack's step size is not given


DEFAULT_EPS = {"Linf": (0.0, 0.05, 0.1, 0.2, 0.3), "L2": (0.0, 0.5, 1.0, 2.0)}


EVAL_NORMS = ("Linf", "L2")


TRIAL = "trial."  # `trial.KEY=VALUE`: the attack first runs with KEY=VALUE, its full budget only if that fools


@dataclass(frozen=True)
class AttackSpec:
    """One attack of a suite: a registered name and fixed parameters (eps is set per run).

    Parameters `trial.KEY=VALUE` make it escalating: in the cascade the attack first runs with
    KEY=VALUE (a smaller budget) and runs with its own budget on the samples still robust only if
    that trial fooled one of the batch (see `advkit.evaluation.cascade`).
    """

    name: str
    params: tuple = ()

    @property
    def trial(self) -> dict:
        """The parameters of the trial run (empty: no trial)."""
        return {k[len(TRIAL):]: v for k, v in self.params if k.startswith(TRIAL)}

    @property
    def attack_params(self) -> dict:
        """The attack's own parameters, without the trial's."""
        return {k: v for k, v in self.params if not k.startswith(TRIAL)}

    @property
    def label(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.name}({args})" if args else self.name


def parse_attacks(text: str) -> list[AttackSpec]:
    """`"pgd:steps=20,alpha=0.01,apgd:loss=dlr"` -> specs; a bare `key=value` extends the previous attack.

    A suite name (`default`, `fast`: `SUITES`) stands for its attacks.
    """
    if text.strip() in SUITES:
        text = SUITES[text.strip()][0]
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
    from advkit.plugins.schema import parse_key_values

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
    """An attack instance for `spec` at `eps`: its budget, norm and step size follow the evaluation.

    Parameters are converted by the attack's schema first (bad values are a UsageError). The
    attack's declared parameters (`advkit.Attack`) are set: `budget_param` to eps, `norm_param` to
    the norm, and `step_param` (when the attack has one and it was not given) follows `ALPHA_RULE`,
    2.5 * eps / the value of `iterations_param` (1 without one), by `advkit.attacks.steps.derive_step`.
    """
    from advkit.attacks.runner import get_attack, make_attack
    from advkit.attacks.steps import derive_step
    from advkit.plugins.schema import bind, parameters

    try:
        cls = get_attack(spec.name)
    except UsageError as exc:
        detail = str(exc).replace(" (see `advkit list attacks`)", "")  # the hint once, below
        raise UsageError(f"evaluation attack {spec.label!r} is not available: {detail} "
                         "(see `advkit list attacks`, or choose the suite with --attacks)") from None
    schema = {p.name: p.default for p in parameters(cls)}
    params = bind(cls, {**spec.attack_params, **overrides}, what=f"attack {spec.label!r}")
    budget = cls.budget_param
    if budget not in schema:
        raise UsageError(f"attack {spec.label!r} has no eps parameter, so it cannot be evaluated over epsilons")
    params[budget] = eps
    if cls.norm_param in schema:
        params.setdefault(cls.norm_param, norm)
    params, _ = derive_step(cls, params)
    attack, _, bound = make_attack(spec.name, model, seed=seed, **params)
    if attack.norm != norm:
        raise UsageError(f"attack {spec.label!r} measures perturbations in {attack.norm}, "
                         f"the evaluation in {norm} (choose --norm {attack.norm} or another attack)")
    return attack, bound
