"""One step-size rule: a step size not given follows eps (2.5 * eps / steps) in attack, evaluate, defend and
adversarial training, and the summaries show the step used and that it was derived."""

from __future__ import annotations

import json

import pytest

import advkit
from advkit.attacks.steps import STEP_RULE, derive_step
from advkit.evaluation.suite import ALPHA_RULE
from advkit.workflows.from_specs import evaluate_from_specs

PGD = ["attack", "--plugin", "pgd", "--eps", "0.1", "-p", "random_start=false", "-p", "steps=10"]  # deterministic


def test_attack_derives_alpha_from_eps_is_stronger_for_it_and_matches_evaluate_full(cli):
    derived, given = (cli(*PGD, *extra, "--json") for extra in ([], ["-p", "alpha=2/255"]))
    assert derived.code == 0 and given.code == 0, (derived.stderr, given.stderr)
    derived, given = json.loads(derived.stdout), json.loads(given.stdout)
    assert derived["params"]["alpha"] == pytest.approx(0.025) and derived["derived"] == {"alpha": ALPHA_RULE}
    assert given["params"]["alpha"] == pytest.approx(2 / 255) and given["derived"] == {}
    assert derived["robust_accuracy"] < given["robust_accuracy"] - 0.05  # 2/255 cannot reach the ball's edge
    evaluation, _ = evaluate_from_specs(attacks="pgd:random_start=false:steps=10", eps=[0.1], full=True)  # evaluate --full
    (runs,) = evaluation.per_attack.values()
    assert derived["robust_accuracy"] == pytest.approx(runs[0.1]["robust_accuracy"])
    assert evaluation.params["pgd(random_start=false,steps=10)"]["alpha"] == ALPHA_RULE == STEP_RULE


def test_table_and_result_json_show_the_step_and_its_rule(cli, tmp_path):
    table = cli(*PGD, "--n", "20", "--out", tmp_path)
    assert table.code == 0, table.stderr
    assert f"alpha=0.025 ({ALPHA_RULE})" in table.stdout
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["params"]["alpha"] == pytest.approx(0.025) and saved["derived"] == {"alpha": ALPHA_RULE}


def test_defend_eval_attack_uses_the_rule(default_model, digits):
    from advkit.training.defend import measurements

    subset = digits.subset(range(60))
    numbers, run = measurements(default_model, subset, attack="pgd", attack_params={"eps": 0.1, "steps": 4},
                                seed=0, batch_size=256)
    assert run["params"]["alpha"] == pytest.approx(2.5 * 0.1 / 4) and run["derived"] == {"alpha": ALPHA_RULE}
    direct = advkit.attack("pgd", default_model, subset.x, subset.y, eps=0.1, steps=4, seed=0)
    assert numbers["robust_accuracy"] == direct.robust_accuracy


def test_make_attack_derives_too(default_model):
    _, _, params = advkit.make_attack("art.pgd", default_model, eps=0.2, max_iter=5)
    assert params["eps_step"] == pytest.approx(2.5 * 0.2 / 5)
    _, _, params = advkit.make_attack("pgd", default_model, eps="8/255", steps="4")  # text, as the CLI passes it
    assert params["alpha"] == pytest.approx(2.5 * 8 / 255 / 4)


@pytest.mark.parametrize("name, params, expected", [
    ("torchattacks.pgd", {}, {"alpha": 2.5 * 8 / 255 / 100}),  # the defaults: eps 8/255, advkit's 100 steps
    ("torchattacks.pgd", {"eps": "0.3", "steps": "5"}, {"alpha": 2.5 * 0.3 / 5}),
    ("torchattacks.ffgsm", {"eps": 0.1}, {"alpha": 2.5 * 0.1}),  # no iteration count: one step
    ("torchattacks.pgd", {"eps": 0.1, "alpha": 0.01}, {"alpha": 0.01}),  # given: kept
    ("torchattacks.fgsm", {"eps": 0.1}, {}),  # no step parameter
    ("torchattacks.pgd", {"eps": "lots"}, {}),  # a bad eps is left for the attack's binding to refuse
])
def test_derive_step(name, params, expected):
    out, derived = derive_step(advkit.get_attack(name), params)
    for key, value in expected.items():
        assert out[key] == pytest.approx(value)
    assert set(derived) == (set(expected) - set(params))
    assert {k: v for k, v in out.items() if k in params} == params


def test_bad_eps_is_still_one_clear_error(cli):
    bad = cli("attack", "--plugin", "pgd", "--eps", "lots", "--n", "5")
    assert bad.code == 2 and "eps" in bad.stderr and "Traceback" not in bad.stderr
