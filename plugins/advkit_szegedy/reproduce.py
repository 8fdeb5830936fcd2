"""`advkit reproduce szegedy`: L-BFGS distortion against weight decay, transferability, Lipschitz bounds."""

from __future__ import annotations

import advkit

from .lipschitz import Lipschitz
from .transfer import Transfer

# Szegedy et al. 2014, MNIST (PAPERS.md section 1): Table 1 (test error, mean minimum distortion) ...
TABLE1 = {
    "FC10, weight decay 1e-4": ("linear", 1e-4, 0.074, 0.062),
    "FC10, weight decay 1e-2": ("linear", 1e-2, 0.094, 0.1),
    "FC10, weight decay 1": ("linear", 1.0, 0.20, 0.14),
    "FC100-100-10": ("mlp:hidden=100-100", 1e-4, 0.0164, 0.058),
}
# ... and the transfer table: examples made on FC100-100-10 (P1), error on the three models below.
TRANSFER_MODELS = {"FC100-100-10 (P1)": ("mlp:hidden=100-100", 0), "FC123-456-10 (P1)": ("mlp:hidden=123-456", 0),
                   "FC100-100-10 (P2)": ("mlp:hidden=100-100", 1)}
PUBLISHED_TRANSFER = {"adversarial": (1.0, 0.262, 0.059), "amplified to std 0.1": (1.0, 0.98, 0.43)}


class Szegedy(advkit.Reproduction):
    """Szegedy et al. 2014: L-BFGS distortion rising with weight decay, transfer vs Gaussian noise, Lipschitz bounds."""

    name = "szegedy"
    paper = "Szegedy et al. 2014, Intriguing properties of neural networks"

    def run(self, data_spec, quick, seed, progress):
        train, test = self.data(data_spec, seed)
        result = self.result(train, test)
        epochs = 8 if quick else 10
        lbfgs = {"max_iter": 30, "bracket_steps": 4, "bisections": 3} if quick else {}
        samples = 20 if quick else 100
        self.table1(result, train, test, epochs, lbfgs, samples, seed, progress)
        self.transfer(result, train, test, epochs, samples, seed, progress)
        lipschitz = {"samples": 10, "iterations": 30, "attack": "szegedy.lbfgs:" + ":".join(
            f"{k}={v}" for k, v in lbfgs.items())} if quick else {"samples": samples, "iterations": 100}
        self.lipschitz(result, train, test, epochs, lipschitz, seed, progress)
        result.notes.append(f"Adam (lr 1e-3, weight decay as an L2 term in the gradient), {epochs} epochs; L-BFGS "
                            f"({lbfgs or 'default c search'} for Table 1{' and Lipschitz' if quick else ''}; default otherwise) toward "
                            f"seeded random targets on the first {samples} test images; distortion is "
                            "sqrt(mean(r^2)) over the successful ones")
        return result

    def table1(self, result, train, test, epochs, lbfgs, samples, seed, progress) -> None:
        distortion = {}
        for setting, (architecture, decay, error, published) in TABLE1.items():
            model = self.train(architecture, train, epochs=epochs, seed=seed, progress=progress,
                               weight_decay=decay, tag=f"szegedy {setting}")
            attacked = advkit.attack("szegedy.lbfgs", model, test.x[:samples], test.y[:samples], seed=seed, **lbfgs)
            distortion[setting] = attacked.summary()["perturbation"]["rms_mean"]
            result.add("Table 1", setting, "test error", self.error(model, test), error)
            result.add("Table 1", setting, "L-BFGS success", attacked.success_rate, 1.0)
            result.add("Table 1", setting, "mean minimum distortion", distortion[setting], published)
        fc10 = [distortion[s] for s in list(TABLE1)[:3]]
        result.check("FC10: distortion rises with weight decay (1e-4 -> 1e-2 -> 1)", self.increasing(fc10),
                     " -> ".join(f"{d:.4f}" for d in fc10))
        successes = [r["measured"] for r in result.rows if r["quantity"] == "L-BFGS success"]
        result.check("L-BFGS reaches its target on at least 90% of the inputs", min(successes) >= 0.9,
                     f"lowest success {min(successes):.3f}")

    def transfer(self, result, train, test, epochs, samples, seed, progress) -> None:
        halves = (train.subset(slice(0, len(train) // 2)), train.subset(slice(len(train) // 2, None)))
        models = [self.train(architecture, halves[half], epochs=epochs, seed=seed, progress=progress,
                             weight_decay=1e-4, tag=f"szegedy {label}")
                  for label, (architecture, half) in TRANSFER_MODELS.items()]
        report = Transfer(samples=samples, seed=seed).run(models, test)
        table = report.numbers["error_rates"]
        labels = report.numbers["models"]
        rows = {"adversarial": table[0], "amplified to std 0.1": table[1], "Gaussian noise, same std": table[2],
                "Gaussian noise, std 0.1": table[-1]}
        for kind, row in rows.items():
            published = PUBLISHED_TRANSFER.get(kind, ("0.02-0.03",) * 3 if kind.startswith("Gaussian") else None)
            for index, (target, label) in enumerate(zip(TRANSFER_MODELS, labels)):
                approx = kind.startswith("Gaussian")
                result.add("transfer (made on FC100-100-10 P1)", f"{kind} -> {target}", "error", row[label],
                           published[index] if published else None, approx)
        result.tables["transfer"] = table
        result.figures["transfer"] = report.figures["transfer"]
        adversarial, noise = rows["adversarial"], rows["Gaussian noise, same std"]
        for label, target in list(zip(labels, TRANSFER_MODELS))[1:]:
            result.check(f"adversarial examples transfer to {target} more than Gaussian noise of the same std",
                         adversarial[label] > noise[label], f"{adversarial[label]:.3f} vs {noise[label]:.3f}")
        amplified, noise = rows["amplified to std 0.1"], rows["Gaussian noise, std 0.1"]
        result.check("at std 0.1, adversarial directions fool every model more than Gaussian noise",
                     all(amplified[label] > noise[label] for label in labels),
                     ", ".join(f"{amplified[label]:.3f} vs {noise[label]:.3f}" for label in labels))

    def lipschitz(self, result, train, test, epochs, settings, seed, progress) -> None:
        model = self.train("cnn:width=8", train, epochs=epochs, seed=seed, progress=progress, tag="szegedy conv net")
        report = Lipschitz(seed=seed, **settings).run(model, test)
        rows = [row for row in report.numbers["table"] if row["upper_bound"] is not None]
        for row in rows:
            result.add("Lipschitz (conv net)", f"{row['layer']} {row['type']} {row['size']}", "upper bound",
                       row["upper_bound"])
        network = report.numbers["network"]
        result.add("Lipschitz (conv net)", "whole network", "product of bounds", network["upper_bound"])
        result.add("Lipschitz (conv net)", "whole network", "largest ratio on adversarial r", network["empirical_max"])
        result.tables["lipschitz"] = report.numbers["table"]
        result.figures["lipschitz"] = report.figures["lipschitz"]
        result.check("no adversarial perturbation exceeds the per-layer and network upper bounds",
                     all((row["empirical_max"] or 0) <= row["upper_bound"] * (1 + 1e-4) for row in rows)
                     and (network["empirical_max"] or 0) <= network["upper_bound"] * (1 + 1e-4),
                     f"network {network['empirical_max']:.3g} <= {network['upper_bound']:.3g}")
        result.notes.append("Szegedy's published Lipschitz bounds are for AlexNet (conv1 2.75 ... fc3 4), not "
                            "comparable to this small conv net; the check is that the bounds hold")

