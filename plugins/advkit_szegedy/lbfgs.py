"""Szegedy et al.'s box-constrained L-BFGS attack, with all samples of a batch optimised together."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import Bounds, minimize

import advkit

from .checks import at_least


class LBFGS(advkit.Attack):
    """Box-constrained L-BFGS (Szegedy et al. 2014): the smallest L2 change that reaches a target class.

    Minimises `c * ||r||^2 + CE(x + r, target)` with SciPy's L-BFGS-B inside the model's input
    bounds, and keeps per sample the minimiser at the largest `c` that is classified as the target:
    `c` moves from `c_init` by factors of 10 (at most `bracket_steps` times) until success and
    failure bracket it, then `bisections` steps bisect the bracket in log space. Targets are a
    seeded random wrong class unless given. The objective is a sum of per-sample terms, so every
    sample still searching is optimised in one L-BFGS-B call per round.

    Norm L2, no epsilon ball. Szegedy's distortion sqrt(mean(r^2)) (Table 1) is the result's
    `perturbation.rms_mean`.

    Shapes: x N x C x H x W inside the model's bounds, y and targets N.
    Example: `advkit attack --plugin szegedy.lbfgs --model mlp.safetensors --data mnist:DIR --n 100`
    """

    name = "lbfgs"
    norm = "L2"
    targeted = True
    budget_param = None  # no epsilon ball: the L2 size is what it minimises
    quick_params = {"max_iter": 15, "bracket_steps": 2, "bisections": 1}

    def __init__(self, model, c_init: float = 0.1, bracket_steps: int = 6, bisections: int = 7,
                 max_iter: int = 100, seed: int = 0):
        super().__init__(model)
        if not c_init > 0:
            raise advkit.UsageError(f"szegedy.lbfgs: c_init must be > 0, got {c_init}")
        at_least("szegedy.lbfgs", 0, bracket_steps=bracket_steps, bisections=bisections)
        at_least("szegedy.lbfgs", 1, max_iter=max_iter)
        self.c_init = c_init
        self.bracket_steps = bracket_steps
        self.bisections = bisections
        self.max_iter = max_iter
        self.seed = seed

    def perturb(self, x, y, targets=None):
        if targets is None:
            with torch.no_grad():
                logits = self.model(x[:1])
            targets = advkit.choose_targets("random", logits, y, torch.Generator().manual_seed(self.seed))
        n = len(x)
        c = np.full(n, self.c_init)
        lo, hi = np.zeros(n), np.full(n, math.inf)  # largest success, smallest failure
        tries, halvings = np.zeros(n, int), np.zeros(n, int)
        best = x.clone()
        active = np.ones(n, bool)
        while active.any():
            index = np.flatnonzero(active)
            rows = torch.as_tensor(index, device=x.device)
            x_adv = self.minimise(x[rows], targets[rows], c[index])
            with torch.no_grad():
                hit = (self.model(x_adv).argmax(1) == targets[rows]).cpu().numpy()
            bracketed = (lo[index] > 0) & np.isfinite(hi[index])
            halvings[index] += bracketed
            tries[index] += ~bracketed
            keep = hit | (lo[index] == 0)  # a success, or the latest try while none has succeeded
            keep = torch.as_tensor(keep, device=x.device)
            best[rows[keep]] = x_adv[keep]
            lo[index] = np.where(hit, c[index], lo[index])
            hi[index] = np.where(hit, hi[index], np.minimum(hi[index], c[index]))
            both = (lo[index] > 0) & np.isfinite(hi[index])
            c[index] = np.where(both, np.sqrt(lo[index] * hi[index]), np.where(hit, c[index] * 10, c[index] / 10))
            active[index] = np.where(both, halvings[index] < self.bisections, tries[index] <= self.bracket_steps)
        return best

    def minimise(self, x, targets, c):
        """L-BFGS-B on sum_i c_i ||x'_i - x_i||^2 + CE(x'_i, t_i) over x' inside the bounds, from x' = x."""
        shape, device, dtype = x.shape, x.device, x.dtype
        weight = torch.as_tensor(c, device=device, dtype=dtype)

        def objective(z):
            x_adv = torch.from_numpy(z).to(device, dtype).view(shape).requires_grad_(True)
            distance = (x_adv - x).flatten(1).pow(2).sum(1)
            loss = (weight * distance).sum() + F.cross_entropy(self.model(x_adv), targets, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x_adv)
            return loss.item(), grad.flatten().double().cpu().numpy()

        lo, hi = self.bounds
        start = x.detach().flatten().double().cpu().numpy()
        found = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=Bounds(lo, hi),
                         options={"maxiter": self.max_iter})
        return torch.from_numpy(found.x).to(device, dtype).view(shape)
