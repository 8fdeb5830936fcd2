"""RobustBench model_info JSON from real evaluate summaries."""

from __future__ import annotations

import json

import pytest

import advkit
from advkit.evaluation.leaderboard import eps_text, robustbench_entry, write_robustbench
from advkit.workflows.from_specs import evaluate_from_specs

# The fields of RobustBench's model_info files (README example, model_info/cifar10/Linf/Rice2020Overfitting.json).
MODEL_INFO = {"link", "name", "authors", "additional_data", "number_forward_passes", "dataset", "venue",
              "architecture", "eps", "clean_acc", "reported", "autoattack_acc"}


def test_entry_from_an_autoattack_evaluation(default_model, digits, tmp_path):
    pytest.importorskip("pyautoattack")
    evaluated = advkit.evaluate(default_model, digits.x[:24], digits.y[:24], "autoattack.standard", [0.3],
                                checks=False).summary()
    path = write_robustbench(tmp_path / "Advkit2026Digits.json", evaluated, name="Advkit2026Digits",
                             dataset="digits")
    entry = json.loads(path.read_text())
    assert MODEL_INFO <= set(entry)
    assert entry["name"] == "Advkit2026Digits" and entry["dataset"] == "digits" and entry["threat_model"] == "Linf"
    assert entry["n_examples"] == 24 and entry["eps"] == "0.3"
    assert float(entry["clean_acc"]) == pytest.approx(100 * evaluated["clean_accuracy"], abs=0.005)
    robust = evaluated["per_attack"]["autoattack.standard"]["0.3"]["robust_accuracy"]
    assert float(entry["autoattack_acc"]) == pytest.approx(100 * robust, abs=0.005)
    assert entry["advkit"]["autoattack_acc_from"].startswith("autoattack.standard")
    assert float(entry["autoattack_acc"]) < float(entry["clean_acc"])


def test_a_suite_without_autoattack_says_so(default_model):
    _, summary = evaluate_from_specs(None, "digits", n=40, attacks="torchattacks.fgsm", eps=[8 / 255, 0.1], probe=8)
    with pytest.raises(advkit.UsageError, match="needs one eps.*8/255, 0.1"):
        robustbench_entry(summary)
    with pytest.raises(advkit.UsageError, match="eps 0.2"):
        robustbench_entry(summary, eps=0.2)
    entry = robustbench_entry(summary, eps=8 / 255)
    assert entry["eps"] == "8/255" and entry["dataset"] == "digits" and entry["name"] == summary["model"]
    assert robustbench_entry(summary, eps=8 / 255, dataset="cifar10")["dataset"] == "cifar10"
    assert float(entry["autoattack_acc"]) == pytest.approx(100 * summary["worst_case"]["0.0313725"], abs=0.005)
    assert "not the AutoAttack standard" in entry["advkit"]["autoattack_acc_from"]


def test_eps_is_written_as_robustbench_writes_it():
    assert [eps_text(e) for e in (8 / 255, 4 / 255, 0.5, 0.3)] == ["8/255", "4/255", "0.5", "0.3"]


def test_evaluate_format_robustbench_writes_the_entry(cli, default_model, tmp_path):
    out = tmp_path / "run"
    result = cli("evaluate", "-n", "24", "--attacks", "torchattacks.fgsm", "--eps", "8/255", "--probe", "8",
                 "--format", "robustbench", "--out", out, "--json")
    assert result.code == 0, result.stderr
    entry = json.loads((out / "robustbench.json").read_text())
    summary = json.loads(result.stdout)
    assert entry["eps"] == "8/255" and entry["n_examples"] == 24 and entry["threat_model"] == "Linf"
    assert float(entry["autoattack_acc"]) == pytest.approx(100 * summary["worst_case"]["0.0313725"], abs=0.005)


@pytest.mark.parametrize("args, message", [(("--eps", "8/255"), "needs --out"),
                                           (("--eps", "0,0.1,0.2", "--out", "OUT"), "needs one --eps")])
def test_evaluate_format_robustbench_is_refused_before_any_work(cli, tmp_path, args, message):
    args = tuple(str(tmp_path / "o") if a == "OUT" else a for a in args)
    result = cli("evaluate", "-n", "8", "--format", "robustbench", *args)
    assert result.code == 2 and message in result.stderr
    assert not (tmp_path / "o").exists()
