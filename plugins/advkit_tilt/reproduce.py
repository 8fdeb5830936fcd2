"""`advkit reproduce tanay`: boundary tilting against L2 regularisation, and LeNet under low vs high weight decay."""

from __future__ import annotations

from torch import nn

import advkit

from .sweep import TiltSweep

PAIRS = ((3, 7), (4, 9), (1, 8))
DECAYS = {"low": 1e-4, "high": 1e-1}
# On 8x8 digits a decay of 0.1 drives every LeNet weight to zero (measured), so --quick uses 1e-2 as "high".
QUICK_DECAYS = {"low": 1e-4, "high": 1e-2}
# Tanay & Griffin (PAPERS.md section 4): 3 vs 7 at lambda 1e7 and 1e-1, and LeNet with low vs high decay.
PUBLISHED_3V7 = {"theta": (0.0, 1.37), "d_adv": (2.63, 0.52), "train_error": (0.0635, 0.0),
                 "test_error": (0.0505, 0.0226)}
PUBLISHED_LENET = {"low": {"test_error": 0.016, "rms conv2": 0.04}, "high": {"test_error": 0.012, "rms conv2": 0.005}}


class Tanay(advkit.Reproduction):
    """Tanay & Griffin: theta and d_adv against regularisation for three digit pairs; LeNet with weight decay 1e-4 vs 1e-1."""

    name = "tanay"
    paper = "Tanay & Griffin 2016, A boundary tilting perspective on the phenomenon of adversarial examples"

    def run(self, data_spec, quick, seed, progress):
        train, test = self.data(data_spec, seed, n_test=200 if quick else 1000)
        result = self.result(train, test)
        self.sweeps(result, train, steps=4 if quick else 9, seed=seed)
        self.lenets(result, train, test, quick, seed, progress)
        result.notes.append("LeNet: SGD with momentum 0.9 (the paper: 50 epochs, batch 300, lr 0.0005); "
                            + ("quick: 5 epochs, batch 32, lr 0.03, high decay 1e-2" if quick else
                               "6 epochs, batch 64, lr 0.01"))
        result.notes.append("lambda weighs 1/2 ||w||^2 against the summed hinge loss (linear SVM, C = 1 / lambda), "
                            "on a balanced pair of the training split with 20% held out")
        return result

    def sweeps(self, result, train, steps: int, seed: int) -> None:
        """A linear-SVM sweep per digit pair from lambda 1e7 to 1e-1: theta and d_adv at both ends."""
        for pair in PAIRS:
            label = f"{pair[0]} vs {pair[1]}"
            report = TiltSweep(classes=pair, steps=steps, seed=seed).run(None, train)
            strong, weak = report.numbers["sweep"][0], report.numbers["sweep"][-1]
            for quantity in ("theta", "d_adv", "train_error", "test_error"):
                published = PUBLISHED_3V7[quantity] if pair == (3, 7) else (None, None)
                result.add("tilt sweep", f"{label}, lambda {strong['lambda']:.0e}", quantity, strong[quantity],
                           published[0])
                result.add("tilt sweep", f"{label}, lambda {weak['lambda']:.0e}", quantity, weak[quantity],
                           published[1])
            result.tables[f"sweep {label}"] = report.numbers["sweep"]
            result.figures[f"tilt_sweep_{pair[0]}v{pair[1]}"] = report.figures["tilt_sweep"]
            result.check(f"{label}: theta rises as regularisation weakens", weak["theta"] > strong["theta"],
                         f"{strong['theta']:.3f} -> {weak['theta']:.3f} rad")
            result.check(f"{label}: d_adv falls as regularisation weakens", weak["d_adv"] < strong["d_adv"],
                         f"{strong['d_adv']:.3f} -> {weak['d_adv']:.3f}")

    def lenets(self, result, train, test, quick, seed, progress) -> None:
        """LeNet with low and high weight decay: test error, weight RMS per layer, median L2 at 0.95 confidence."""
        attack_params = {"step": 0.25, "max_steps": 60} if quick else {"step": 0.1, "max_steps": 300}
        x, y = test.x[:30 if quick else 200], test.y[:30 if quick else 200]
        training = dict(epochs=5, lr=0.03, batch_size=32) if quick else dict(epochs=6, lr=0.01, batch_size=64)
        measured = {}
        for level, decay in (QUICK_DECAYS if quick else DECAYS).items():
            model = self.train("lenet", train, seed=seed, progress=progress, weight_decay=decay, optimizer="sgd",
                               tag=f"tanay lenet {level} decay", **training)
            setting = f"LeNet, {level} weight decay {decay:g}"
            published = PUBLISHED_LENET[level] if decay == DECAYS[level] else {}
            result.add("LeNet", setting, "test_error", self.error(model, test), published.get("test_error"))
            rms = weight_rms(model)
            for layer, value in rms.items():
                result.add("LeNet", setting, f"rms {layer}", value, published.get(f"rms {layer}"))
            attacked = advkit.attack("tilt.confidence", model, x, y, targets=(y + 1) % test.num_classes, seed=seed,
                                     **attack_params)
            reached = attacked.success
            median = float(attacked.l2[reached].median()) if reached.any() else float("nan")
            result.add("LeNet", setting, "share reaching p_t >= 0.95", float(reached.float().mean()))
            result.add("LeNet", setting, "median L2 at 0.95 confidence", median)
            measured[level] = {"rms": rms, "median_l2": median}
        low, high = measured["low"], measured["high"]
        result.check("high weight decay gives smaller weights in every layer",
                     all(high["rms"][k] < low["rms"][k] for k in low["rms"]),
                     ", ".join(f"{k} {low['rms'][k]:.3g} vs {high['rms'][k]:.3g}" for k in low["rms"]))
        result.check("high weight decay needs larger L2 perturbations for 0.95 confidence",
                     high["median_l2"] > low["median_l2"], f"{low['median_l2']:.3f} vs {high['median_l2']:.3f}")


def weight_rms(model) -> dict:
    """Root mean square of the weights of each conv and linear layer, named conv1, conv2, ..., fc1, fc2, ..."""
    out, counts = {}, {"conv": 0, "fc": 0}
    for module in model.modules():
        kind = "conv" if isinstance(module, nn.Conv2d) else "fc" if isinstance(module, nn.Linear) else None
        if kind:
            counts[kind] += 1
            out[f"{kind}{counts[kind]}"] = float(module.weight.detach().pow(2).mean().sqrt())
    return out
