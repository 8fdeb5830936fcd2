"""Sanity checks (Carlini et al. 2019): each warning fires on a model or suite built to trip it."""

from __future__ import annotations

import pytest
import torch
from masked import Noisy, Saturated

import advkit
from advkit.evaluation.sanity import CHECKS, finding

EPS = [0.0, 0.1, 0.2]


class Softmaxed(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), 1)


def wrap(cls, model):
    return advkit.Model(cls(model), model.input_shape, model.num_classes)


def codes(model, digits, attacks, **kwargs):
    result = advkit.evaluate(model, digits.x[:50], digits.y[:50], attacks, EPS, probe=32, **kwargs)
    return {w.code for w in result.warnings}


def test_probability_outputs(default_model, digits):
    assert "PROBABILITY_OUTPUTS" in codes(wrap(Softmaxed, default_model), digits, "fgsm")


def test_randomized_outputs_advise_eot(default_model, digits):
    found = codes(wrap(Noisy, default_model), digits, "fgsm")
    assert "RANDOMIZED_OUTPUTS" in found and "EOT" in CHECKS["RANDOMIZED_OUTPUTS"][1]


def test_weak_iterative_attack_loses_to_fgsm_and_has_not_converged(default_model, digits):
    found = codes(default_model, digits, "pgd:alpha=0.01,steps=2,random_start=false")
    assert {"SINGLE_STEP_BEATS_ITERATIVE", "NOT_CONVERGED"} <= found


def test_black_box_beating_white_box_in_the_cascade(default_model, digits):
    found = codes(wrap(Saturated, default_model), digits, "pgd:steps=5,torchattacks.square:n_queries=50")
    assert {"WEAK_BEATS_STRONG", "GRADIENT_MASKED", "LARGE_EPS_NOT_CHANCE"} <= found


def test_normal_model_with_a_sound_attack_passes_every_check(default_model, digits):
    assert codes(default_model, digits, "pgd") == set()


def test_findings_carry_code_meaning_and_advice():
    for code in CHECKS:
        item = finding(code, "detail")
        assert item.line().startswith(f"[{code}]") and item.advice and item.meaning
        assert item.to_dict()["code"] == code


@pytest.mark.parametrize("code", ["GRADIENT_MASKED", "LARGE_EPS_NOT_CHANCE", "WEAK_BEATS_STRONG"])
def test_masking_codes_are_marked_as_masking(code):
    assert finding(code, "").masking
