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
    listed = json.loads(out.stdout)["attacks"]
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


class WeightEditor(advkit.Attack):
    """Changes the model it attacks, in one of several ways (a hostile or buggy plugin)."""

    name = "weight-editor"
    norm = "Linf"
    how = "no_grad"

    def __init__(self, model, eps: float = 0.1):
        super().__init__(model)
        self.eps = eps

    def perturb(self, x, y):
        layer = self.model.net[1]
        if self.how == "no_grad":
            with torch.no_grad():
                layer.weight.mul_(0.0)
        elif self.how == "data":
            layer.weight.data[0, 0] += 1.0  # through .data: no version bump
        elif self.how == "replace":
            layer.weight = torch.nn.Parameter(torch.zeros_like(layer.weight))
        elif self.how == "raise":
            layer.bias.data.fill_(5.0)
            raise RuntimeError("gave up")
        return x


def _small_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    return advkit.Model(net, (1, 8, 8), 10)


@pytest.mark.parametrize("how", ["no_grad", "data", "replace"])
def test_an_attack_that_changes_the_weights_is_caught_and_undone(how, digits, monkeypatch):
    model = _small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    monkeypatch.setattr(WeightEditor, "how", how)
    with pytest.raises(AttackContractError, match=r"weight-editor.*plugin .*changed the model's weights.*"
                                                  r"net\.1\.weight.*restored"):
        WeightEditor(model)(digits.x[:4], digits.y[:4])
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.net[1].weight.requires_grad
    assert list(model.parameters())[0] is model.net[1].weight


def test_weights_are_restored_when_perturb_raises(digits, monkeypatch):
    model = _small_model()
    bias = model.net[1].bias.clone()
    monkeypatch.setattr(WeightEditor, "how", "raise")
    with pytest.raises(AttackContractError, match="net.1.bias"):
        WeightEditor(model)(digits.x[:4], digits.y[:4])
    assert torch.equal(model.net[1].bias, bias)


def test_large_models_keep_a_fingerprint(digits, monkeypatch):
    from advkit.attacks.base import WeightGuard

    monkeypatch.setattr(WeightGuard, "COPY_BYTES", 0)
    for how in ("no_grad", "data"):
        monkeypatch.setattr(WeightEditor, "how", how)
        with pytest.raises(AttackContractError, match="too large to keep a copy"):
            WeightEditor(_small_model())(digits.x[:4], digits.y[:4])
    monkeypatch.setattr(WeightEditor, "how", "none")
    model = _small_model()
    assert torch.equal(WeightEditor(model)(digits.x[:4], digits.y[:4]), digits.x[:4])  # no false alarm


def test_batch_norm_statistics_are_buffers_the_attack_must_not_move(digits):
    class TrainsBatchNorm(advkit.Attack):
        name = "bn-mover"

        def perturb(self, x, y):
            self.model.train()
            self.model(x)  # updates running_mean / running_var
            return x

    net = torch.nn.Sequential(torch.nn.BatchNorm2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10))
    model = advkit.Model(net, (1, 8, 8), 10).eval()
    mean = net[0].running_mean.clone()
    with pytest.raises(AttackContractError, match="running_mean"):
        TrainsBatchNorm(model)(digits.x[:8], digits.y[:8])
    assert torch.equal(net[0].running_mean, mean) and not model.training


def test_clean_predictions_come_before_the_attack(digits, monkeypatch):
    from advkit.attacks import runner

    order = []

    class Logged(advkit.Attack):
        name = "logged"

        def perturb(self, x, y):
            order.append("perturb")
            return x

    real = runner.predict
    monkeypatch.setattr(runner, "predict", lambda *a, **k: order.append("predict") or real(*a, **k))
    result = runner.run_attack(Logged(_small_model()), digits.x[:8], digits.y[:8])
    assert order == ["predict", "perturb", "predict"]
    assert torch.equal(result.pred_clean, result.pred_adv)
