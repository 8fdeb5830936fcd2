"""The robustness curve from each sample's smallest successful perturbation, against the per-eps cascade."""

from __future__ import annotations

import itertools

import torch

from advkit.evaluation.cascade import evaluate
from advkit.evaluation.report import CURVE, write_reports

EPS = [0.0, 0.05, 0.1, 0.2]


def test_curve_agrees_with_the_worst_case_at_the_evaluated_eps(default_model, digits, tmp_path):
    data = digits.subset(torch.arange(80))
    evaluation = evaluate(default_model, data, None, "fgsm,pgd:steps=3", EPS, batch_size=32, checks=False)
    curve = dict(evaluation.curve())
    assert {e: curve[e] for e in EPS} == evaluation.worst_case
    points = [a for _, a in sorted(curve.items())]
    assert all(b <= a for a, b in itertools.pairwise(points))  # robust accuracy never rises with eps
    summary = evaluation.summary(curve=True)
    assert [p["eps"] for p in summary["curve"]] == sorted(curve)
    written = write_reports(tmp_path, evaluation, default_model, summary)
    assert (tmp_path / f"{CURVE}.png") in written and (tmp_path / f"{CURVE}.png").stat().st_size > 0


def test_a_success_beyond_eps_counts_for_the_curve_not_for_that_eps(default_model, digits):
    """Perturbations larger than the budget (as a minimum-norm attack returns) feed only the curve."""
    data = digits.subset(torch.arange(40))
    evaluation = evaluate(default_model, data, None, "pgd:steps=3", [0.0, 0.3], batch_size=40, checks=False)
    assert evaluation.worst_case[0.3] < evaluation.clean_accuracy
    found = evaluation.smallest[torch.isfinite(evaluation.smallest)]
    assert found.numel() and (found <= 0.3 * (1 + 1e-5)).all()
