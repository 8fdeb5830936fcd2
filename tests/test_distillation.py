"""Defensive distillation: gradient masking that FGSM falls for and C&W on the logits does not."""

import pytest
import torch

import advkit
from advkit.training.loop import TrainConfig

RECIPE = TrainConfig(epochs=10, lr=1e-2, seed=0)


@pytest.fixture(scope="module")
def undistilled(digits_train):
    torch.manual_seed(0)
    model = advkit.load_model("mlp", input_shape=digits_train.input_shape, num_classes=10)
    advkit.train(model, digits_train.x, digits_train.y, RECIPE, progress=False)
    return model


@pytest.fixture(scope="module")
def distilled(digits_train, digits):
    torch.manual_seed(1)
    fresh = advkit.load_model("mlp", input_shape=digits_train.input_shape, num_classes=10)
    return advkit.defend("distillation", fresh, digits_train, digits, params={"temperature": 100}, config=RECIPE,
                         eval_attack="fgsm", eval_params={"eps": 0.2})


def test_distillation_at_t100_stops_fgsm_but_not_cw(undistilled, distilled, digits):
    model, summary = distilled
    baseline = advkit.attack("fgsm", undistilled, digits.x, digits.y, eps=0.2)
    after = summary["after"]
    assert after["clean_accuracy"] > baseline.clean_accuracy - 0.1
    assert after["attack_success_rate"] < baseline.success_rate / 3
    cw = advkit.attack("torchattacks.cw", model, digits.x[:100], digits.y[:100], c=1.0, steps=100, lr=0.05)
    assert cw.success_rate > 0.9


def test_distillation_summary_shows_the_masking(undistilled, distilled, digits):
    from advkit.training.defend import gradient_statistics

    _, summary = distilled
    plain = gradient_statistics(undistilled, digits.x, digits.y)
    assert summary["after"]["logit_l1_mean"] > 10 * plain["logit_l1_mean"]
    assert summary["after"]["zero_gradient_share"] > plain["zero_gradient_share"] + 0.2
    assert any("gradient masking" in w for w in summary["warnings"])
    assert summary["details"]["temperature"] == 100


def test_given_teacher_is_kept_and_student_is_new(undistilled, digits_train):
    before = {k: v.clone() for k, v in undistilled.state_dict().items()}
    defense, _, _ = advkit.make_defense("distillation", temperature=10, teacher_epochs=0, student_epochs=1)
    student = defense.apply(undistilled, digits_train)
    assert student is not undistilled
    assert all(torch.equal(before[k], v) for k, v in undistilled.state_dict().items())
    assert not torch.equal(student.state_dict()["net.layers.1.weight"], before["net.layers.1.weight"])


@pytest.mark.parametrize("params", [{"temperature": "0"}, {"temperature": "-5"}, {"student_epochs": "-1"},
                                    {"temperature": "hot"}, {"temprature": "10"}])
def test_bad_parameters_are_usage_errors(params):
    with pytest.raises(advkit.UsageError, match="temperature|student_epochs"):
        advkit.make_defense("distillation", **params)
