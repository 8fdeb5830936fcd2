"""Fooling images: noise grown until the model is at least 99% sure of a class."""

from __future__ import annotations

import pytest
import torch
from advkit_fooling.fooling import Fooling

import advkit


def test_every_class_reaches_the_confidence(default_model, digits):
    report = Fooling(confidence=0.99, max_steps=300).run(default_model, digits)
    numbers = report.numbers
    assert [im["target"] for im in numbers["images"]] == [str(c) for c in range(10)]
    assert numbers["reached"] == 1
    assert numbers["min_confidence"] >= 0.99
    assert all(im["steps"] is not None and im["steps"] <= 300 for im in numbers["images"])
    assert set(report.figures) == {"fooling_images"}


def test_images_stay_in_bounds_and_start_from_seeded_noise(default_model):
    fooling = Fooling(target="4", per_class=3, max_steps=50, seed=1)
    targets = torch.tensor([4, 4, 4])
    x, reached_at = fooling.grow(default_model, targets)
    lo, hi = default_model.bounds
    assert x.shape == (3, *default_model.input_shape)
    assert x.min() >= lo and x.max() <= hi
    assert torch.equal(x, fooling.grow(default_model, targets)[0])
    with torch.no_grad():
        p = torch.softmax(default_model(x), 1)[:, 4]
    assert bool((p[reached_at >= 0] >= 0.99).all())


def test_too_few_steps_is_reported_not_hidden(default_model, digits):
    report = Fooling(target="1", max_steps=1, step_size=1e-4).run(default_model, digits)
    assert report.numbers["reached"] < 1
    assert any("max_steps" in note for note in report.notes)


@pytest.mark.parametrize("params", [{"target": "cat"}, {"confidence": 1.0}, {"per_class": 0}, {"step_size": 0.0}])
def test_bad_parameters(params):
    with pytest.raises(advkit.UsageError):
        Fooling(**params)


def test_target_out_of_range(default_model, digits):
    with pytest.raises(advkit.UsageError, match="out of range"):
        Fooling(target="12").run(default_model, digits)
