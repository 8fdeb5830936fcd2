"""Adversarial training: Goodfellow's mixed FGSM objective, PGD training, any registered inner attack."""

import pytest
import torch

import advkit
from advkit.training.loop import TrainConfig

RECIPE = TrainConfig(epochs=10, lr=1e-2, seed=0)


def _mlp(data):
    torch.manual_seed(0)
    return advkit.load_model("mlp", input_shape=data.input_shape, num_classes=10)


def test_fgsm_training_cuts_fgsm_error_at_similar_clean_accuracy(digits_train, digits):
    plain = _mlp(digits)
    advkit.train(plain, digits_train.x, digits_train.y, RECIPE, progress=False)
    baseline = advkit.attack("fgsm", plain, digits.x, digits.y, eps=0.1)
    _, summary = advkit.defend("adversarial-training", _mlp(digits), digits_train, digits, params={"eps": 0.1},
                               config=RECIPE, eval_attack="fgsm")
    after = summary["after"]
    assert summary["eval"]["params"]["eps"] == 0.1
    assert abs(after["clean_accuracy"] - baseline.clean_accuracy) < 0.05
    assert 1 - after["robust_accuracy"] < (1 - baseline.robust_accuracy) / 2


def test_the_loss_mixes_clean_and_adversarial_terms(digits):
    model = _mlp(digits)
    attack, _, _ = advkit.make_attack("fgsm", model, eps=0.1)
    x, y = digits.x[:64], digits.y[:64]
    clean = advkit.AdversarialLoss(attack, alpha=1.0)(model, x, y)
    adversarial = advkit.AdversarialLoss(attack, alpha=0.0)(model, x, y)
    half = advkit.AdversarialLoss(attack, alpha=0.5)(model, x, y)
    assert adversarial > clean
    assert torch.allclose(half, (clean + adversarial) / 2)


# Plain training and adversarial training with the same 3 epochs, lr 1e-2, batch 64, seed 0 and initial
# weights on the 1,438 digits training images; accuracy on the 359 test digits under the training attack
# at the training eps (0.1) and under 10-step PGD at eps 0.1. Measured here: clean 0.947 plain, 0.967
# adversarial (both attacks); torchattacks.pgd training: PGD robust accuracy 0.426 -> 0.713; art.fgsm
# training: FGSM 0.457 -> 0.719, PGD-10 0.426 -> 0.708. The test asks for about half that gain (+0.15).
QUICK = TrainConfig(epochs=3, lr=1e-2, batch_size=64, seed=0)


@pytest.mark.parametrize("attack", ["torchattacks.pgd", "art.fgsm"])
def test_any_registered_attack_raises_robustness_over_plain_training(attack, digits_train, digits):
    plain = _mlp(digits)
    advkit.train(plain, digits_train.x, digits_train.y, QUICK, progress=False)
    defense, _, _ = advkit.make_defense("adversarial-training", attack=attack, attack_params="")
    defense.config = QUICK
    robust = defense.apply(_mlp(digits), digits_train)
    inner = {k: v for k, v in defense.inner_params.items() if k in ("eps", "alpha", "steps", "random_start")}
    assert inner["eps"] == 0.1
    checks = [(attack, inner)]
    if attack != "torchattacks.pgd":  # an FGSM-trained model must resist PGD too, not only FGSM
        checks.append(("torchattacks.pgd", {"eps": 0.1, "steps": 10, "alpha": 0.025}))
    for name, params in checks:
        before = advkit.attack(name, plain, digits.x, digits.y, **params)
        after = advkit.attack(name, robust, digits.x, digits.y, **params)
        assert after.robust_accuracy >= before.robust_accuracy + 0.15, (
            f"{name} {params}: robust accuracy {before.robust_accuracy:.3f} after plain training, "
            f"{after.robust_accuracy:.3f} after adversarial training with {attack}")
        assert after.clean_accuracy >= before.clean_accuracy - 0.05, (after.clean_accuracy, before.clean_accuracy)


