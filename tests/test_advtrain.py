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


@pytest.mark.parametrize("attack", ["torchattacks.pgd", "art.fgsm"])
def test_any_registered_attack_trains(attack, digits_train):
    small = digits_train.subset(range(256))
    model = _mlp(small)
    before = model.state_dict()["net.layers.1.weight"].clone()
    defense, _, _ = advkit.make_defense("adversarial-training", attack=attack, attack_params="")
    defense.config = TrainConfig(epochs=1, batch_size=128)
    defense.apply(model, small)
    assert not torch.equal(model.state_dict()["net.layers.1.weight"], before)


def test_pgd_training_defaults_to_madry(digits):
    defense, name, params = advkit.make_defense("pgd-training", eps=0.3)
    assert name == "advtrain.pgd-training" and params["alpha"] == 0.0
    defense.inner_attack(_mlp(digits))
    assert defense.inner_params == {"eps": 0.3, "steps": 7, "alpha": pytest.approx(2.5 * 0.3 / 7), "random_start": True}


@pytest.mark.parametrize("attack_params, expected", [
    ("steps=20", {"steps": 20, "alpha": pytest.approx(2.5 * 0.3 / 20), "random_start": True}),
    ("alpha=0.01,random_start=false", {"steps": 7, "alpha": 0.01, "random_start": False}),
    ("eps=0.05,seed=5", {"eps": 0.05, "steps": 7, "alpha": pytest.approx(2.5 * 0.3 / 7)}),
])
def test_attack_params_win_over_the_defaults(attack_params, expected, digits):
    defense, _, _ = advkit.make_defense("pgd-training", eps=0.3, attack_params=attack_params)
    defense.inner_attack(_mlp(digits))
    assert expected.items() <= defense.inner_params.items()


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
