"""The reference AutoAttack (pyautoattack) as advkit attacks: same numbers as the raw package, inside
advkit's runner, evaluate cascade and CLI, and a clear error without the extra."""

from __future__ import annotations

import json

import pytest
import torch

import advkit

pytest.importorskip("pyautoattack")

EPS = 0.05  # small enough that samples survive APGD-CE, so every attack of the standard version runs


@pytest.fixture(scope="module")
def samples(default_model, digits):
    return digits.x[:20], digits.y[:20]


def _robust(model, x_adv, y) -> float:
    with torch.no_grad():
        return float((model(x_adv).argmax(1) == y).float().mean())


@pytest.fixture(scope="module")
def reference(default_model, samples):
    """The raw package's AutoAttack standard on the samples: robust accuracy and the passes it cost."""
    from pyautoattack import AutoAttack

    from advkit.evaluation.watch import ForwardWatch

    x, y = samples
    with ForwardWatch(default_model) as passes:
        runner = AutoAttack(default_model.eval(), eps=EPS, version="standard", seed=0, norm="Linf", device="cpu")
        runner.verbose = False
        x_ref, _ = runner.run_standard_evaluation(x, y, batch_size=len(x))
    return _robust(default_model, x_ref, y), passes.forward + passes.backward


@pytest.mark.slow  # the reference's full budget: Square's 5000 queries on the samples that survive
def test_standard_in_the_evaluate_cascade_matches_the_reference(default_model, samples, reference):
    x, y = samples
    expected, _ = reference
    evaluation = advkit.evaluate(default_model, x, y, "autoattack.standard", [EPS], seed=0, checks=False)
    assert evaluation.worst_case[EPS] == expected
    assert 0 < expected < evaluation.clean_accuracy  # the check measures something: some fooled, some not
    assert evaluation.params["autoattack.standard"]["seed"] == 0


@pytest.mark.slow
def test_default_suite_is_as_strong_as_the_reference_at_a_fraction_of_its_passes(default_model, samples, reference):
    """The reduced `benchmarks/bench_evaluate_vs_autoattack.py`: 20 samples instead of 200."""
    from advkit.evaluation.watch import ForwardWatch

    x, y = samples
    expected, reference_passes = reference
    with ForwardWatch(default_model) as passes:
        evaluation = advkit.evaluate(default_model, x, y, None, [EPS], seed=0, checks=False, progress=False)
    assert evaluation.worst_case[EPS] <= expected + 0.5 / 100 + 1e-6  # within 0.5 pt: no sample more robust
    assert reference_passes >= 5 * (passes.forward + passes.backward)


def test_an_individual_attack_gives_the_reference_output(default_model, samples):
    from pyautoattack.autopgd_base import APGDAttack

    x, y = samples
    raw = APGDAttack(default_model.eval(), eps=0.1, norm="L2", n_iter=20, seed=3, loss="ce", device="cpu")
    result = advkit.attack("autoattack.apgd-ce", default_model, x, y, eps=0.1, norm="L2", n_iter=20, seed=3)
    assert torch.equal(result.x_adv, raw.perturb(x, y))
    assert "loss" not in result.params  # fixed by the name (apgd-ce), not a parameter


def test_cli_attack_and_evaluate(cli):
    out = cli("attack", "--plugin", "autoattack.standard", "--eps", "0.3", "--n", "10", "--json")
    assert out.code == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["attack"] == "autoattack.standard" and summary["robust_accuracy"] < summary["clean_accuracy"]
    out = cli("evaluate", "--attacks", "autoattack.apgd-ce:n_iter=10", "--eps", "0.1", "--n", "20", "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["sanity_checked"]


def test_bad_input_is_one_clear_error(default_model, digits):
    other = advkit.load_model("cnn", input_shape=(1, 8, 8), num_classes=10, bounds=(-1.0, 1.0))
    with pytest.raises(advkit.UsageError, match=r"inputs in \[0, 1\]"):
        advkit.make_attack("autoattack.standard", other)
    with pytest.raises(advkit.UsageError, match="norm must be one of Linf, L2, L1"):
        advkit.make_attack("autoattack.square", default_model, norm="L0")


def test_without_the_package_the_error_names_the_extra(monkeypatch, default_model):
    import importlib.util

    import advkit_autoattack

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    registered = []
    advkit_autoattack.register_attacks(register=registered.append)
    names = {cls.name for cls in registered}
    assert {"standard", "plus", "rand", "apgd-ce", "apgd-t", "fab-t", "square"} <= names
    standard = next(cls for cls in registered if cls.name == "standard")
    with pytest.raises(advkit.UsageError, match=r'pip install -e "\.\[autoattack\]"'):
        standard(default_model, eps=0.1)
