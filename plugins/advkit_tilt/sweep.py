"""The `tilt-sweep` analysis: linear classifiers on a class pair, from strong to weak L2 regularisation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

import advkit

from . import figures, geometry

LOSSES = ("hinge", "logistic")


class TiltSweep(advkit.Analysis):
    """Linear SVMs (or logistic regression) over regularisation strengths: theta, d_adv and errors (Tanay & Griffin).

    For each lambda, log-spaced from lambda_max down to lambda_min, fits a linear classifier on
    classes (i, j) minimising lambda/2 ||w||^2 + sum of losses (scikit-learn's C = 1 / lambda) and
    reports the tilting angle, d_adv, d_err and ||w|| on the training part, and the train and
    test error. The pair is balanced and a seeded, stratified `test_fraction` is held out. The
    figure shows every curve and the mirror images of test inputs under both end classifiers.
    Trains its own models: takes no --model; give it all the data with --split all.
    """

    name = "tilt-sweep"
    needs_model = False

    def __init__(self, classes: tuple = (3, 7), loss: str = "hinge", lambda_max: float = 1e7,
                 lambda_min: float = 1e-1, steps: int = 9, test_fraction: float = 0.2, samples: int = 2,
                 max_iter: int = 20000, seed: int = 0):
        if loss not in LOSSES:
            raise advkit.UsageError(f"tilt-sweep loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if not 0 < lambda_min < lambda_max:
            raise advkit.UsageError(f"tilt-sweep needs 0 < lambda_min < lambda_max, got {lambda_min}, {lambda_max}")
        if steps < 2 or samples < 1 or max_iter < 1:
            raise advkit.UsageError("tilt-sweep needs steps >= 2, samples >= 1 and max_iter >= 1")
        if not 0 < test_fraction < 1:
            raise advkit.UsageError(f"tilt-sweep test_fraction must be in (0, 1), got {test_fraction}")
        self.classes = tuple(classes)
        self.loss = loss
        self.lambdas = np.logspace(math.log10(lambda_max), math.log10(lambda_min), steps).tolist()
        self.test_fraction = test_fraction
        self.samples = samples
        self.max_iter = max_iter
        self.seed = seed

    def run(self, model, data) -> advkit.Report:
        x, signs = geometry.select_pair(data.x, data.y, self.classes, data.num_classes, balanced=True,
                                        seed=self.seed)
        (x_train, s_train), (x_test, s_test) = self._split(x, signs)
        rows, ends, unconverged = [], [], 0
        with advkit.progress(len(self.lambdas), "analyze tilt-sweep", unit="fits") as meter:
            for lam in self.lambdas:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    w, b = self._fit(x_train, s_train, lam)
                meter.update(1)
                unconverged += any("converge" in str(c.message) for c in caught)
                numbers = geometry.tilt(x_train, s_train, w, b)
                rows.append({
                    "lambda": lam, "theta": numbers["theta"], "d_adv": numbers["d_adv"], "d_err": numbers["d_err"],
                    "norm_w": numbers["norm_w"], "train_error": numbers["error_rate"],
                    "test_error": float((s_test * geometry.signed_distance(x_test, w, b) <= 0).double().mean()),
                    "identity_gap": numbers["identity"]["gap"],
                })
                if lam in (self.lambdas[0], self.lambdas[-1]):
                    ends.append((lam, w, b))
        numbers = {
            "classes": [int(c) for c in self.classes], "loss": self.loss, "n_train": len(x_train),
            "n_test": len(x_test), "centroid_distance": float(geometry.centroid_direction(x_train, s_train).norm()),
            "sweep": rows,
        }
        sample = x_test[torch.linspace(0, len(x_test) - 1, self.samples).round().long()]
        report = advkit.Report(self.name, numbers, {
            "tilt_sweep": figures.sweep_figure(rows, sample, ends, (0.0, 1.0), "lambda")})
        report.notes.append("lambda weighs 1/2 ||w||^2 against the summed loss (scikit-learn C = 1 / lambda); "
                            "theta, d_adv and d_err are measured on the training part")
        if unconverged:
            report.notes.append(f"{unconverged} of {len(rows)} fits did not converge in max_iter={self.max_iter}")
        return report

    def _split(self, x, signs):
        """A stratified split: the same share of each class held out for testing."""
        generator = torch.Generator().manual_seed(self.seed)
        train, test = [], []
        for side in (-1, 1):
            index = (signs == side).nonzero().flatten()
            index = index[torch.randperm(len(index), generator=generator)]
            cut = max(1, round(len(index) * self.test_fraction))
            test.append(index[:cut])
            train.append(index[cut:])
        train, test = torch.cat(train), torch.cat(test)
        return (x[train], signs[train]), (x[test], signs[test])

    def _fit(self, x, signs, lam: float):
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        features, labels = x.flatten(1).double().numpy(), signs.numpy().astype(int)
        if self.loss == "hinge":
            classifier = LinearSVC(C=1.0 / lam, loss="hinge", dual=True, max_iter=self.max_iter,
                                   random_state=self.seed)
        else:
            classifier = LogisticRegression(C=1.0 / lam, max_iter=self.max_iter)
        classifier.fit(features, labels)
        return torch.from_numpy(classifier.coef_[0]).double(), float(classifier.intercept_[0])

