"""The names and defaults a user reaches without thinking are the field's strong configurations."""

import pytest
import torch

import advkit
from advkit.evaluation.suite import DEFAULT_SUITE, FAST_SUITE, STANDARD_SUITE, SUITES, as_specs, parse_attacks
from advkit.training.loop import TrainConfig

EPS = 0.1


@pytest.fixture(scope="module")
def distilled(digits_train, digits):
    torch.manual_seed(1)
    fresh = advkit.load_model("cnn", input_shape=digits_train.input_shape, num_classes=10)
    model, _ = advkit.defend("distillation", fresh, digits_train, digits, params={"temperature": 100},
                             config=TrainConfig(epochs=10, lr=1e-2, seed=0), eval_attack="fgsm",
                             eval_params={"eps": 0.2}, progress=False)
    return model


def test_cw_short_name_breaks_a_t100_distilled_cnn(distilled, digits):
    result = advkit.attack("cw", distilled, digits.x[:100], digits.y[:100], seed=0, progress=False)
    assert result.attack == "torchattacks.cw" and result.params["binary_search_steps"] > 1
    assert result.success_rate >= 0.95  # success_rate counts the correctly classified samples


def test_cw_search_finds_smaller_perturbations_than_one_constant(digits):
    model, x, y = advkit.default_model(), digits.x[:60], digits.y[:60]
    one = advkit.attack("cw", model, x, y, seed=0, binary_search_steps=1, progress=False)
    searched = advkit.attack("cw", model, x, y, seed=0, progress=False)
    both = one.success & searched.success
    assert searched.success.sum() >= one.success.sum()
    assert searched.l2[both].mean() < one.l2[both].mean()


def test_bad_binary_search_steps_is_a_usage_error(digits):
    with pytest.raises(advkit.UsageError, match="binary_search_steps"):
        advkit.attack("cw", advkit.default_model(), digits.x[:4], digits.y[:4], binary_search_steps=0,
                      progress=False)


@pytest.mark.parametrize("name", ["pgd", "pgdl2", "apgd", "apgdt", "fab"])
def test_iterative_short_names_run_a_hundred_steps(name, digits):
    result = advkit.attack(name, advkit.default_model(), digits.x[:8], digits.y[:8], eps=EPS, seed=0, progress=False)
    assert result.params["steps"] == 100  # torchattacks' own default is 10
    assert advkit.get_attack(f"torchattacks.{name}").default_texts()["steps"] == "100"  # what `advkit list` shows


def test_default_pgd_finds_more_than_torchattacks_ten_steps(digits):
    model = advkit.default_model()
    hundred = advkit.attack("pgd", model, digits.x, digits.y, eps=EPS, seed=0, progress=False)
    ten = advkit.attack("pgd", model, digits.x, digits.y, eps=EPS, steps=10, seed=0, progress=False)
    assert hundred.robust_accuracy < ten.robust_accuracy  # measured 62.7% against 63.5% on the 359 digits


def test_suite_names_stand_for_their_attacks():
    assert parse_attacks("default") == parse_attacks(DEFAULT_SUITE) == as_specs(None)
    assert parse_attacks(" fast ") == parse_attacks(FAST_SUITE)
    assert "WEAKER" in SUITES["fast"][1]
    steps = {s.name: dict(s.params).get("steps") for s in as_specs(None)}
    assert steps["torchattacks.apgd"] == steps["torchattacks.apgdt"] == "100"  # AutoAttack's budget
    # the default is AutoAttack standard's attacks in its order; standard adds nothing but full budgets
    standard = parse_attacks("standard")
    assert standard == parse_attacks(STANDARD_SUITE)
    assert [s.name for s in standard] == [s.name for s in as_specs(None)]
    assert all(not s.trial and "n_target_classes" not in dict(s.params) for s in standard)
    escalating = {s.name: s.trial for s in as_specs(None) if s.trial}
    assert escalating == {"torchattacks.fab": {"n_target_classes": "1"}, "torchattacks.square": {"n_queries": "500"}}


@pytest.fixture(scope="module")
def suites(digits):
    model, x, y = advkit.default_model(), digits.x[:32], digits.y[:32]
    run = {name: advkit.evaluate(model, x, y, name, [EPS], seed=0, checks=False, progress=False)
           for name in ("default", "fast")}
    members = {s.label: advkit.evaluate(model, x, y, [s], [EPS], seed=0, checks=False, progress=False)
               for s in parse_attacks("default")}
    return run, members


@pytest.mark.slow  # the full default suite, and each member alone: minutes on a loaded 2-core machine
def test_default_worst_case_is_no_higher_than_any_member(suites):
    run, members = suites
    worst = run["default"].worst_case[EPS]
    assert worst < run["default"].clean_accuracy
    for label, alone in members.items():
        assert worst <= alone.worst_case[EPS], label


@pytest.mark.slow
def test_fast_suite_is_weaker_or_equal(suites):
    run, _ = suites
    assert run["fast"].worst_case[EPS] >= run["default"].worst_case[EPS]


def test_suite_option_names_a_suite_and_excludes_attacks(cli):
    import json

    fast = cli("evaluate", "-n", "16", "--suite", "fast", "--eps", "0.1", "--probe", "8", "--json")
    assert fast.code == 0, fast.stderr
    assert json.loads(fast.stdout)["attacks"] == [s.label for s in parse_attacks(FAST_SUITE)]
    both = cli("evaluate", "-n", "16", "--suite", "fast", "--attacks", "fgsm")
    assert both.code == 2 and "not both" in both.stderr


def test_deepfool_short_name_is_the_stronger_backend(digits, monkeypatch):
    model, x, y = advkit.default_model(), digits.x[:100], digits.y[:100]
    short = advkit.attack("deepfool", model, x, y, seed=0, progress=False)
    other = advkit.attack("torchattacks.deepfool", model, x, y, seed=0, progress=False)
    assert short.attack == "art.deepfool"
    assert short.success_rate >= 0.95 and short.success_rate > other.success_rate
    monkeypatch.setenv("ADVKIT_PREFER", "torchattacks")  # the user's preference still wins
    assert advkit.attack("deepfool", model, x[:4], y[:4], progress=False).attack == "torchattacks.deepfool"
