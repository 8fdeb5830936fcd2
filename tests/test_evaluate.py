"""advkit.evaluate: worst case over a cascade, eps = 0, masking, cost, and the `advkit evaluate` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from masked import Noisy, Saturated

import advkit
from advkit.evaluation.report import cost_lines
from advkit.evaluation.suite import ALPHA_RULE, AttackSpec, instantiate, parse_attacks
from advkit.evaluation.watch import run_watched

EPS = [0.0, 0.1, 0.2]
DETERMINISTIC = "fgsm,pgd:random_start=false"
# Five steps each keep the tests fast; APGD-DLR still reaches the plain model's worst case through saturation.
SUITE = "torchattacks.apgd:loss=ce:steps=5,torchattacks.apgd:loss=dlr:steps=5"
SMALL = slice(280, 340)  # 60 digits test samples, two of them misclassified by the default model


@pytest.fixture(scope="module")
def small(digits):
    return digits.x[SMALL], digits.y[SMALL]


@pytest.fixture(scope="module")
def saturated(default_model):
    return advkit.Model(Saturated(default_model), default_model.input_shape, default_model.num_classes)


@pytest.fixture(scope="module")
def plain_eval(default_model, small):
    return advkit.evaluate(default_model, *small, SUITE, EPS, probe=32)


@pytest.fixture(scope="module")
def masked_eval(saturated, small):
    return advkit.evaluate(saturated, *small, SUITE, EPS, probe=32)


@pytest.fixture(scope="module")
def cascade_and_full(default_model, small):
    """The deterministic suite as a cascade and with every attack on every sample."""
    return (advkit.evaluate(default_model, *small, DETERMINISTIC, EPS, checks=False),
            advkit.evaluate(default_model, *small, DETERMINISTIC, EPS, cascade=False, checks=False))


def test_eps_zero_is_clean_accuracy_without_attacking(default_model, small):
    x, y = small
    result = advkit.evaluate(default_model, x, y, DETERMINISTIC, [0.0], checks=False)
    clean = float((advkit.predict(default_model, x) == y).float().mean())
    assert result.worst_case == {0.0: clean}
    assert all(runs[0.0]["robust_accuracy"] == clean for runs in result.per_attack.values())
    assert result.cost["measured"]["forward"] == 0


def test_cascade_equals_every_attack_on_every_sample_at_lower_cost(cascade_and_full):
    cascade, full = cascade_and_full
    assert cascade.worst_case == full.worst_case
    assert full.worst_case[0.2] < full.worst_case[0.1] < full.worst_case[0.0]
    measured, reference = cascade.cost["measured"], full.cost["measured"]
    assert measured["forward"] < reference["forward"] and measured["backward"] < reference["backward"]
    # fixed-step attacks cost the same per sample, so the estimate's high end is the measured full cost
    estimate = cascade.cost["full_estimate"]
    assert estimate["low"]["forward"] < estimate["high"]["forward"]
    assert estimate["high"]["forward"] == reference["forward"]
    assert estimate["high"]["backward"] == reference["backward"]
    assert 0 < cascade.cost["saving"]["high"]["forward"] < 1
    # inside PGD, samples stop being computed once fooled; the cascade's estimate adds them back
    skipped = cascade.cost["skipped_by_early_stop"]
    assert skipped["forward"] > 0 and skipped["backward"] > 0
    assert "skipped_by_early_stop" not in full.cost


def test_cost_of_an_attack_that_stops_on_fooled_samples_lies_in_the_estimated_range(default_model, small):
    suite = "fgsm,torchattacks.square:n_queries=30"
    cascade = advkit.evaluate(default_model, *small, suite, EPS, checks=False)
    full = advkit.evaluate(default_model, *small, suite, EPS, cascade=False, checks=False).cost["measured"]
    low, high = cascade.cost["full_estimate"]["low"], cascade.cost["full_estimate"]["high"]
    assert low["forward"] < full["forward"] < high["forward"]  # Square spends less on the easy samples
    assert low["backward"] < high["backward"] == full["backward"]  # only FGSM takes gradients: a fixed cost


def test_an_attack_that_ran_on_no_sample_leaves_the_estimate_open(default_model, small):
    result = advkit.evaluate(default_model, *small, "fgsm,pgd:steps=3", [1.0], checks=False)
    assert result.per_attack["pgd(steps=3)"][1.0]["ran_on"] == 0  # FGSM at eps 1 fooled every sample
    assert result.cost["full_estimate"]["high"] is None and result.cost["saving"]["high"] is None
    assert any("at least" in line for line in cost_lines(result.summary()))


def test_a_randomised_model_gets_no_early_stop_and_keeps_the_attacks_outputs(default_model, small):
    noisy = advkit.Model(Noisy(default_model), default_model.input_shape, default_model.num_classes)
    result = advkit.evaluate(noisy, *small, "pgd:steps=5", EPS, checks=False)
    summary = result.summary()
    assert summary["early_stop"] is False and summary["fooled_by_any_evaluated_point"] is False
    assert result.cost["skipped_by_early_stop"] == {"forward": 0, "backward": 0}
    lines = cost_lines(summary)
    assert any("early stopping off" in line for line in lines)
    assert not any("early stopping skipped" in line for line in lines)


@pytest.mark.parametrize("attack", ["pgd:steps=10,random_start=false", "mifgsm:steps=10", "art.pgd:max_iter=10"])
def test_any_evaluated_point_fools_at_least_what_the_output_does(default_model, small, attack):
    x, y = small
    spec = parse_attacks(attack)[0]
    instance = instantiate(spec, default_model, 0.1, "Linf", 0)[0]
    runs = {early_stop: run_watched(instance, default_model, x, y, 0.1, "Linf", batch_size=16, seed=0,
                                    record=record, early_stop=early_stop)
            for record, early_stop in ((False, False), (True, True))}
    own, watched = runs[False][1] != y, runs[True][1] != y
    assert (watched >= own).all() and torch.isfinite(runs[True][0]).all()
    assert (runs[True][0] - x).abs().amax() <= 0.1 + 1e-6
    assert runs[True][2].skipped_forward > 0


def test_l2_cascade_equals_full_and_keeps_examples_in_the_ball(default_model, small):
    suite, eps = "torchattacks.pgdl2:steps=10,random_start=false", [0.0, 0.5, 1.0]
    cascade = advkit.evaluate(default_model, *small, suite, eps, norm="L2", checks=False)
    full = advkit.evaluate(default_model, *small, suite, eps, norm="L2", cascade=False, checks=False)
    assert cascade.worst_case == full.worst_case and cascade.worst_case[1.0] < cascade.worst_case[0.0]
    assert cascade.cost["skipped_by_early_stop"]["forward"] > 0
    assert cascade.examples
    for _, e, x, x_adv, _, _ in cascade.examples:
        assert (x_adv - x).norm() <= e * (1 + 1e-4) + 1e-6
    # attacks taking a norm argument (APGD, Square) measure in the norm they are given
    assert instantiate(AttackSpec("torchattacks.apgd"), default_model, 1.0, "L2", 0)[0].norm == "L2"


def test_an_attack_failing_at_eps_zero_is_a_finding_not_a_crash(default_model, small):
    result = advkit.evaluate(default_model, *small, "torchattacks.pgdl2", [0.0, 1.0], norm="L2", probe=16)
    eps0 = [w for w in result.warnings if w.code == "EPS0_NOT_CLEAN"]
    assert eps0 and "fails at eps=0" in eps0[0].detail  # torchattacks' PGDL2 random start divides 0 by 0


def test_full_mode_counts_only_correctly_classified_samples_as_fooled(cascade_and_full):
    full = cascade_and_full[1]
    correct = int((full.clean_pred == full.y).sum())
    assert correct < full.n  # the slice holds misclassified samples, which no attack can fool
    for label, runs in full.per_attack.items():
        for e in EPS[1:]:
            assert runs[e]["fooled"] + round(runs[e]["robust_accuracy"] * full.n) == correct
        # one size per sample the attack fooled at some eps: its smallest
        assert max(runs[e]["fooled"] for e in EPS) <= len(full.sizes[label]) <= sum(runs[e]["fooled"] for e in EPS)
        assert min(full.sizes[label]) > 0


def test_derived_step_size_follows_eps_and_is_recorded_as_its_rule(default_model, small, cascade_and_full):
    derived = cascade_and_full[0].params["pgd(random_start=false)"]
    assert derived == {"alpha": ALPHA_RULE, "steps": 100, "random_start": False}
    spec = AttackSpec("pgd", (("steps", "4"),))
    for eps in (0.1, 0.2):
        assert instantiate(spec, default_model, eps, "Linf", 0)[1]["alpha"] == pytest.approx(2.5 * eps / 4)
    given = advkit.evaluate(default_model, small[0][:4], small[1][:4], "pgd:alpha=0.01,steps=2", [0.1],
                            checks=False)
    assert given.params["pgd(alpha=0.01,steps=2)"] == {"alpha": 0.01, "steps": 2, "random_start": True}


def test_art_pgd_step_size_follows_the_rule_and_is_recorded_as_it(default_model, small):
    """The step-size rule reads the declared `step_param`/`iterations_param`: ART's eps_step over max_iter."""
    result = advkit.evaluate(default_model, small[0][:8], small[1][:8], "art.pgd:max_iter=4", [0.1], checks=False)
    assert result.params["art.pgd(max_iter=4)"]["eps_step"] == ALPHA_RULE
    assert result.params["art.pgd(max_iter=4)"]["max_iter"] == 4 and "eps" not in result.params["art.pgd(max_iter=4)"]
    assert instantiate(AttackSpec("art.pgd", (("max_iter", "4"),)), default_model, 0.1, "Linf", 0)[1]["eps_step"] \
        == pytest.approx(2.5 * 0.1 / 4)
    assert instantiate(AttackSpec("art.pgd"), default_model, 0.1, "Linf", 0)[1]["eps_step"] == pytest.approx(0.0025)
    given = instantiate(AttackSpec("art.pgd", (("eps_step", "0.02"),)), default_model, 0.1, "Linf", 0)[1]
    assert given["eps_step"] == 0.02
    # APGD adapts its step from eps_step: no rule, ART's default
    assert instantiate(AttackSpec("art.apgd"), default_model, 0.1, "Linf", 0)[1]["eps_step"] == 0.1


