"""The `advkit.Attack` contract enforced by `__call__`, independent of any backend."""

import pytest
import torch

import advkit
from advkit import AttackContractError, UsageError


class Shift(advkit.Attack):
    """Adds a constant; also switches the model to train mode and leaves a gradient (misbehaving)."""

    name = "shift"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.1, step: float = 0.1):
        super().__init__(model)
        self.eps = eps
        self.step = step

    def perturb(self, x, y):
        self.model.train()
        probe = x.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(self.model(probe), y).backward()
        x.add_(self.step)  # in place: must not reach the caller's tensor
        return x


class Targeted(advkit.Attack):
    name = "targeted"

    def perturb(self, x, y, targets=None):
        return x


def test_contract_holds_for_a_misbehaving_attack(default_model, digits):
    x, y = digits.x[:16].clone(), digits.y[:16]
    original = x.clone()
    default_model.eval()
    grads = [None if p.grad is None else p.grad.clone() for p in default_model.parameters()]
    x_adv = Shift(default_model)(x, y)
    assert torch.equal(x, original)
    assert not default_model.training
    for p, before in zip(default_model.parameters(), grads):
        assert (p.grad is None and before is None) or torch.equal(p.grad, before)
    assert all(p.requires_grad for p in default_model.parameters())
    assert float(x_adv.max()) <= 1.0 and float(x_adv.min()) >= 0.0
    default_model.train()
    Shift(default_model)(x, y)
    assert default_model.training
    default_model.eval()


def test_leaving_the_ball_is_a_contract_error(default_model, digits):
    with pytest.raises(AttackContractError, match="left its Linf ball"):
        Shift(default_model, eps=0.1, step=0.3)(digits.x[:4], digits.y[:4])


def test_targets_need_a_targeted_attack(default_model, digits):
    x, y = digits.x[:4], digits.y[:4]
    with pytest.raises(UsageError, match="no targeted mode"):
        Shift(default_model)(x, y, targets=y)
    assert torch.equal(Targeted(default_model)(x, y, targets=y), x)


def test_wrong_output_shape(default_model, digits):
    class Bad(advkit.Attack):
        name = "bad"

        def perturb(self, x, y):
            return x[:, :, :4]

    with pytest.raises(AttackContractError, match="returned"):
        Bad(default_model)(digits.x[:2], digits.y[:2])


def test_python_api(default_model, digits):
    result = advkit.attack("pgd", default_model, digits.x[:40], digits.y[:40], eps=0.15, steps=5, seed=0)
    assert result.attack == "torchattacks.pgd" and result.params["steps"] == 5
    assert result.x_adv.shape == (40, 1, 8, 8)
    assert float(result.linf.max()) <= 0.15 + 1e-6
    assert result.success.dtype == torch.bool and result.robust_accuracy < result.clean_accuracy
    assert advkit.get_attack("torchattacks.pgd") is advkit.get_attack("pgd")


def test_plain_module_and_bad_batches(digits):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    result = advkit.attack("fgsm", net, digits.x[:8], digits.y[:8], eps=0.1)
    assert result.n == 8
    with pytest.raises((advkit.DataError, advkit.ModelError), match="shape"):
        advkit.attack("fgsm", net, digits.x[:8, :, :4], digits.y[:8])
    bad = digits.x[:8].clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(advkit.DataError, match="NaN"):
        advkit.attack("fgsm", net, bad, digits.y[:8])
    with pytest.raises(advkit.DataError, match="not below"):
        advkit.attack("fgsm", net, digits.x[:8], digits.y[:8] + 10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda(default_model, digits):
    model = default_model.to("cuda")
    try:
        result = advkit.attack("pgd", model, digits.x[:32].cuda(), digits.y[:32].cuda(), eps=0.1)
        assert result.device.startswith("cuda") and result.robust_accuracy <= result.clean_accuracy
    finally:
        default_model.to("cpu")
