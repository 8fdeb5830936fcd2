"""Every registered attack, from any plugin, passes `advkit.testing.check_attack` on a small model."""

from __future__ import annotations

import pytest
import torch

import advkit
from advkit.attacks.conformance import check_attack
from advkit.plugins.registry import registry

ATTACKS = registry().names("attacks")


@pytest.fixture(scope="session")
def small_model(digits_train):
    """A digits CNN trained for a few seconds."""
    torch.manual_seed(0)
    model = advkit.load_model("cnn", input_shape=(1, 8, 8), num_classes=10)
    advkit.train(model, digits_train.x, digits_train.y, advkit.TrainConfig(epochs=3, seed=0))
    return model.eval()


@pytest.fixture(scope="session")
def correct(small_model, digits):
    """Six test digits the small model classifies correctly."""
    with torch.no_grad():
        ok = small_model(digits.x).argmax(1) == digits.y
    return digits.x[ok][:6], digits.y[ok][:6]


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_conforms(name, small_model, correct):
    check_attack(name, small_model, *correct)


def test_catalogue_is_checked():
    assert sum(name.startswith("torchattacks.") for name in ATTACKS) == 36


class Broken(advkit.Attack):
    """An attack with one fault: leaves its eps ball, ignores the seed, or ignores its targets."""

    name = "broken"
    norm = "Linf"
    targeted = True

    def __init__(self, model, eps: float = 0.1, fault: str = "ball"):
        super().__init__(model)
        self.eps, self.fault = eps, fault

    def perturb(self, x, y, targets=None):
        if self.fault == "ball":
            return x + 3 * self.eps
        if self.fault == "seed":
            return x + 0.01 * torch.randn(x.shape, generator=torch.Generator().manual_seed(torch.seed()))
        return x


@pytest.mark.parametrize("fault, words", [("ball", "ball"), ("seed", "same seed"), ("targets", "target probability")])
def test_check_names_the_failed_property(fault, words, small_model, correct):
    with pytest.raises(AssertionError, match=f"attack 'broken'.*{words}"):
        check_attack(Broken, small_model, *correct, fault=fault)


def test_quick_params_come_from_names_class_and_caller(small_model, correct):
    from advkit.attacks.conformance import quick_params

    pgd = advkit.get_attack("torchattacks.pgd")
    assert quick_params(pgd)["steps"] < 10 and quick_params(pgd)["eps"] > 8 / 255
    assert quick_params(advkit.get_attack("torchattacks.cw"))["c"] == 10
    assert quick_params(pgd, bounds=(-1.0, 1.0))["eps"] == 2 * quick_params(pgd)["eps"]
    measured = check_attack("torchattacks.pgd", small_model, *correct, steps=1)
    assert measured["params"]["steps"] == 1


def test_check_refuses_what_is_not_an_attack(small_model, correct):
    with pytest.raises(AssertionError, match="advkit.Attack subclass"):
        check_attack(torch.nn.Linear, small_model, *correct)
    with pytest.raises(advkit.UsageError, match="unknown attack"):
        check_attack("no-such-attack", small_model, *correct)
