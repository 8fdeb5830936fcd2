"""Sanity checks of a robustness evaluation, after Carlini et al. 2019 "On Evaluating Adversarial Robustness".

Each failed check is a `Finding`: a code, a one-line meaning and what to do. The checks look at
the evaluation's own numbers and run small probes (the suite's first white-box iterative attack,
FGSM, random noise, more steps, a huge eps) on the first `probe` correctly classified samples.
"""

from __future__ import annotations

from dataclasses import dataclass

from advkit.errors import AttackContractError

# A check fires when the difference exceeds max(MARGIN, MARGIN_SAMPLES / samples compared).
MARGIN = 0.05
MARGIN_SAMPLES = 3
MASKED_SHARE = 0.25  # share of samples with zero/NaN/tiny gradients that counts as "large"
TINY_GRADIENT = 1e-10
MORE_STEPS = 4


@dataclass
class Finding:
    """One warning: `code`, a one-line `meaning`, `advice`, and the measured `detail`."""

    code: str
    meaning: str
    advice: str
    detail: str
    masking: bool = False

    def to_dict(self) -> dict:
        return {"code": self.code, "meaning": self.meaning, "advice": self.advice, "detail": self.detail,
                "masking": self.masking}

    def line(self) -> str:
        return f"[{self.code}] {self.meaning} ({self.detail}). {self.advice}"


CHECKS = {
    "GRADIENT_MASKED": ("input gradients of the loss are zero, NaN or tiny on a large share of samples",
                        "gradient masking (e.g. saturated softmax): evaluate with margin/DLR losses "
                        "(apgd loss=dlr, C&W) and black-box attacks; do not trust CE-gradient attacks", True),
    "SINGLE_STEP_BEATS_ITERATIVE": ("a single-step attack (FGSM) beats the iterative attack",
                                    "the iterative attack is broken or the gradients are masked: check its "
                                    "step size and loss, and add attacks with other losses", True),
    "SUCCESS_NOT_RISING": ("attack success does not rise with eps",
                           "a larger ball contains the smaller one: the attack is failing at large eps "
                           "(step size, masking); fix the attack before reading the curve", True),
    "LARGE_EPS_NOT_CHANCE": ("a very large eps does not drive accuracy down to chance",
                             "with such a budget any image can be reached: the attack is not working "
                             "(masking or a bug); use stronger or gradient-free attacks", True),
    "WEAK_BEATS_STRONG": ("a black-box or random-noise attack beats the white-box attacks",
                          "white-box gradients are misleading (masking): trust the worst case only after "
                          "adding gradient-free and margin-loss attacks", True),
    "NOT_CONVERGED": ("more steps still raise the attack's success",
                      "the attack has not converged: raise steps/restarts until success stops rising", False),
    "EPS0_NOT_CLEAN": ("the attack at eps = 0 changes predictions",
                       "the attack or the model's input bounds are wrong: at eps = 0 it must return x", False),
    "RANDOMIZED_OUTPUTS": ("two identical forward passes give different outputs",
                           "the model is randomized: attack the expectation (EOT, e.g. apgd eot_iter=20) "
                           "and evaluate with several passes", True),
    "PROBABILITY_OUTPUTS": ("the model's outputs look like probabilities, not logits",
                            "return logits: attacks apply softmax themselves, and a second softmax "
                            "flattens gradients", False),
}


def finding(code: str, detail: str) -> Finding:
    meaning, advice, masking = CHECKS[code]
    return Finding(code, meaning, advice, detail, masking)


def run_checks(model, evaluation, specs, *, probe: int = 64, batch_size: int = 256):
    """All checks for `evaluation` of `model` with attack `specs`; returns (findings, probe cost)."""
    import torch

    from advkit.evaluation.watch import ForwardWatch
    from advkit.models.inference import logits_of

    _, x, y = evaluation.probe  # the first correctly classified samples
    if x is None:
        x, y = torch.empty(0, *model.input_shape), torch.empty(0, dtype=torch.long)
    x, y = x[:probe], y[:probe]
    logits = logits_of(model, x, batch_size)
    findings = [f for f in (_probabilities(logits), _randomized(evaluation),
                            _gradients(model, x, y)) if f]
    findings += _weak_attacks_in_suite(evaluation, specs)
    with ForwardWatch(model, record=False) as watch:  # counts what the probes' own watches compute and skip
        if len(x):
            findings += _probes(model, x, y, evaluation, specs, batch_size)
    return findings, watch.cost()


