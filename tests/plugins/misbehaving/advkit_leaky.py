"""An attack that steps outside its epsilon ball, to test the contract check."""

import advkit


class Leaky(advkit.Attack):
    """Adds 2 * eps: breaks the Linf contract on purpose."""

    name = "leaky"
    norm = "Linf"

    def __init__(self, model, eps: float = 0.1):
        super().__init__(model)
        self.eps = eps

    def perturb(self, x, y):
        return x + 2 * self.eps


@advkit.hookimpl
def register_attacks(register):
    register(Leaky)
