"""advkit.evaluation.watch: passes counted, first adversarial example kept, fooled samples frozen inside an attack."""

from __future__ import annotations

import pytest
import torch

import advkit
from advkit.evaluation.watch import ForwardWatch

EPS, STEPS = 0.2, 10


@pytest.fixture(scope="module")
def batch(digits, default_model):
    correct = advkit.predict(default_model, digits.x) == digits.y
    return digits.x[correct][:64], digits.y[correct][:64]


def pgd(model):
    return advkit.make_attack("torchattacks.pgd", model, eps=EPS, alpha=EPS / 4, steps=STEPS,
                              random_start=False)[0]


def watched_pgd(model, x, y, freeze: bool):
    with ForwardWatch(model, freeze=freeze) as watch:
        with watch.batch(x, y, EPS, "Linf", model.bounds) as batch:
            x_adv = pgd(model)(x, y)
    return watch, batch, x_adv


def test_freezing_skips_fooled_samples_and_keeps_the_result(default_model, batch):
    x, y = batch
    free, free_batch, free_adv = watched_pgd(default_model, x, y, freeze=False)
    frozen, frozen_batch, frozen_adv = watched_pgd(default_model, x, y, freeze=True)
    assert free.forward == free.backward == STEPS * len(x)  # PGD computes every sample every step
    assert frozen.skipped_forward > 0 and frozen.forward < free.forward
    assert frozen.forward + frozen.skipped_forward == free.forward
    assert frozen.backward + frozen.skipped_backward == free.backward
    # the same samples are fooled at the same points; samples never fooled follow the same path
    assert torch.equal(free_batch.fooled, frozen_batch.fooled)
    assert torch.equal(free_batch.merge(free_adv), frozen_batch.merge(frozen_adv))
    assert torch.equal(free_adv[~free_batch.fooled], frozen_adv[~frozen_batch.fooled])
    # a frozen sample gets a zero gradient: PGD takes the step under way, then leaves it there
    fooled = frozen_batch.fooled
    moved = (frozen_adv - frozen_batch.found)[fooled].flatten(1).abs().amax(1)
    assert moved.max() <= EPS / 4 + 1e-6
    assert (free_adv - free_batch.found)[fooled].flatten(1).abs().amax(1).max() > EPS / 4 + 1e-6


def test_found_examples_are_misclassified_and_inside_the_ball(default_model, batch):
    x, y = batch
    _, found, x_adv = watched_pgd(default_model, x, y, freeze=True)
    merged = found.merge(x_adv)
    fooled = found.fooled
    assert fooled.float().mean() > 0.5
    assert (advkit.predict(default_model, merged[fooled]) != y[fooled]).all()
    assert (merged - x).abs().amax() <= EPS + 1e-6 and merged.min() >= 0 and merged.max() <= 1
    assert torch.equal(merged[~fooled], x_adv[~fooled])


def test_an_adversarial_point_the_attack_moved_away_from_still_counts(default_model, batch):
    x, y = batch
    far = (x + 0.9 * torch.sign(0.5 - x)).clamp(0, 1)  # misclassified, but far outside the ball
    near = pgd(default_model)(x, y)
    with ForwardWatch(default_model) as watch:
        with watch.batch(x, y, EPS, "Linf", default_model.bounds) as found:
            default_model(far)
            default_model(near)
            default_model(x[:10])  # another batch size: not one of the watched samples
    fooled = advkit.predict(default_model, near) != y
    assert torch.equal(found.fooled, fooled)
    assert torch.equal(found.merge(x), torch.where(fooled.view(-1, 1, 1, 1), near, x))
    assert watch.forward == 2 * len(x) + 10


def test_with_every_sample_frozen_the_attack_still_gets_a_zero_gradient(default_model, batch):
    x, y = batch
    near = pgd(default_model)(x, y)
    fooled = advkit.predict(default_model, near) != y
    x, y, near = x[fooled], y[fooled], near[fooled]
    with ForwardWatch(default_model, freeze=True) as watch:
        with watch.batch(x, y, EPS, "Linf", default_model.bounds) as found:
            default_model(near)
            probe = near.clone().requires_grad_(True)
            loss = torch.nn.functional.cross_entropy(default_model(probe), y)
            grad, = torch.autograd.grad(loss, probe)
    assert found.fooled.all() and not grad.any()
    assert watch.forward == len(x) and watch.skipped_forward == watch.skipped_backward == len(x)


def test_watch_counts_samples_forward_and_backward_and_restores_the_model(default_model, batch):
    x, y = batch
    with ForwardWatch(default_model) as watch:
        advkit.predict(default_model, x)
        xg = x.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(default_model(xg), y).backward()
    assert watch.forward == 2 * len(x) and watch.backward == len(x)
    assert "forward" not in vars(default_model)
    assert watch.cost()["skipped"] == {"forward": 0, "backward": 0}


def test_watches_nest_and_the_outer_one_counts_what_the_model_computed(default_model, batch):
    x, y = batch
    with ForwardWatch(default_model) as outer:
        with ForwardWatch(default_model, freeze=True) as inner:
            with inner.batch(x, y, EPS, "Linf", default_model.bounds):
                pgd(default_model)(x, y)
        default_model(x)
    assert inner.skipped_forward > 0
    assert outer.forward == inner.forward + len(x) and outer.backward == inner.backward
    assert (outer.skipped_forward, outer.skipped_backward) == (inner.skipped_forward, inner.skipped_backward)
    assert "forward" not in vars(default_model)


def test_the_model_gets_its_forward_back_when_the_attack_fails(default_model, batch):
    x, y = batch
    with pytest.raises(RuntimeError, match="attack broke"):
        with ForwardWatch(default_model, freeze=True) as watch:
            with watch.batch(x, y, EPS, "Linf", default_model.bounds):
                default_model(x)
                raise RuntimeError("attack broke")
    assert "forward" not in vars(default_model)


def test_a_sample_left_at_the_same_point_stalls_and_is_computed_again_once_moved(default_model, batch):
    from advkit.evaluation.watch import STALL_PASSES

    x, y = batch
    true = default_model(x).detach()
    with ForwardWatch(default_model, freeze=True) as watch:
        with watch.batch(x, y, EPS, "Linf", default_model.bounds):
            for _ in range(3 * STALL_PASSES):  # an attack that does not move its points (a zero gradient)
                probe = x.clone().requires_grad_(True)
                out = default_model(probe)
                assert torch.allclose(out, true, atol=1e-5)  # replayed logits are those of the point
            stalled_grad, = torch.autograd.grad(out.sum(), probe)
            assert watch.forward == STALL_PASSES * len(x) and not stalled_grad.any()
            moved = x.clone()
            moved[0] = (moved[0] + 0.05).clamp(0, 1)  # a restart moves one sample: it alone is computed
            out = default_model(moved)
    assert watch.forward == STALL_PASSES * len(x) + 1
    assert torch.allclose(out[0], default_model(moved[:1])[0].detach(), atol=1e-5)
