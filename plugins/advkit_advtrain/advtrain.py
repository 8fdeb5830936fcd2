"""Adversarial training: Goodfellow's mixed objective with FGSM, Madry's PGD training, any registered attack."""

from __future__ import annotations

import advkit


class AdversarialTraining(advkit.Defense):
    """Adversarial training (Goodfellow et al. 2015): minimise alpha J(x) + (1 - alpha) J(x_adv).

    x_adv comes from any registered attack (`attack=torchattacks.pgd`, `art.fgsm`, a third-party
    plugin's attack) run on the model as it trains, with budget `eps` (input units; None passes no
    eps) and further attack parameters `attack_params` ("key=value,key=value"; they win over eps,
    the run's seed and the defaults). An iterative attack's step size (its declared `step_param`:
    torchattacks' `alpha`, ART's `eps_step`), unless given, is 2.5 * eps / its iteration count
    (`iterations_param`; Madry et al.), with the eps and count the attack runs with. The default
    eps 0.1 suits [0, 1] images like digits or MNIST; Goodfellow et al. used 0.25 on MNIST.
    """

    name = "adversarial-training"
    inner_defaults: dict = {}  # inner-attack parameters that `attack_params` overrides

    def __init__(self, attack: str = "fgsm", eps: float | None = 0.1, alpha: float = 0.5, attack_params: str = ""):
        advkit.get_attack(attack)  # unknown names: UsageError with suggestions
        advkit.AdversarialLoss.check_alpha(alpha)
        self.attack = attack
        self.eps = eps
        self.alpha = alpha
        self.attack_params = {**self.inner_defaults, **advkit.parse_key_values(attack_params, what="attack_params")}
        self.inner_params: dict = {}

    def apply(self, model, data):
        self.fit(model, data.x, data.y, advkit.AdversarialLoss(self.inner_attack(model), self.alpha),
                 stage="adversarial")
        return model

    def inner_attack(self, model):
        """The attack that makes x_adv, bound to `model`; its effective parameters go to `inner_params`."""
        cls = advkit.get_attack(self.attack)
        budget = {} if self.eps is None else {cls.budget_param or "eps": self.eps}  # no budget: "no parameter eps"
        params = {"seed": self.settings.seed, **budget, **self.attack_params}
        attack, _, effective = advkit.make_attack(self.attack, model, **params)  # a step not given follows eps
        self.inner_params = effective
        return attack

    def report(self) -> dict:
        return {"inner_attack": self.attack, "inner_attack_params": self.inner_params}


class PGDTraining(AdversarialTraining):
    """PGD adversarial training (Madry et al. 2018): the loss on PGD examples only (alpha = 0).

    The default inner attack is torchattacks' PGD with 7 steps of 2.5 * eps / 7 from a random
    start; `attack_params` overrides any of them (its `alpha` is PGD's step size, not the loss weight).
    """

    name = "pgd-training"
    inner_defaults = {"steps": "7", "random_start": "true"}

    def __init__(self, attack: str = "torchattacks.pgd", eps: float | None = 0.1, alpha: float = 0.0,
                 attack_params: str = ""):
        super().__init__(attack, eps, alpha, attack_params)
