"""Adversarial training: Goodfellow's mixed FGSM objective, PGD training, any registered inner attack."""

import pytest
import torch

import advkit
from advkit.training import TrainConfig

RECIPE = TrainConfig(epochs=10, lr=1e-2, seed=0)


def _mlp(data):
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


def test_pgd_training_defaults_to_madry(digits_train):
    defense, name, params = advkit.make_defense("pgd-training")
    assert name == "advtrain.pgd-training" and params["alpha"] == 0.0
    assert defense.attack_params == {"steps": "7", "alpha": "0.025", "random_start": "true"}


@pytest.mark.parametrize("params, match", [({"alpha": "1.5"}, r"alpha .* \[0, 1\]"), ({"alpha": "-0.1"}, "alpha"),
                                           ({"attack": "fgsn"}, "unknown attack 'fgsn'.*did you mean"),
                                           ({"attack_params": "steps"}, "key=value"), ({"eps": "-1"}, "eps")])
def test_bad_parameters_are_usage_errors(params, match):
    with pytest.raises(advkit.UsageError, match=match):
        advkit.make_defense("adversarial-training", **params)


def test_bad_inner_attack_parameter_is_a_usage_error(digits_train):
    defense, _, _ = advkit.make_defense("adversarial-training", attack_params="stepz=3")
    with pytest.raises(advkit.UsageError, match="no parameter 'stepz'"):
        defense.apply(_mlp(digits_train), digits_train)
