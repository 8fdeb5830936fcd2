"""`advkit reproduce papernot`: defensive distillation against JSMA and FGSM, and C&W-L2 breaking it."""

from __future__ import annotations

import advkit

TEMPERATURES = (1, 2, 5, 10, 20, 50, 100)
QUICK_TEMPERATURES = (100,)
ARCHITECTURE = "cnn:width=16"
FGSM_EPS = 0.3
JSMA_PIXELS = 112 / 784  # Papernot et al.: at most 112 of MNIST's 784 pixels changed
# Papernot et al. 2016 on MNIST (PAPERS.md section 3): JSMA success by temperature (approx. except T=100),
# Carlini & Wagner 2017: C&W-L2 succeeds on every distilled network.
PUBLISHED_JSMA = {1: 0.91, 2: 0.82, 5: 0.25, 10: 0.07, 20: 0.015, 50: 0.015, 100: 0.0045}
UNDISTILLED = "undistilled"


class Papernot(advkit.Reproduction):
    """Papernot et al. 2016 and Carlini & Wagner 2017: distillation stops JSMA and FGSM by masking gradients, not C&W."""

    name = "papernot"
    paper = ("Papernot et al. 2016, Distillation as a defense to adversarial perturbations; "
             "Carlini & Wagner 2017, Towards evaluating the robustness of neural networks")

    def run(self, data_spec, quick, seed, progress):
        train, test = self.data(data_spec, seed)
        result = self.result(train, test)
        x, y = test.x[:40 if quick else 100], test.y[:40 if quick else 100]
        epochs, lr = (6, 0.01) if quick else (5, 0.01)
        temperatures = QUICK_TEMPERATURES if quick else TEMPERATURES
        # the full run searches c as Carlini & Wagner did; the quick one runs one c (it succeeds already)
        cw = ({"c": 1.0, "steps": 30, "lr": 0.1, "binary_search_steps": 1} if quick
              else {"c": 1.0, "steps": 100, "lr": 0.05, "binary_search_steps": 5})
        models = {UNDISTILLED: self.train(ARCHITECTURE, train, epochs=epochs, seed=seed, progress=progress, lr=lr)}
        for t in temperatures:
            defense, _, _ = advkit.make_defense("distillation.distillation", temperature=t)
            self.configure(defense, epochs=epochs, seed=seed, progress=progress, lr=lr)
            models[f"T={t}"] = defense.apply(self.fresh(ARCHITECTURE, train, seed), train)
        measured = {}
        for setting, model in models.items():
            t = None if setting == UNDISTILLED else int(setting[2:])
            numbers = {
                "clean test error": self.error(model, test),
                f"FGSM success, eps {FGSM_EPS}": advkit.attack("fgsm", model, x, y, eps=FGSM_EPS, seed=seed).success_rate,
                "JSMA success": advkit.attack("art.jsma", model, x, y, theta=1.0, gamma=JSMA_PIXELS,
                                              seed=seed).success_rate,
                "C&W-L2 success": advkit.attack("torchattacks.cw", model, x, y, seed=seed, **cw).success_rate,
                "zero input-gradient share": advkit.gradient_statistics(model, x, y)["zero_gradient_share"],
            }
            if setting == UNDISTILLED or t == temperatures[-1]:
                numbers["evaluate flags masking"] = masking_flagged(model, x, y, seed)
            published = {"JSMA success": 0.9589 if t is None else PUBLISHED_JSMA[t],
                         "C&W-L2 success": None if t is None else 1.0,
                         "clean test error": {None: 0.0049, 100: 0.0095}.get(t)}
            for quantity, value in numbers.items():
                approx = quantity == "JSMA success" and t not in (None, 100)
                result.add("distillation", setting, quantity, value, published.get(quantity), approx)
            measured[setting] = numbers
        self.directions(result, measured[UNDISTILLED], measured[f"T={temperatures[-1]}"], temperatures[-1])
        result.figures["distillation"] = success_figure(measured)
        result.notes.append(f"{ARCHITECTURE} on {len(train)} training images, {epochs} epochs per stage (Adam, lr {lr}); attacks on "
                            f"the first {len(x)} test images (success over the correctly classified ones); JSMA (ART's, "
                            f"on the softmax Jacobian as in Papernot et al.) changes at most {JSMA_PIXELS:.1%} of the pixels; C&W-L2 {cw} "
                            f"({'one c' if cw['binary_search_steps'] == 1 else 'a per-sample binary search over c'})")
        return result

    @staticmethod
    def directions(result, base: dict, top: dict, t: int) -> None:
        for attack in (f"FGSM success, eps {FGSM_EPS}", "JSMA success"):
            result.check(f"distillation at T={t} defeats {attack.split()[0]}", top[attack] < base[attack],
                         f"{base[attack]:.3f} undistilled -> {top[attack]:.3f}")
        cw = "C&W-L2 success"
        result.check(f"C&W-L2 still succeeds at T={t} (at least 90% of its undistilled success)",
                     top[cw] >= 0.9 * base[cw], f"{base[cw]:.3f} undistilled -> {top[cw]:.3f}")
        share = "zero input-gradient share"
        result.check(f"T={t} zeroes input gradients (masking)", top[share] > base[share],
                     f"{base[share]:.3f} undistilled -> {top[share]:.3f}")
        result.check(f"`advkit evaluate` flags masking at T={t}", top["evaluate flags masking"],
                     f"undistilled flagged: {base['evaluate flags masking']}")


def masking_flagged(model, x, y, seed: int) -> bool:
    """Whether `advkit evaluate`'s sanity checks (PGD at eps 0.3) report a gradient-masking finding."""
    evaluation = advkit.evaluate(model, x, y, attacks="torchattacks.pgd:steps=10", eps=[FGSM_EPS], seed=seed,
                                 probe=32)
    return any(finding.masking for finding in evaluation.warnings)


def success_figure(measured: dict):
    plt = advkit.pyplot()
    settings = list(measured)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for quantity in (f"FGSM success, eps {FGSM_EPS}", "JSMA success", "C&W-L2 success", "zero input-gradient share"):
        ax.plot(settings, [measured[s][quantity] for s in settings], marker="o", label=quantity)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("model (distillation temperature)")
    ax.set_ylabel("share")
    ax.set_title("Defensive distillation: gradient attacks fail, C&W-L2 does not")
    ax.legend(fontsize=8)
    return fig
