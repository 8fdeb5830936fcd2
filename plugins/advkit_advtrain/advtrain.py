"""Adversarial training: Goodfellow's mixed objective with FGSM, Madry's PGD training, any registered attack."""

from __future__ import annotations

import advkit


class AdversarialTraining(advkit.Defense):
    """Adversarial training (Goodfellow et al. 2015): minimise alpha J(x) + (1 - alpha) J(x_adv).

    x_adv comes from any registered attack (`attack=torchattacks.pgd`, `art.fgsm`, a third-party
    plugin's attack) run on the model as it trains, with budget `eps` (input units; None passes no
    eps) and further attack parameters `attack_params` ("key=value,key=value"). The default eps
    0.1 suits [0, 1] images like digits or MNIST; Goodfellow et al. used 0.25 on MNIST.
    """

    name = "adversarial-training"

    def __init__(self, attack: str = "fgsm", eps: float | None = 0.1, alpha: float = 0.5, attack_params: str = ""):
        advkit.get_attack(attack)  # unknown names: UsageError with suggestions
        if not 0.0 <= alpha <= 1.0:
            raise advkit.UsageError(f"{self.name}: alpha (weight of the clean loss) must be in [0, 1], got {alpha}")
        self.attack = attack
        self.eps = eps
        self.alpha = alpha
        self.attack_params = _key_values(attack_params)

    def apply(self, model, data):
        budget = {} if self.eps is None else {"eps": self.eps}
        attack, _, _ = advkit.make_attack(self.attack, model, seed=self.settings.seed, **budget, **self.attack_params)
        self.fit(model, data.x, data.y, advkit.AdversarialLoss(attack, self.alpha), stage="adversarial")
        return model

    def report(self) -> dict:
        return {"inner_attack": self.attack, "inner_attack_params": self.attack_params}


class PGDTraining(AdversarialTraining):
    """PGD adversarial training (Madry et al. 2018): the loss on PGD examples only (alpha = 0).

    The default inner attack is torchattacks' PGD with 7 steps of 0.025 from a random start
    (`attack_params` changes them; its `alpha` is PGD's step size, not the loss weight).
    """

    name = "pgd-training"

    def __init__(self, attack: str = "torchattacks.pgd", eps: float | None = 0.1, alpha: float = 0.0,
                 attack_params: str = "steps=7,alpha=0.025,random_start=true"):
        super().__init__(attack, eps, alpha, attack_params)


def _key_values(text: str) -> dict[str, str]:
    """'steps=7,alpha=0.025' as {'steps': '7', 'alpha': '0.025'} (converted by the attack's schema later)."""
    out = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise advkit.UsageError(f"attack_params are written key=value,key=value; got {item!r}")
        out[key.strip()] = value.strip()
    return out