def _margin(samples: int) -> float:
    return max(MARGIN, MARGIN_SAMPLES / max(1, samples))


def _probabilities(logits):
    if not len(logits):
        return None
    if logits.min() >= 0 and logits.max() <= 1 and (logits.sum(1) - 1).abs().max() < 1e-3:
        return finding("PROBABILITY_OUTPUTS", "outputs are in [0, 1] and sum to 1")
    if logits.max() <= 0 and logits.logsumexp(1).abs().max() < 1e-3:
        return finding("PROBABILITY_OUTPUTS", "outputs are log-probabilities (logsumexp = 0)")
    return None


def varying_outputs(model, x, logits, batch_size: int) -> float:
    """How much the logits of `x` change in a second pass; 0 when they repeat up to float noise."""
    from advkit.models.inference import logits_of

    if not len(x):
        return 0.0
    change = float((logits_of(model, x, batch_size) - logits).abs().max())
    scale = float(logits.abs().max()) or 1.0
    return change if change > 1e-5 * scale else 0.0


def _randomized(evaluation):
    if evaluation.output_change:  # measured by `evaluate` before attacking
        return finding("RANDOMIZED_OUTPUTS", f"max change {evaluation.output_change:.3g} between two passes")
    return None


def _gradients(model, x, y):
    """Share of samples whose cross-entropy input gradient is zero, NaN or below TINY_GRADIENT."""
    import torch

    from advkit.models.inference import eval_mode

    if not len(x):
        return None
    with eval_mode(model), torch.enable_grad():
        x = x.to(model.device).clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(x), y.to(model.device), reduction="sum")
        grad, = torch.autograd.grad(loss, x)
    size = grad.flatten(1).abs().amax(1)
    bad = ~torch.isfinite(size) | (size < TINY_GRADIENT)
    share = float(bad.float().mean())
    if share >= MASKED_SHARE:
        zero = float((size == 0).float().mean())
        return finding("GRADIENT_MASKED", f"{share:.0%} of {len(x)} correctly classified samples "
                                          f"({zero:.0%} exactly zero)")
    return None


def _weak_attacks_in_suite(evaluation, specs):
    """Black-box attacks of the suite finding adversarial examples the white-box ones missed."""
    from advkit.attacks.runner import get_attack

    kinds = {s.label: bool(getattr(get_attack(s.name), "black_box", False)) for s in specs}
    white = [label for label, black in kinds.items() if not black]
    out = []
    for label in (label for label, black in kinds.items() if black and white):
        for e in (e for e in evaluation.eps if e > 0):
            runs = evaluation.per_attack
            if evaluation.cascade:
                # everything before a black-box attack in the cascade is white-box here only when it runs last
                if evaluation.attacks.index(label) < max(evaluation.attacks.index(w) for w in white):
                    continue
                gain = runs[label][e]["fooled"] / evaluation.n
            else:
                gain = min(runs[w][e]["robust_accuracy"] for w in white) - runs[label][e]["robust_accuracy"]
            if gain > _margin(evaluation.n):
                out.append(finding("WEAK_BEATS_STRONG", f"{label} at eps={e:g} fools {gain:.1%} of samples "
                                                        "beyond the white-box attacks"))
                break
    return out


