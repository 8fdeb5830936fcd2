"""Shards of an evaluation merged by sample position equal the single run; a SampleSet streams like tensors."""

from __future__ import annotations

import itertools

import pytest
import torch

import advkit
from advkit.errors import UsageError
from advkit.evaluation.cascade import evaluate
from advkit.evaluation.merge import merge

SUITE = "fgsm,pgd:steps=3"
EPS = [0.0, 0.1, 0.2]


def _numbers(evaluation) -> dict:
    """Every result that does not depend on the clock."""
    per_attack = {a: {e: {k: v for k, v in r.items() if k != "seconds"} for e, r in runs.items()}
                  for a, runs in evaluation.per_attack.items()}
    return {"worst_case": evaluation.worst_case, "per_attack": per_attack, "y": evaluation.y.tolist(),
            "clean": evaluation.clean_pred.tolist(), "broken": evaluation.broken.tolist(),
            "by": evaluation.broken_by.tolist(), "sizes": evaluation.sizes_found.tolist(),
            "forward": evaluation.cost["measured"]["forward"], "backward": evaluation.cost["measured"]["backward"],
            "examples": [(p, e, label) for p, e, _, _, _, label in evaluation.examples],
            "probe": evaluation.probe[0].tolist()}


@pytest.fixture(scope="module")
def data(digits):
    return digits.subset(torch.arange(101))


def test_uneven_shards_merge_to_the_single_run(default_model, data):
    single = evaluate(default_model, data, None, SUITE, EPS, batch_size=16, checks=False, probe=20)
    cuts = [0, 16, 64, 101]  # shards of 16, 48 and 37 samples, batches starting at the same positions
    shards = [evaluate(default_model, data, None, SUITE, EPS, batch_size=16, checks=False, probe=20,
                       positions=torch.arange(a, b)) for a, b in itertools.pairwise(cuts)]
    merged = merge(reversed(shards))
    assert merged.positions.tolist() == list(range(101))
    assert _numbers(merged) == _numbers(single)
    assert 0 < single.worst_case[0.2] < single.worst_case[0.1] < single.worst_case[0.0]


def test_tensors_and_a_sample_set_give_the_same_evaluation(default_model, data):
    tensors = advkit.evaluate(default_model, data.x, data.y, SUITE, EPS, batch_size=32, checks=False)
    streamed = evaluate(default_model, data, None, SUITE, EPS, batch_size=32, checks=False)
    assert _numbers(tensors) == _numbers(streamed)


def test_merge_refuses_overlapping_or_different_shards(default_model, data):
    a = evaluate(default_model, data, None, "fgsm", [0.1], batch_size=16, checks=False, positions=range(20))
    b = evaluate(default_model, data, None, "fgsm", [0.1], batch_size=16, checks=False, positions=range(16, 40))
    c = evaluate(default_model, data, None, "fgsm", [0.2], batch_size=16, checks=False, positions=range(40, 50))
    with pytest.raises(UsageError, match="share samples"):
        merge([a, b])
    with pytest.raises(UsageError, match="differ in eps"):
        merge([a, c])