def test_worst_case_never_rises_with_eps_and_never_beats_an_attack(plain_eval):
    worst = [plain_eval.worst_case[e] for e in EPS]
    assert worst == sorted(worst, reverse=True)
    for runs in plain_eval.per_attack.values():
        assert all(plain_eval.worst_case[e] <= runs[e]["robust_accuracy"] for e in EPS)


def test_masked_model_is_flagged_and_its_worst_case_matches_the_plain_model(saturated, small, plain_eval,
                                                                            masked_eval):
    assert "GRADIENT_MASKED" in {w.code for w in masked_eval.warnings}
    pgd_only = advkit.evaluate(saturated, *small, "pgd:steps=5", EPS, checks=False)
    for e in EPS[1:]:
        assert abs(masked_eval.worst_case[e] - plain_eval.worst_case[e]) <= 0.1
        assert pgd_only.worst_case[e] > plain_eval.worst_case[e] + 0.2


def test_normal_model_is_not_flagged_for_masking(plain_eval):
    assert not [w for w in plain_eval.warnings if w.masking]


def test_attack_suite_syntax():
    specs = parse_attacks("pgd:steps=20,alpha=0.01,torchattacks.apgd:loss=dlr,fgsm")
    assert specs == [AttackSpec("pgd", (("steps", "20"), ("alpha", "0.01"))),
                     AttackSpec("torchattacks.apgd", (("loss", "dlr"),)), AttackSpec("fgsm")]
    assert specs[1].label == "torchattacks.apgd(loss=dlr)"


