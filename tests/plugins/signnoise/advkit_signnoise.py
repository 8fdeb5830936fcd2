# advkit_signnoise.py: a complete third-party plugin
import torch

import advkit


class SignNoise(advkit.Attack):
    """Random +-eps sign noise: a baseline that rarely fools a model."""
    name = "sign-noise"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.3, seed: int = 0):
        super().__init__(model)
        self.eps = eps
        self.seed = seed

    def perturb(self, x, y):
        g = torch.Generator().manual_seed(self.seed)
        sign = torch.randint(0, 2, x.shape, generator=g).to(x) * 2 - 1
        return x + self.eps * sign

@advkit.hookimpl
def register_attacks(register):
    register(SignNoise)
