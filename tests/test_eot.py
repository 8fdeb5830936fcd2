"""EOT: attacks on a randomised model see its expectation, and success is voted over several predictions."""

from __future__ import annotations

import torch

from advkit.attacks.expectation import expectation, fooled_by_majority
from advkit.evaluation.cascade import evaluate
from advkit.evaluation.report import cost_lines
from advkit.models.model import Model


class InputNoise(torch.nn.Module):
    """Gaussian noise on the input, in eval mode too: a randomised defence."""

    def __init__(self, net, sigma: float):
        super().__init__()
        self.net, self.sigma = net, sigma

    def forward(self, x):
        return self.net(x + self.sigma * torch.randn_like(x))


def test_eot_lowers_the_robust_accuracy_of_a_noisy_model(default_model, digits):
    noisy = Model(InputNoise(default_model, 0.3), default_model.input_shape, default_model.num_classes)
    data = digits.subset(torch.arange(120))
    suite, eps = "pgd:steps=10", [0.0, 0.1]
    plain = evaluate(noisy, data, None, suite, eps, batch_size=120, eot=0, checks=False, seed=1)
    eot = evaluate(noisy, data, None, suite, eps, batch_size=120, eot=8, checks=False, seed=1)
    assert eot.worst_case[0.1] <= plain.worst_case[0.1] - 0.03  # measured 0.592 against 0.642
    assert plain.summary()["eot"]["draws"] == 0 and eot.summary()["eot"] == {"draws": 8, "votes": 10}
    assert any(line.startswith("EOT:") for line in cost_lines(eot.summary()))
    auto = evaluate(noisy, data.subset(torch.arange(8)), None, "fgsm", [0.1], checks=False)
    assert auto.output_change and auto.eot > 0  # a varying model gets EOT without being asked


def test_expectation_averages_draws_and_majority_needs_most_of_them(default_model, digits):
    x, y = digits.x[:16], digits.y[:16]
    deterministic = expectation(default_model, 4)
    assert torch.allclose(deterministic(x), default_model(x), atol=1e-5)
    assert not fooled_by_majority(default_model, x[y == default_model(x).argmax(1)], y[y == default_model(x).argmax(1)], 3).any()