@pytest.mark.parametrize("attacks, eps, norm, message", [
    ("no-such-attack", EPS, "Linf", "not available"),
    ("steps=3", EPS, "Linf", "no attack name"),
    ("pgd:eps=0.1", EPS, "Linf", "--eps"),
    ("pgd,pgd", EPS, "Linf", "twice"),
    ("torchattacks.pgdl2", EPS, "Linf", "measures perturbations in L2"),
    ("pgd:steps=0", EPS, "Linf", "steps must be from 1 to"),
    ("pgd:steps=abc", EPS, "Linf", "'steps' expects int, got 'abc'"),
    ("pgd:steps=2.5", EPS, "Linf", "'steps' expects int, got '2.5'"),
    ("pgd:alpha=fast", EPS, "Linf", "'alpha' expects float"),
    ("pgd:stepz=3", EPS, "Linf", "no parameter 'stepz'"),
    ("pgd:steps", EPS, "Linf", "KEY=VALUE"),
    ("pgd", [-0.1, 0.1], "Linf", ">= 0"),
    ("pgd", EPS, "L1", "--norm"),
])
def test_bad_input_is_a_usage_error(default_model, small, attacks, eps, norm, message):
    with pytest.raises(advkit.UsageError, match=message):
        advkit.evaluate(default_model, *small, attacks, eps, norm=norm)