def test_pgd_training_defaults_to_madry(digits):
    defense, name, params = advkit.make_defense("pgd-training", eps=0.3)
    assert name == "advtrain.pgd-training" and params["alpha"] == 0.0
    defense.inner_attack(_mlp(digits))
    assert defense.inner_params == {"eps": 0.3, "steps": 7, "alpha": pytest.approx(2.5 * 0.3 / 7), "random_start": True}


@pytest.mark.parametrize("attack_params, expected", [
    ("steps=20", {"steps": 20, "alpha": pytest.approx(2.5 * 0.3 / 20), "random_start": True}),
    ("alpha=0.01,random_start=false", {"steps": 7, "alpha": 0.01, "random_start": False}),
    ("eps=0.05,seed=5", {"eps": 0.05, "steps": 7, "alpha": pytest.approx(2.5 * 0.05 / 7)}),  # the eps it runs with
])
def test_attack_params_win_over_the_defaults(attack_params, expected, digits):
    defense, _, _ = advkit.make_defense("pgd-training", eps=0.3, attack_params=attack_params)
    defense.inner_attack(_mlp(digits))
    assert expected.items() <= defense.inner_params.items()


def test_inner_attack_reads_the_declared_budget_and_step(digits):
    """ART's PGD gets its eps_step from the rule over max_iter; the budget goes to the declared parameter."""
    model = _mlp(digits)
    defense, _, _ = advkit.make_defense("adversarial-training", attack="art.pgd", eps=0.3, attack_params="max_iter=5")
    defense.inner_attack(model)
    assert {"eps": 0.3, "max_iter": 5, "eps_step": pytest.approx(2.5 * 0.3 / 5)}.items() <= defense.inner_params.items()
    given, _, _ = advkit.make_defense("adversarial-training", attack="art.pgd", eps=0.3, attack_params="eps_step=0.01")
    given.inner_attack(model)
    assert given.inner_params["eps_step"] == 0.01
    fgsm, _, _ = advkit.make_defense("adversarial-training", attack="art.fgsm", eps=0.2)
    fgsm.inner_attack(model)
    assert fgsm.inner_params["eps"] == 0.2 and fgsm.inner_params["eps_step"] == 0.1  # not iterative: ART's default
    pifgsm, _, _ = advkit.make_defense("adversarial-training", attack="torchattacks.pifgsm", eps=0.2)
    pifgsm.inner_attack(model)
    assert pifgsm.inner_params["max_epsilon"] == 0.2


def test_repeated_eps_and_seed_reach_the_inner_attack_once(digits_train):
    small = digits_train.subset(range(128))
    defense, _, _ = advkit.make_defense("adversarial-training", attack="torchattacks.pgd", eps=0.1,
                                        attack_params="eps=0.05,seed=5,steps=2")
    defense.config = TrainConfig(epochs=1, batch_size=128)
    defense.apply(_mlp(small), small)
    assert defense.report()["inner_attack_params"]["eps"] == 0.05


@pytest.mark.parametrize("params, match", [({"alpha": "1.5"}, r"alpha .* \[0, 1\]"), ({"alpha": "-0.1"}, "alpha"),
                                           ({"attack": "fgsn"}, "unknown attack 'fgsn'.*did you mean"),
                                           ({"attack_params": "steps"}, "KEY=VALUE"), ({"eps": "-1"}, "eps")])
def test_bad_parameters_are_usage_errors(params, match):
    with pytest.raises(advkit.UsageError, match=match):
        advkit.make_defense("adversarial-training", **params)


def test_bad_inner_attack_parameter_is_a_usage_error(digits_train):
    defense, _, _ = advkit.make_defense("adversarial-training", attack_params="stepz=3")
    with pytest.raises(advkit.UsageError, match="no parameter 'stepz'"):
        defense.apply(_mlp(digits_train), digits_train)
