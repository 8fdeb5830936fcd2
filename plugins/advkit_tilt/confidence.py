"""The `confidence` attack: Tanay & Griffin's high-confidence L2 adversarial examples."""

from __future__ import annotations

import math

import torch

import advkit


class ConfidenceAttack(advkit.Attack):
    """High-confidence L2 attack (Tanay & Griffin): normalised gradient steps on p_target until it reaches 0.95.

    The softmax temperature is calibrated on each batch so that the median confidence of the
    clean inputs equals `confidence` (unless `temperature` is given). Targets default to the
    cycle y -> (y + 1) mod K (0->1->...->9->0). Each step is
    x <- clip(x + step * grad p_t / ||grad p_t||), only for inputs whose p_t is still below
    `confidence`, for at most `max_steps` steps. There is no eps ball: the L2 size of the
    result is what the attack measures.
    """

    name = "confidence"
    norm = "L2"
    targeted = True
    budget_param = None  # no eps ball
    quick_params = {"max_steps": 10, "step": 0.5}

    def __init__(self, model, confidence: float = 0.95, step: float = 0.1, max_steps: int = 200,
                 temperature: float | None = None):
        super().__init__(model)
        if not 0 < confidence < 1:
            raise advkit.UsageError(f"confidence must be in (0, 1), got {confidence}")
        if step <= 0 or max_steps < 1:
            raise advkit.UsageError(f"confidence attack needs step > 0 and max_steps >= 1, got {step}, {max_steps}")
        if temperature is not None and temperature <= 0:
            raise advkit.UsageError(f"temperature must be > 0, got {temperature}")
        self.confidence = confidence
        self.step = step
        self.max_steps = max_steps
        self.temperature = temperature

    def perturb(self, x, y, targets=None):
        lo, hi = self.bounds
        with torch.no_grad():
            logits = self.model(x)
        if targets is None:
            targets = (y + 1) % logits.shape[1]
        temperature = self.temperature or calibrate_temperature(logits, self.confidence)
        for _ in range(self.max_steps):
            x = x.detach().requires_grad_(True)
            p_target = torch.softmax(self.model(x) / temperature, 1).gather(1, targets[:, None]).squeeze(1)
            active = p_target.detach() < self.confidence
            if not active.any():
                break
            (grad,) = torch.autograd.grad(p_target.sum(), x)
            norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.ndim - 1))
            x = (x + self.step * active.view_as(norm) * grad / norm).clamp(lo, hi)
        return x.detach()


def calibrate_temperature(logits, confidence: float, iterations: int = 60) -> float:
    """The temperature T at which the median of max softmax(logits / T) equals `confidence` (bisection on log T)."""
    logits = logits.detach().double()

    def median_confidence(log_t: float) -> float:
        return float(torch.softmax(logits / math.exp(log_t), 1).amax(1).median())

    low, high = math.log(1e-4), math.log(1e4)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if median_confidence(middle) > confidence:
            low = middle
        else:
            high = middle
    return math.exp(0.5 * (low + high))