def test_wrong_shape_is_a_data_error(default_model, small):
    with pytest.raises(advkit.DataError):
        advkit.evaluate(default_model, small[0][:, :, :4], small[1], "pgd", EPS)


def test_cli_json_is_one_object_with_provenance(cli):
    result = cli("evaluate", "--n", "40", "--attacks", DETERMINISTIC, "--eps", "0,0.1", "--probe", "16", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary["worst_case"]) == {"0", "0.1"}
    assert summary["worst_case"]["0"] == summary["clean_accuracy"]
    assert {"versions", "seed", "device", "params", "cost", "warnings", "started"} <= set(summary)


def test_cli_strict_fails_on_a_masked_model_and_out_writes_reports(cli, tmp_path):
    model_file = Path(__file__).with_name("masked.py")
    out = tmp_path / "report"
    result = cli("evaluate", "--model", f"{model_file}:saturated", "--data", "digits", "--n", "40",
                 "--attacks", "pgd:steps=5", "--eps", "0,0.2", "--probe", "16", "--strict", "--out", out)
    assert result.code == 3
    assert "GRADIENT_MASKED" in result.stdout and "--strict" in result.stderr
    written = {p.name for p in out.iterdir()}
    assert written == {"result.json", "report.md", "report.html", "robust_accuracy.png", "perturbation_sizes.png",
                       "examples.png", "evaluate_state.pt"}  # and the run's state, for --resume
    assert all(name in result.stderr for name in written)  # the "wrote ..." line lists every file
    assert json.loads((out / "result.json").read_text())["warnings"][0]["code"] == "GRADIENT_MASKED"


@pytest.mark.parametrize("suite", ["pgdd", "pgd:steps=abc", "pgd:steps=2.5"])
def test_cli_bad_suite_exits_2_with_one_line(cli, suite):
    result = cli("evaluate", "--n", "20", "--attacks", suite, "--eps", "0,0.1")
    assert result.code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and suite.split(":")[0] in result.stderr


def test_an_attack_stalled_by_zero_gradients_stops_early_with_the_same_result(saturated, small):
    from advkit.evaluation.watch import STALL_PASSES

    steps, suite = 60, "torchattacks.apgd:loss=ce:steps=60"  # CE on saturated logits: zero gradients
    early = advkit.evaluate(saturated, *small, suite, [0.1], checks=False)
    full = advkit.evaluate(saturated, *small, suite, [0.1], cascade=False, checks=False)
    label = early.attacks[0]
    run, reference = early.per_attack[label][0.1], full.per_attack[label][0.1]
    assert early.worst_case == full.worst_case and run["fooled"] == reference["fooled"] == 0
    assert reference["backward"] >= steps * int(full.correct.sum())
    assert run["backward"] <= (STALL_PASSES + 2) * run["ran_on"]  # stalled after STALL_PASSES unchanged passes
