"""Minimum-norm attacks (minnorm.fmn in Linf/L2/L1, minnorm.ddn): they fool everything at unbounded
budget, find perturbations no larger than PGD's (within a small factor), each is smallest in its own
norm, and with an eps they stay in the ball and count a sample fooled when a small enough one was found."""

from __future__ import annotations

import pytest
import torch
from advkit_minnorm.projections import project

import advkit

VARIANTS = {"fmn-Linf": ("minnorm.fmn", "Linf"), "fmn-L2": ("minnorm.fmn", "L2"), "fmn-L1": ("minnorm.fmn", "L1"),
            "ddn": ("minnorm.ddn", "L2")}


@pytest.fixture(scope="module")
def samples(default_model, digits):
    return digits.x[:100], digits.y[:100]


@pytest.fixture(scope="module")
def unbounded(default_model, samples):
    extra = {"minnorm.fmn": lambda norm: {"norm": norm}, "minnorm.ddn": lambda norm: {}}
    return {key: advkit.attack(name, default_model, *samples, **extra[name](norm))
            for key, (name, norm) in VARIANTS.items()}


def _size(result, norm):
    return advkit.perturbation_size(result.x_adv - result.x, norm)


@pytest.mark.parametrize("key", VARIANTS)
def test_unbounded_fools_almost_everything_inside_the_bounds(key, unbounded):
    result = unbounded[key]
    assert result.success_rate >= 0.95
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    unfooled = ~result.success
    assert torch.equal(result.x_adv[unfooled], result.x[unfooled])  # no adversarial found: the input


@pytest.mark.parametrize("key, pgd, eps", [("fmn-Linf", "torchattacks.pgd", 0.1), ("fmn-L2", "torchattacks.pgdl2", 1.0),
                                          ("ddn", "torchattacks.pgdl2", 1.0)])
def test_no_larger_than_pgd(key, pgd, eps, unbounded, default_model, samples):
    norm = VARIANTS[key][1]
    reference = advkit.attack(pgd, default_model, *samples, eps=eps, steps=20)
    fooled = reference.success & reference.eligible
    assert fooled.sum() >= 20
    ratio = _size(unbounded[key], norm)[fooled] / _size(reference, norm)[fooled]
    assert unbounded[key].success[fooled].all()
    assert float(ratio.max()) <= 1.25 and float(ratio.median()) <= 0.8


@pytest.mark.parametrize("norm", ["Linf", "L2", "L1"])
def test_each_variant_is_smallest_in_its_own_norm(norm, unbounded):
    both = torch.stack([r.success for r in unbounded.values()]).all(0)
    medians = {key: float(_size(r, norm)[both].median()) for key, r in unbounded.items() if key.startswith("fmn")}
    assert min(medians, key=medians.get) == f"fmn-{norm}", medians


@pytest.mark.parametrize("key, eps", [("fmn-Linf", 0.1), ("fmn-L1", 1.5), ("ddn", 0.6)])
def test_with_eps_the_result_is_in_the_ball(key, eps, unbounded, default_model, samples):
    name, norm = VARIANTS[key]
    params = {"norm": norm} if name == "minnorm.fmn" else {}
    bounded = advkit.attack(name, default_model, *samples, eps=eps, **params)
    assert bool(advkit.perturbation_size(bounded.x_adv - bounded.x, norm).le(eps * (1 + 1e-4)).all())
    small = unbounded[key].success & (_size(unbounded[key], norm) <= eps)
    assert 0 < small.sum() < len(small)
    assert bounded.success[small].all()  # the same search: what was found within eps is returned as it was
    assert torch.equal(bounded.x_adv[small], unbounded[key].x_adv[small])


def test_in_the_evaluate_cascade(default_model, samples, unbounded):
    x, y = samples
    evaluation = advkit.evaluate(default_model, x, y, "minnorm.fmn", [0.05, 0.1], checks=False)
    sizes = _size(unbounded["fmn-Linf"], "Linf")
    correct = unbounded["fmn-Linf"].pred_clean == y
    for eps in (0.05, 0.1):
        # robust at eps: no perturbation of at most eps found (the watch also counts any point it tried inside the ball)
        assert evaluation.worst_case[eps] <= float((correct & ~(sizes <= eps)).float().mean()) + 1e-9
    assert max(evaluation.sizes["minnorm.fmn"]) <= 0.1 * (1 + 1e-4)


def test_projections():
    delta = torch.tensor([[3.0, -1.0], [0.5, 0.25], [1.0, 1.0]])
    radius = torch.tensor([2.0, 2.0, 1.0])
    assert torch.allclose(project(delta, radius, "L1"), torch.tensor([[2.0, 0.0], [0.5, 0.25], [0.5, 0.5]]))
    assert torch.allclose(project(delta, radius, "Linf"), torch.tensor([[2.0, -1.0], [0.5, 0.25], [1.0, 1.0]]))
    l2 = project(delta, radius, "L2")
    assert torch.allclose(l2.norm(dim=1), torch.tensor([2.0, 0.5590, 1.0]), atol=1e-4)
    assert torch.allclose(l2[0] / l2[0].norm(), delta[0] / delta[0].norm())
    inf = torch.full((3,), float("inf"))
    assert all(torch.equal(project(delta, inf, n), delta) for n in ("Linf", "L2", "L1"))


def test_bad_parameters_are_one_clear_error(default_model):
    with pytest.raises(advkit.UsageError, match="norm must be one of Linf, L2, L1"):
        advkit.make_attack("minnorm.fmn", default_model, norm="L0")
    with pytest.raises(advkit.UsageError, match="eps"):
        advkit.make_attack("minnorm.ddn", default_model, eps=-1.0)
