"""The szegedy plugin: L-BFGS attack, Lipschitz bounds, transferability and units vs directions."""

from __future__ import annotations

import json

import pytest
import torch
from advkit_szegedy.bounds import layer_bound, power_iteration
from advkit_szegedy.lipschitz import Lipschitz
from advkit_szegedy.transfer import Transfer
from advkit_szegedy.units import Units
from torch import nn

import advkit

FAST = {"max_iter": 30, "bracket_steps": 3, "bisections": 3}
FAST_LBFGS = "szegedy.lbfgs:" + ":".join(f"{k}={v}" for k, v in FAST.items())


@pytest.fixture(scope="module")
def batch(digits, default_model):
    """Eight digits the default model classifies correctly."""
    correct = advkit.predict(default_model, digits.x) == digits.y
    return digits.x[correct][:8], digits.y[correct][:8]


@pytest.fixture(scope="module")
def linear_model(digits_train):
    model = advkit.load_model("linear", input_shape=digits_train.input_shape, num_classes=10)
    advkit.train(model, digits_train.x, digits_train.y, advkit.TrainConfig(epochs=5, lr=1e-2), progress=False)
    return model


def dense_operator_norm(layer: nn.Module, shape) -> float:
    """||A|| of the layer's linear part, from its full matrix (tiny layers only)."""
    n = torch.Size(shape).numel()
    with torch.no_grad():
        matrix = (layer(torch.eye(n).view(n, *shape)) - layer(torch.zeros(1, *shape))).flatten(1)
    return float(torch.linalg.matrix_norm(matrix.double(), ord=2))


def test_linear_bound_is_its_largest_singular_value():
    layer = nn.Linear(30, 7)
    expected = float(torch.linalg.svdvals(layer.weight.detach().double())[0])
    assert layer_bound(layer, (30,))["upper_bound"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("options", [{"padding": 1}, {"stride": 2, "padding": 1}, {"stride": 2},
                                     {"dilation": 2, "padding": 2}, {"groups": 2, "padding": "same"}])
def test_conv_power_iteration_is_the_operator_norm_and_fourier_bound_is_above(options):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, **options)
    shape = (4, 7, 7)
    exact = dense_operator_norm(conv, shape)
    bound = layer_bound(conv, shape, iterations=300)
    assert power_iteration(conv, shape, iterations=300) == pytest.approx(exact, rel=2e-3)
    assert bound["fourier"] >= exact * (1 - 1e-6)
    assert bound["upper_bound"] == bound["fourier"]


def test_pooling_and_activation_bounds():
    assert layer_bound(nn.MaxPool2d(2), (1, 4, 4))["upper_bound"] == 1.0
    assert layer_bound(nn.MaxPool2d(3, stride=1), (1, 6, 6))["upper_bound"] == pytest.approx(3.0)
    assert layer_bound(nn.AvgPool2d(2), (1, 4, 4))["upper_bound"] >= dense_operator_norm(nn.AvgPool2d(2), (1, 4, 4))
    assert layer_bound(nn.ReLU(), (5,))["upper_bound"] == 1.0
    assert layer_bound(nn.Sigmoid(), (5,))["upper_bound"] == 0.25
    for smooth in (nn.SiLU(), nn.GELU()):
        x = torch.linspace(-10, 10, 20001, requires_grad=True)
        (slope,) = torch.autograd.grad(smooth(x).sum(), x)
        assert 1 < slope.abs().max() <= layer_bound(smooth, (5,))["upper_bound"]
    assert layer_bound(nn.Softmax(dim=1), (5,))["upper_bound"] is None


def test_lipschitz_product_bounds_the_empirical_ratios(default_model, digits):
    report = Lipschitz(attack=FAST_LBFGS, samples=8, iterations=50).run(default_model, digits)
    rows, network = report.numbers["table"], report.numbers["network"]
    assert [row["type"] for row in rows][:2] == ["Conv2d", "ReLU"]
    for row in rows:
        assert row["empirical_max"] <= row["upper_bound"] * (1 + 1e-4)
        assert row["cumulative_empirical_max"] <= row["cumulative_bound"] * (1 + 1e-4)
    assert 0 < network["empirical_max"] <= network["upper_bound"]
    assert report.numbers["attack"]["success_rate"] == 1.0
    assert set(report.figures) == {"lipschitz"}