def _probes(model, x, y, evaluation, specs, batch_size):
    """Checks that run the suite's first white-box iterative attack and simple baselines on the probe set."""
    from advkit.attacks.runner import get_attack
    from advkit.plugins.schema import parameters

    white = [s for s in specs if not getattr(get_attack(s.name), "black_box", False)]
    iterative = [s for s in white if "steps" in {p.name for p in parameters(get_attack(s.name))}]
    primary = (iterative or white or [None])[0]
    if primary is None:
        return []
    norm, seed, n = evaluation.norm, evaluation.seed, len(y)
    eps = [e for e in evaluation.eps if e > 0]

    def accuracy(spec, e, **overrides):
        return _accuracy(model, x, y, spec, e, norm, seed, batch_size, evaluation.any_point, **overrides)

    out = []
    try:
        if (at_zero := accuracy(primary, 0.0)) != 1.0:
            out.append(finding("EPS0_NOT_CLEAN", f"{primary.label} at eps=0 changed {1 - at_zero:.1%} "
                                                 "of the correctly classified probe samples"))
    except AttackContractError as exc:  # e.g. 0/0 in an L2 projection
        out.append(finding("EPS0_NOT_CLEAN", f"{primary.label} fails at eps=0: {exc}"))
    if not eps:
        return out
    curve = {e: accuracy(primary, e) for e in eps}
    rises = [(a, b) for a, b in zip(eps, eps[1:]) if curve[b] - curve[a] > _margin(n)]
    if rises:
        a, b = rises[0]
        out.append(finding("SUCCESS_NOT_RISING", f"{primary.label}: accuracy {curve[a]:.1%} at eps={a:g} "
                                                 f"but {curve[b]:.1%} at eps={b:g}"))
    lo, hi = model.bounds
    huge = (hi - lo) / 2 if norm == "Linf" else (hi - lo) / 2 * x[0].numel() ** 0.5
    chance = 1 / model.num_classes
    if (at_huge := accuracy(primary, huge)) > chance + _margin(n):
        out.append(finding("LARGE_EPS_NOT_CHANCE", f"{primary.label} at eps={huge:.3g} leaves accuracy "
                                                   f"{at_huge:.1%} (chance {chance:.1%})"))
    mid = eps[(len(eps) - 1) // 2]
    single = _single_step(norm)
    if single and (fgsm := accuracy(single, mid)) < curve[mid] - _margin(n):
        out.append(finding("SINGLE_STEP_BEATS_ITERATIVE", f"at eps={mid:g}: {single.label} accuracy {fgsm:.1%}, "
                                                          f"{primary.label} {curve[mid]:.1%}"))
    if (noisy := _noise_accuracy(model, x, y, mid, norm, seed, batch_size)) < curve[mid] - _margin(n):
        out.append(finding("WEAK_BEATS_STRONG", f"at eps={mid:g}: random noise accuracy {noisy:.1%}, "
                                                f"{primary.label} {curve[mid]:.1%}"))
    steps = dict(primary.params).get("steps") or _default(primary, "steps")
    if steps and (longer := accuracy(primary, mid, steps=int(steps) * MORE_STEPS)) < curve[mid] - _margin(n):
        out.append(finding("NOT_CONVERGED", f"at eps={mid:g}: {primary.label} accuracy {curve[mid]:.1%} with "
                                            f"{steps} steps, {longer:.1%} with {int(steps) * MORE_STEPS}"))
    return out


def _single_step(norm: str):
    from advkit.evaluation.suite import AttackSpec
    from advkit.plugins.registry import registry

    if norm != "Linf" or "fgsm" not in {r.name for r in registry().all("attacks")}:
        return None
    return AttackSpec("fgsm")


def _default(spec, name: str):
    from advkit.attacks.runner import get_attack
    from advkit.plugins.schema import parameters

    return {p.name: p.default for p in parameters(get_attack(spec.name))}.get(name)


def _accuracy(model, x, y, spec, eps, norm, seed, batch_size, any_point: bool, **overrides) -> float:
    from advkit.evaluation.suite import instantiate
    from advkit.evaluation.watch import run_watched

    attack = instantiate(spec, model, eps, norm, seed, **overrides)[0]
    pred = run_watched(attack, model, x, y, eps, norm, batch_size=batch_size, seed=seed, record=any_point,
                       early_stop=any_point)[1]
    return float((pred == y).float().mean())


def _noise_accuracy(model, x, y, eps, norm, seed, batch_size) -> float:
    """Accuracy under random sign noise (Linf) or a random direction (L2) of size eps."""
    import torch

    from advkit.attacks import norms
    from advkit.models.inference import predict

    g = torch.Generator().manual_seed(seed)
    if norm == "Linf":
        delta = eps * (torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1)
    else:
        delta = torch.randn(x.shape, generator=g)
        delta = eps * delta / norms.size(delta, "L2").view(-1, *[1] * (x.ndim - 1))
    lo, hi = model.bounds
    return float((predict(model, (x + delta).clamp(lo, hi), batch_size) == y).float().mean())
