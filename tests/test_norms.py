"""`advkit.attacks.norms`: perturbation sizes and the one eps-ball tolerance; `advkit.eval_mode` restores modes."""

import pytest
import torch

import advkit
from advkit.attacks import norms


def test_sizes_of_hand_made_deltas():
    delta = torch.tensor([[[3.0, -4.0], [0.0, 0.0]],
                          [[0.0, 0.0], [0.0, -0.5]]])  # two samples of 2 x 2, flattened per sample
    assert norms.size(delta, "Linf").tolist() == [4.0, 0.5]
    assert norms.size(delta, "L2").tolist() == [5.0, 0.5]
    assert norms.size(delta, "L1").tolist() == [7.0, 0.5]
    assert norms.size(delta, "L0").tolist() == [2.0, 1.0]
    for norm in norms.NORMS:
        assert norms.size(delta, norm).shape == (2,)
        assert norms.size(torch.zeros(0, 3), norm).shape == (0,)
    with pytest.raises(ValueError, match="unknown norm"):
        norms.size(delta, "L3")


def test_ball_tolerance():
    eps = 0.3
    assert norms.limit(eps) == pytest.approx(eps * (1 + 1e-4) + 1e-6)
    sizes = torch.tensor([0.0, eps, eps * (1 + 0.5e-4), eps * (1 + 2e-4)])
    assert norms.within(sizes, eps).tolist() == [True, True, True, False]
    assert norms.within(torch.tensor([0.5e-6, 2e-6]), 0.0).tolist() == [True, False]


def test_eval_mode_restores_a_mixed_model():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Dropout(), torch.nn.Linear(2, 2)))
    model.train()
    model[1].eval()  # a submodule in eval mode inside a model in train mode
    before = [m.training for m in model.modules()]
    assert before == [True, True, False, False, False]
    with advkit.eval_mode(model) as inside:
        assert inside is model
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == before
    with pytest.raises(RuntimeError), advkit.eval_mode(model):
        raise RuntimeError("restored on errors too")
    assert [m.training for m in model.modules()] == before
