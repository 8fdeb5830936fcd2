"""`advkit reproduce goodfellow`: FGSM against softmax regression and an MLP, adversarial and noise training."""

from __future__ import annotations

import advkit

EPS = 0.25
ALPHA = 0.5
MODELS = {"softmax regression": "linear", "MLP 100-100": "mlp:hidden=100-100"}
# Goodfellow et al. 2015 on MNIST at eps 0.25 (PAPERS.md section 2); their deep model is a maxout network.
PUBLISHED = {
    ("softmax regression", "plain"): (0.999, False),
    ("MLP 100-100", "plain"): (0.894, True),
    ("MLP 100-100", "FGSM adversarial training"): (0.179, True),
    ("MLP 100-100", "random +-eps noise training"): ("0.86-0.90", True),
}


class Goodfellow(advkit.Reproduction):
    """Goodfellow et al. 2015: FGSM error at eps 0.25, cut by FGSM adversarial training but not by noise training."""

    name = "goodfellow"
    paper = "Goodfellow, Shlens & Szegedy 2015, Explaining and harnessing adversarial examples"

    def run(self, data_spec, quick, seed, progress):
        train, test = self.data(data_spec, seed, n_test=200 if quick else None)
        result = self.result(train, test)
        epochs = 5 if quick else 15
        for label, architecture in MODELS.items():
            models = {
                "plain": self.train(architecture, train, epochs=epochs, seed=seed, progress=progress),
                "FGSM adversarial training": self.adversarially_trained(architecture, train, epochs, seed, progress),
                "random +-eps noise training": self.train(architecture, train, epochs=epochs, seed=seed,
                                                          progress=progress, loss_fn=advkit.AdversarialLoss(
                                                              sign_noise, ALPHA), tag=f"goodfellow {label} noise"),
            }
            errors = {}
            for training, model in models.items():
                fgsm = advkit.attack("fgsm", model, test.x, test.y, eps=EPS, seed=seed)
                errors[training] = 1 - fgsm.robust_accuracy
                published, approx = PUBLISHED.get((label, training), (None, False))
                result.add(label, training, "clean test error", self.error(model, test))
                result.add(label, training, f"FGSM error, eps {EPS}", errors[training], published, approx)
            plain, adversarial, noise = errors.values()
            result.check(f"{label}: FGSM at eps {EPS} fools most inputs of the plain model", plain > 0.5,
                         f"error {plain:.3f}")
            result.check(f"{label}: adversarial training cuts the FGSM error", adversarial < plain,
                         f"{plain:.3f} -> {adversarial:.3f}")
            result.check(f"{label}: noise training does not cut it as much", noise > adversarial,
                         f"noise {noise:.3f} vs adversarial {adversarial:.3f}")
        result.notes.append(f"objective alpha J(x) + (1 - alpha) J(x'), alpha = {ALPHA}, eps = {EPS}; x' is FGSM "
                            "(advtrain.adversarial-training) or x + eps * random signs (the control); the paper's "
                            "deep model is maxout, here an MLP (its numbers are marked approx.)")
        return result

    def adversarially_trained(self, architecture, train, epochs, seed, progress):
        defense, _, _ = advkit.make_defense("advtrain.adversarial-training", attack="fgsm", eps=EPS, alpha=ALPHA)
        self.configure(defense, epochs=epochs, seed=seed, progress=progress)
        return defense.apply(self.fresh(architecture, train, seed), train)


def sign_noise(x, y):
    """x plus eps times random signs, clipped to [0, 1]: the noise-training control (needs no model)."""
    import torch

    return (x + EPS * (torch.randint(0, 2, x.shape, device=x.device) * 2 - 1)).clamp(0, 1)
