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
    targeted = True

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


CAPABILITIES = ("budget_param", "step_param", "iterations_param", "norm_param")


def _attacks():
    from advkit.plugins.registry import registry

    return registry().all("attacks")


def test_every_registered_attack_declares_capabilities_that_agree_with_it():
    from advkit.plugins.schema import parameters

    entries = _attacks()
    assert {e.plugin for e in entries} >= {"torchattacks", "art", "szegedy", "tilt"}
    for entry in entries:
        cls = entry.cls
        assert isinstance(cls.targeted, bool), entry.qualified_name
        assert cls.targeted == cls.perturb_takes_targets() == cls.supports_targets(), entry.qualified_name
        names = {p.name for p in parameters(cls)}
        for attribute in CAPABILITIES:
            declared = getattr(cls, attribute)
            assert declared is None or declared in names, f"{entry.qualified_name}.{attribute} = {declared!r}"


def test_declared_capabilities_of_the_library_wrappers():
    pgd, art_pgd, apgd = (advkit.get_attack(n) for n in ("torchattacks.pgd", "art.pgd", "torchattacks.apgd"))
    assert (pgd.budget_param, pgd.step_param, pgd.iterations_param, pgd.targeted) == ("eps", "alpha", "steps", True)
    assert (art_pgd.budget_param, art_pgd.step_param, art_pgd.iterations_param) == ("eps", "eps_step", "max_iter")
    assert art_pgd.targeted and not advkit.get_attack("art.deepfool").targeted
    assert advkit.get_attack("art.apgd").step_param is None  # its eps_step only starts an adaptive step
    assert apgd.norm_param == "norm" and pgd.norm_param is None
    assert advkit.get_attack("torchattacks.pifgsm").budget_param == "max_epsilon"
    assert advkit.get_attack("art.cw-l2").budget_param is None
    assert advkit.get_attack("szegedy.lbfgs").budget_param is None


def test_listing_shows_targeted_for_every_attack(cli):
    import json

    out = cli("list", "attacks", "--json")
    assert out.code == 0, out.stderr
    listed = json.loads(out.stdout)
    assert len(listed) == len(_attacks()) and {e["plugin"] for e in listed} >= {"torchattacks", "art"}
    missing = [e["name"] for e in listed if not isinstance(e.get("targeted"), bool)]
    assert not missing, f"no `targeted` in the listing of {missing}"
    by_name = {e["name"]: e["targeted"] for e in listed}
    assert by_name["art.pgd"] and not by_name["art.deepfool"] and by_name["tilt.confidence"]
    assert all(by_name[e.qualified_name] == e.cls.targeted for e in _attacks())


class Undeclared(advkit.Attack):
    """Takes targets without declaring `targeted`: the plugin contract makes that a targeted mode."""

    name = "undeclared"

    def perturb(self, x, y, targets=None):
        return x


class DeclaredFalse(Undeclared):
    """Declares no targeted mode although its perturb takes targets: refused, and the check names it."""

    name = "declared-false"
    targeted = False


def test_targeted_defaults_to_the_perturb_signature(default_model, digits):
    from advkit.testing import check_attack

    x, y = digits.x[:4], digits.y[:4]
    assert Undeclared.targeted and not advkit.Attack.targeted
    assert torch.equal(Undeclared(default_model)(x, y, targets=y), x)
    with pytest.raises(UsageError, match="no targeted mode"):
        DeclaredFalse(default_model)(x, y, targets=y)
    with pytest.raises(AssertionError, match="declares targeted = True"):
        check_attack(DeclaredFalse, default_model, x, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda(default_model, digits):
    model = default_model.to("cuda")
    try:
        result = advkit.attack("pgd", model, digits.x[:32].cuda(), digits.y[:32].cuda(), eps=0.1)
        assert result.device.startswith("cuda") and result.robust_accuracy <= result.clean_accuracy
    finally:
        default_model.to("cpu")
