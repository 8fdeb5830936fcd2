"""`advkit reproduce xie`: ReLU vs smooth activations under the same PGD-1 training, and the smooth-backward ablation."""

from __future__ import annotations

import statistics

import advkit

ARCHITECTURE = "cnn:width=8"
EPS = 0.1
ACTIVATIONS = ("relu", "softplus", "psoftplus", "silu", "gelu", "elu")
QUICK_ACTIVATIONS = ("relu", "psoftplus", "silu")
ABLATION = ("attacker", "optimizer", "both")
QUICK_ABLATION = ("both",)
# Xie et al. 2020, ResNet-50 on ImageNet, PGD-1 training, PGD-200 at eps 4/255 (PAPERS.md section 5):
# (clean, robust) accuracy, and the ablation's robustness gain over ReLU in points (all approx. marked below).
PUBLISHED = {"relu": ((0.688, False), (0.330, False)), "silu": ((0.697, False), (0.423, False)),
             "gelu": ((0.699, True), (0.415, True)), "elu": ((0.690, True), (0.407, True))}
PUBLISHED_GAIN = {"attacker": 1.5, "optimizer": 2.8, "both": 3.9}


class Xie(advkit.Reproduction):
    """Xie et al. 2020: smooth activations under PGD-1 adversarial training, PGD-50 evaluation, mean and spread over seeds."""

    name = "xie"
    paper = "Xie et al. 2020, Smooth adversarial training"

    def run(self, data_spec, quick, seed, progress):
        train, test = self.data(data_spec, seed, n_test=200 if quick else 1000)
        result = self.result(train, test)
        seeds = [seed + i for i in range(2 if quick else 3)]
        epochs = 5
        runs = {}
        for activation in QUICK_ACTIVATIONS if quick else ACTIVATIONS:
            runs[activation] = [self.trial(train, test, activation, "both", s, epochs, progress) for s in seeds]
        for smooth_for in QUICK_ABLATION if quick else ABLATION:
            runs[f"sbrelu, smooth for {smooth_for}"] = [self.trial(train, test, "sbrelu", smooth_for, s, epochs,
                                                                   progress) for s in seeds]
        relu = statistics.mean(r["robust"] for r in runs["relu"])
        for setting, trials in runs.items():
            clean, robust = ([t[key] for t in trials] for key in ("clean", "robust"))
            (pub_clean, approx_clean), (pub_robust, approx_robust) = PUBLISHED.get(setting, ((None, False),) * 2)
            result.add("PGD-1 training", setting, "clean accuracy (mean)", statistics.mean(clean), pub_clean,
                       approx_clean)
            result.add("PGD-1 training", setting, "PGD-50 accuracy (mean)", statistics.mean(robust), pub_robust,
                       approx_robust)
            result.add("PGD-1 training", setting, "PGD-50 accuracy (spread)", statistics.pstdev(robust))
            if setting.startswith("sbrelu"):
                gain = PUBLISHED_GAIN[setting.rsplit(" ", 1)[1]]
                result.add("PGD-1 training", setting, "gain over ReLU (points)",
                           100 * (statistics.mean(robust) - relu), gain, True)
        result.tables["trials"] = [{"setting": s, **t} for s, trials in runs.items() for t in trials]
        self.directions(result, runs)
        result.figures["xie"] = robustness_figure(runs)
        result.notes.append(f"{ARCHITECTURE} on {len(train)} training images, {epochs} epochs of PGD-1 training (eps "
                            f"{EPS}, step {EPS}, random start: sat.sat), PGD-50 (step 2.5 eps / 50) on {len(test)} "
                            f"test images, seeds {seeds}; spread = population std over seeds; published numbers are "
                            "ResNet-50 on ImageNet")
        return result

    def trial(self, train, test, activation, smooth_for, seed, epochs, progress) -> dict:
        defense, _, _ = advkit.make_defense("sat.sat", activation=activation, eps=EPS, step_size=EPS, steps=1,
                                            smooth_for=smooth_for)
        self.configure(defense, epochs=epochs, seed=seed, progress=progress)
        model = defense.apply(self.fresh(ARCHITECTURE, train, seed), train)
        pgd = advkit.attack("torchattacks.pgd", model, test.x, test.y, eps=EPS, alpha=2.5 * EPS / 50, steps=50,
                            seed=seed)
        return {"seed": seed, "clean": pgd.clean_accuracy, "robust": pgd.robust_accuracy}

    @staticmethod
    def directions(result, runs: dict) -> None:
        def mean(setting):
            return statistics.mean(t["robust"] for t in runs[setting])

        relu, spread = mean("relu"), statistics.pstdev(t["robust"] for t in runs["relu"])
        smooth = [a for a in runs if a != "relu" and not a.startswith("sbrelu")]
        average = statistics.mean(mean(a) for a in smooth)
        result.check("smooth activations do not lose robustness to ReLU (their average within ReLU's spread)",
                     average >= relu - spread, f"ReLU {relu:.3f} +- {spread:.3f}, smooth average {average:.3f}")
        best = max(smooth, key=mean)
        result.check("the best smooth activation is at least as robust as ReLU", mean(best) >= relu,
                     f"{best} {mean(best):.3f} vs ReLU {relu:.3f}")
        both = mean("sbrelu, smooth for both")
        result.check("a smooth backward pass for attacker and optimizer does not lose robustness to ReLU",
                     both >= relu - spread, f"{both:.3f} vs ReLU {relu:.3f} +- {spread:.3f}")


def robustness_figure(runs: dict):
    plt = advkit.pyplot()
    settings = list(runs)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for index, setting in enumerate(settings):
        robust = [t["robust"] for t in runs[setting]]
        ax.scatter([index] * len(robust), robust, color="tab:blue", s=12)
        ax.errorbar(index, statistics.mean(robust), yerr=statistics.pstdev(robust), fmt="_", color="black",
                    capsize=4)
    ax.set_xticks(range(len(settings)), settings, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("PGD-50 accuracy")
    ax.set_title("PGD-1 adversarial training: robustness by activation (dots: seeds; bar: mean +- std)")
    return fig
