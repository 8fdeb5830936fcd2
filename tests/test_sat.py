"""Smooth activations, activation swapping and smooth adversarial training."""

import warnings

import pytest
import torch
from advkit_sat.activations import ParametricSoftplus, SmoothBackwardReLU, SmoothReLU, smooth_backward
from advkit_sat.swap import swap_activations

import advkit
from advkit.training.loop import TrainConfig


def _input_gradient(module, x):
    x = x.clone().requires_grad_(True)
    module(x).sum().backward()
    return x.grad


def test_smooth_backward_relu_keeps_forward_and_changes_gradient():
    x = torch.linspace(-1, 1, 101)
    sbrelu = SmoothBackwardReLU()
    assert torch.equal(sbrelu(x), torch.relu(x))
    smooth = _input_gradient(sbrelu, x)
    assert torch.allclose(smooth, torch.sigmoid(10 * x))
    assert not torch.equal(smooth, _input_gradient(torch.nn.ReLU(), x))
    with smooth_backward(sbrelu, False):
        assert torch.equal(_input_gradient(sbrelu, x), _input_gradient(torch.nn.ReLU(), x))
    assert sbrelu.smooth


def test_backward_mode_is_fixed_when_the_forward_pass_runs():
    x = torch.linspace(-1, 1, 11).requires_grad_(True)
    sbrelu = SmoothBackwardReLU()
    with smooth_backward(sbrelu, False):
        out = sbrelu(x).sum()
    out.backward()  # outside the block: still the step function recorded at forward time
    assert torch.equal(x.grad, (x > 0).float())


def test_parametric_softplus_and_smoothrelu_formulas():
    x = torch.linspace(-2, 2, 41)
    assert torch.allclose(ParametricSoftplus()(x), torch.log1p(torch.exp(10 * x)) / 10, atol=1e-6)
    assert torch.allclose(_input_gradient(ParametricSoftplus(), x), torch.sigmoid(10 * x), atol=1e-6)
    smooth = SmoothReLU()(x)
    assert torch.equal(smooth[x < 0], torch.zeros_like(smooth[x < 0]))
    assert torch.allclose(smooth[x >= 0], x[x >= 0] - torch.log1p(10 * x[x >= 0]) / 10)
    gradient = _input_gradient(SmoothReLU(), x)
    assert gradient[x <= 0].abs().max() == 0 and (gradient[x > 0] > 0).all()


def test_relu_to_relu_swap_leaves_the_model_unchanged(digits):
    model = advkit.load_model("cnn", input_shape=digits.input_shape, num_classes=10)
    before = model(digits.x[:32])
    report = swap_activations(model, "relu")
    assert len(report["swapped"]) == 3 and report["not_swapped"] == [] and report["traced"]
    assert torch.equal(model(digits.x[:32]), before)


def test_swap_changes_activations_and_checkpoint_keeps_them(digits, tmp_path):
    model = advkit.load_model("cnn", input_shape=digits.input_shape, num_classes=10)
    before = model(digits.x[:32])
    swap_activations(model, "psoftplus")
    assert sum(isinstance(m, ParametricSoftplus) for m in model.modules()) == 3
    assert not torch.equal(model(digits.x[:32]), before)
    advkit.save_model(model, tmp_path / "m.safetensors")
    loaded = advkit.load_model(str(tmp_path / "m.safetensors"))
    assert torch.equal(loaded(digits.x[:32]), model(digits.x[:32]))


def test_functional_activations_are_reported_not_swapped():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.act, self.fc2 = torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 10)

        def forward(self, x):
            return self.fc2(torch.relu(self.act(self.fc1(x.flatten(1)))))

    model = advkit.Model(Net(), (1, 8, 8))
    with pytest.warns(UserWarning, match="could not replace.*relu"):
        report = swap_activations(model, "silu")
    assert report["swapped"] == ["net.act"]
    assert len(report["not_swapped"]) == 1


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(advkit.UsageError, match="valid: .*psoftplus.*relu"):
        advkit.make_defense("sat", activation="swishy")
    with pytest.raises(advkit.UsageError, match="valid:"):
        swap_activations(torch.nn.Sequential(torch.nn.ReLU()), "nope")


@pytest.mark.parametrize("params, match", [({"smooth_for": "attacker"}, "needs activation=sbrelu"),
                                           ({"activation": "sbrelu", "smooth_for": "critic"}, "smooth_for"),
                                           ({"eps": "-0.1"}, "eps"), ({"steps": "0"}, "steps")])
def test_bad_parameters_are_usage_errors(params, match):
    with pytest.raises(advkit.UsageError, match=match):
        advkit.make_defense("sat", **params)


@pytest.mark.parametrize("smooth_for", ["attacker", "optimizer"])
def test_smooth_backward_goes_to_the_chosen_pass_only(smooth_for, digits_train, monkeypatch):
    monkeypatch.setattr("advkit.training.loop.CHECK_SAMPLES", 0)  # no chance-level check pass after epoch 1
    defense, _, _ = advkit.make_defense("sat", activation="sbrelu", smooth_for=smooth_for)
    model = advkit.load_model("mlp", input_shape=digits_train.input_shape, num_classes=10)
    swap_activations(model, "sbrelu")
    seen = {"attack": [], "update": []}
    original = SmoothBackwardReLU.forward

    def spy(self, x):
        seen["attack" if not torch.is_grad_enabled() or not self.training else "update"].append(self.smooth)
        return original(self, x)

    SmoothBackwardReLU.forward = spy
    try:
        defense.config = TrainConfig(epochs=1, batch_size=512)
        defense.apply(model, digits_train.subset(range(512)))
    finally:
        SmoothBackwardReLU.forward = original
    assert set(seen["attack"]) == {smooth_for == "attacker"}
    assert set(seen["update"]) == {smooth_for == "optimizer"}
    assert not any(isinstance(m, SmoothBackwardReLU) for m in model.modules())  # deployed as plain ReLU


def test_pgd1_training_raises_pgd_robust_accuracy(digits_train, digits):
    digits = digits.subset(range(200))
    config = TrainConfig(epochs=10, lr=1e-2, seed=0)
    pgd = {"eps": 0.2, "alpha": 0.05, "steps": 10}
    torch.manual_seed(0)
    plain = advkit.load_model("mlp", input_shape=digits.input_shape, num_classes=10)
    advkit.train(plain, digits_train.x, digits_train.y, config, progress=False)
    plain_robust = advkit.attack("pgd", plain, digits.x, digits.y, **pgd).robust_accuracy
    torch.manual_seed(1)
    fresh = advkit.load_model("mlp", input_shape=digits.input_shape, num_classes=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the zoo mlp has no functional activations to warn about
        model, summary = advkit.defend("sat", fresh, digits_train, digits, params={"eps": 0.2, "step_size": 0.2},
                                       config=config, eval_attack="pgd", eval_params=pgd)
    assert summary["details"]["activation_swap"]["activation"] == "psoftplus"
    assert summary["after"]["clean_accuracy"] > 0.8
    assert summary["after"]["robust_accuracy"] > plain_robust + 0.2
