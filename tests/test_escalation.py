"""Escalating attacks (`trial.KEY=VALUE`): the attack's own budget runs only where a short trial fooled a sample."""

from __future__ import annotations

import pytest

import advkit
from advkit.evaluation.suite import parse_attacks

QUERIES, TRIAL = 300, 30
SQUARE = f"torchattacks.square:n_queries={QUERIES}:trial.n_queries={TRIAL}"


def run(attacks, eps, digits, **kwargs):
    evaluation = advkit.evaluate(advkit.default_model(), digits.x[:48], digits.y[:48], attacks, [eps], seed=0,
                                 checks=False, progress=False, **kwargs)
    return evaluation, evaluation.per_attack[evaluation.attacks[0]][eps]


def test_a_trial_that_fools_nothing_does_not_spend_the_full_budget(digits):
    evaluation, square = run(SQUARE, 0.001, digits)
    assert square["fooled"] == 0 and square["extended"] == 0
    assert square["forward"] <= square["ran_on"] * (TRIAL + 5)  # Square: a pass per query, a few checks
    assert evaluation.params[evaluation.attacks[0]]["trial.n_queries"] == TRIAL


def test_a_trial_that_fools_runs_the_full_budget_on_the_rest(digits):
    trial_alone, short = run(f"torchattacks.square:n_queries={TRIAL}", 0.15, digits)
    escalating, square = run(SQUARE, 0.15, digits)
    assert 0 < short["fooled"] < short["ran_on"]  # the trial fools some samples, not all
    assert square["extended"] == square["ran_on"] - short["fooled"]  # the same trial, then the rest
    assert square["forward"] > square["ran_on"] * (TRIAL + 5)
    assert escalating.worst_case[0.15] <= trial_alone.worst_case[0.15]


def test_full_mode_runs_the_full_budget_without_a_trial(digits):
    evaluation, square = run(SQUARE, 0.001, digits, cascade=False)
    assert square["extended"] == 0 and square["forward"] >= int(evaluation.correct.sum()) * (QUERIES - 1)


def test_trial_parameters_are_checked_like_the_attacks(digits):
    assert parse_attacks(SQUARE)[0].trial == {"n_queries": str(TRIAL)}
    with pytest.raises(advkit.UsageError, match="bogus"):
        run("torchattacks.square:trial.bogus=1", 0.1, digits)