def test_lbfgs_reaches_every_target_inside_the_bounds(default_model, batch):
    x, y = batch
    targets = (y + 3) % 10
    result = advkit.attack("szegedy.lbfgs", default_model, x, y, targets=targets, **FAST)
    assert bool((result.pred_adv == targets).all())
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    assert result.summary()["perturbation"]["rms_mean"] > 0


def test_lbfgs_search_over_c_shrinks_the_distortion(default_model, batch):
    """Keeping the largest successful c gives smaller perturbations than one tiny fixed c."""
    x, y = batch
    fixed = advkit.attack("szegedy.lbfgs", default_model, x, y, c_init=1e-4, bracket_steps=0, bisections=0,
                          max_iter=30)
    searched = advkit.attack("szegedy.lbfgs", default_model, x, y, c_init=1e-4, **FAST)
    assert fixed.success_rate == searched.success_rate == 1.0
    assert searched.l2.mean() < fixed.l2.mean()
    assert bool((searched.pred_adv != y).all())


def test_lbfgs_default_targets_are_seeded(default_model, batch):
    x, y = batch
    runs = [advkit.attack("szegedy.lbfgs", default_model, x[:4], y[:4], seed=s, **FAST).x_adv for s in (1, 1, 2)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_transfer_diagonal_is_the_white_box_success_rate(default_model, linear_model, digits):
    models = [default_model, linear_model]
    report = Transfer(attack=FAST_LBFGS, samples=20, seed=0).run(models, digits)
    numbers = report.numbers
    table, labels = numbers["error_rates"], numbers["models"]
    assert len(table) == 3 * len(models) + 1
    for i, label in enumerate(labels):
        assert table[3 * i][label] == numbers["white_box_success"][i] == 1.0
    assert all(0 <= row[label] <= 1 for row in table for label in labels)
    assert table[3 * 1 + 1]["std"] == pytest.approx(0.1, rel=0.35)  # amplified, less what clipping removed
    assert set(report.figures) == {"transfer"}


def test_units_default_layer_and_top_k(default_model, digits):
    report = Units(k=5, directions=3).run(default_model, digits)
    numbers = report.numbers
    assert numbers["layer"] == "net.classifier.2"  # the ReLU feeding the last Linear layer
    assert len(numbers["units"]) == len(numbers["random_directions"]) == 3
    for entry in numbers["units"] + numbers["random_directions"]:
        assert len(entry["top_indices"]) == 5
        assert entry["top_values"] == sorted(entry["top_values"], reverse=True)
    assert 0 < numbers["label_agreement"]["units"] <= 1


@pytest.mark.parametrize("make", [
    lambda: Units(k=0),
    lambda: Units(directions=0),
    lambda: Lipschitz(attack="no-such-attack"),
    lambda: Lipschitz(samples=0),
    lambda: Transfer(attack="no-such-attack"),
    lambda: Transfer(attack="szegedy.lbfgs:max_iter"),
    lambda: Transfer(stddev=0),
])
def test_bad_parameters_are_usage_errors(make):
    with pytest.raises(advkit.UsageError):
        make()


def test_unknown_layer_and_bad_attack_parameters(default_model, digits, batch):
    with pytest.raises(advkit.UsageError, match="unknown layer 'nope'"):
        Units(layer="nope").run(default_model, digits)
    with pytest.raises(advkit.UsageError, match="max_iter"):
        advkit.attack("szegedy.lbfgs", default_model, *batch, max_iter=0)
    with pytest.raises(advkit.UsageError, match="c_init"):
        advkit.attack("szegedy.lbfgs", default_model, *batch, c_init=0)


def test_cli_units_writes_report_and_figure(cli, tmp_path):
    result = cli("analyze", "--plugin", "szegedy.units", "-p", "k=3", "--out", tmp_path, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["analysis"] == "szegedy.units" and summary["numbers"]["k"] == 3
    assert (tmp_path / "units.png").stat().st_size > 0
    assert json.loads((tmp_path / "report.json").read_text())["figures"] == ["units.png"]


@pytest.mark.parametrize("args, message", [
    (["-p", "k=0"], "k must be >= 1"),
    (["-p", "layer=nope"], "unknown layer"),
    (["-p", "attack=nope"], "unknown attack"),
])
def test_cli_bad_parameters_exit_2_with_one_line(cli, args, message):
    plugin = "szegedy.lipschitz" if "attack=nope" in args else "szegedy.units"
    result = cli("analyze", "--plugin", plugin, *args)
    assert result.code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
