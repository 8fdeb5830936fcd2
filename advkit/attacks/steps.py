"""The one step-size rule: an iterative attack's step size, when not given, follows its eps (2.5 * eps / steps)."""

from __future__ import annotations

import numbers

from advkit.errors import UsageError

STEP_RULE = "2.5*eps/steps"  # Madry et al.'s step size, as summaries record a derived one


def madry_step(eps: float, steps: int) -> float:
    """PGD's step size when none is given: 2.5 * eps / steps (Madry et al. 2018)."""
    return 2.5 * eps / max(1, int(steps))


def derive_step(cls, params: dict) -> tuple[dict, dict]:
    """`params` for attack class `cls` with its declared `step_param` derived from eps when not given.

    Returns (parameters, derived): the step is `madry_step(eps, iterations)` with the eps and
    iteration count the attack will run with (given in `params`, text converted by the schema,
    else the constructor's defaults; 1 iteration without an `iterations_param`), and `derived` is
    `{step_param: STEP_RULE}`. Without a step parameter, with the step given, or without a
    numeric eps, the parameters come back unchanged and `derived` is empty. Every command and API
    call that builds an attack by name (`attack`, `make_attack`, evaluate, defend, adversarial
    training) goes through here.
    """
    from advkit.plugins.schema import convert, parameters

    params = dict(params)
    step, budget, iterations = cls.step_param, cls.budget_param, cls.iterations_param
    schema = {p.name: p for p in parameters(cls)}
    given = {key.replace("-", "_"): value for key, value in params.items()}
    if step not in schema or step in given or budget not in schema:
        return params, {}

    def value(name):
        if name not in given:
            return schema[name].default
        raw = given[name]
        return convert(raw, schema[name]) if isinstance(raw, str) else raw

    try:
        eps = value(budget)
        count = value(iterations) if iterations in schema else 1
    except UsageError:
        return params, {}  # the attack's own binding reports the bad value
    if not _number(eps) or not (count is None or _number(count)):
        return params, {}
    params[step] = madry_step(float(eps), count or 1)
    return params, {step: STEP_RULE}


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
