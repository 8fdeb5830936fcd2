"""`evaluate --out DIR --resume` after a kill ends with the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from advkit.evaluation import state

ARGS = ["evaluate", "-n", "96", "--attacks", "fgsm,pgd:steps=3", "--eps", "0,0.1,0.2", "--batch-size", "8",
        "--probe", "8", "--progress", "none"]


def _advkit(*args: str, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "advkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, **kwargs)


def _numbers(out) -> dict:
    """result.json without what depends on the clock."""
    summary = json.loads((out / "result.json").read_text())

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seconds", "started", "full_estimate", "saving")}
        return value

    return strip({key: summary[key] for key in ("n", "clean_accuracy", "worst_case", "per_attack", "cost",
                                                 "warnings", "params", "eot")})


@pytest.mark.slow
def test_a_killed_evaluate_resumes_to_the_identical_result(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    reference = _advkit(*ARGS, "--out", str(whole))
    run = _advkit(*ARGS, "--out", str(killed))
    saved = killed / state.FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        if saved.is_file() and torch.load(saved, weights_only=True)["state"]["batches"] >= 2:
            break
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed"
    run.send_signal(signal.SIGKILL)
    run.wait()
    done = torch.load(saved, weights_only=True)["state"]["batches"]
    assert 2 <= done < 12 and not (killed / "result.json").exists()
    resumed = _advkit(*ARGS, "--out", str(killed), "--resume")
    assert resumed.wait(300) == 0, resumed.stderr.read()
    assert reference.wait(300) == 0, reference.stderr.read()
    assert _numbers(killed) == _numbers(whole)


def test_a_resume_of_another_run_is_refused_naming_what_differs(tmp_path, cli):
    out = tmp_path / "run"
    small = ["evaluate", "-n", "16", "--attacks", "fgsm", "--eps", "0,0.1", "--batch-size", "8", "--probe", "4",
             "--progress", "none", "--out", str(out)]
    assert cli(*small).code == 0
    assert (out / state.FILE).is_file()
    changed = cli(*[("0,0.2" if a == "0,0.1" else a) for a in small], "--resume")
    assert changed.code != 0 and "differs in eps" in changed.stderr and "Traceback" not in changed.stderr
    other = cli(*[("pgd:steps=2" if a == "fgsm" else a) for a in small], "--resume")
    assert other.code != 0 and "differs in suite" in other.stderr
    assert cli(*small, "--resume").code == 0  # the same run resumes (here: from its end)
    missing = cli(*small[:-1], str(tmp_path / "none"), "--resume")
    assert missing.code != 0 and "no saved evaluation state" in missing.stderr
