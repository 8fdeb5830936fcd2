"""Robust accuracy means one thing everywhere: correct before and after the attack."""

import json

import torch
from torch import nn

import advkit
from advkit.attacks.runner import rates, run_attack


class Shift(advkit.Attack):
    """Adds +eps to every pixel: on the model below it turns class 0 inputs into class 1."""

    name = "shift"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.2):
        super().__init__(model)
        self.eps = eps

    def perturb(self, x, y):
        return x + self.eps


class Threshold(nn.Module):
    """Class 1 when the mean pixel exceeds 0.5, else class 0."""

    def forward(self, x):
        score = x.flatten(1).mean(1, keepdim=True) - 0.5
        return torch.cat([-score, score], 1) * 10


def test_attack_that_fixes_a_misclassification_does_not_count_it_robust():
    model = advkit.Model(Threshold(), input_shape=(1, 2, 2))
    # four samples: correct class 0 (fooled), correct class 1 (stays), wrong (true 1, predicted 0: fixed
    # by the shift), wrong (true 0, predicted 1: stays wrong)
    x = torch.tensor([0.35, 0.9, 0.4, 0.8]).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    y = torch.tensor([0, 1, 1, 0])
    result = run_attack(Shift(model), x, y)
    assert result.pred_clean.tolist() == [0, 1, 0, 1]
    assert result.pred_adv.tolist() == [1, 1, 1, 1]
    assert result.clean_accuracy == 0.5
    assert result.robust_accuracy == 0.25       # only sample 1; sample 2 was wrong before the attack
    assert result.success_rate == 0.5           # of the two correct ones, one fooled
    assert rates(y, result.pred_clean, result.pred_adv, result.success) == (0.25, 0.5)


def test_attack_and_evaluate_agree_on_robust_accuracy(cli):
    attacked = json.loads(cli("attack", "--plugin", "torchattacks.fgsm", "--eps", "0.1", "--n", "120",
                              "--json").stdout)
    evaluated = json.loads(cli("evaluate", "--attacks", "torchattacks.fgsm", "--eps", "0.1", "--n", "120",
                               "--full", "--json").stdout)
    assert evaluated["clean_accuracy"] == attacked["clean_accuracy"]
    per_attack = evaluated["per_attack"]["torchattacks.fgsm"]["0.1"]["robust_accuracy"]
    assert per_attack == attacked["robust_accuracy"]
    assert attacked["robust_accuracy"] < attacked["clean_accuracy"]
