"""A reduced run of benchmarks/bad_inputs.py: representative rows of each category come out CLEAN."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bad_inputs.py"
_spec = importlib.util.spec_from_file_location("bad_inputs", SCRIPT)
bad_inputs = sys.modules["bad_inputs"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up
_spec.loader.exec_module(bad_inputs)

PICKS = [  # (category, the row's command line ends with this)
    ("unknown names", "advkit attack --plugin pgf"),
    ("unknown names", "advkit train --model cnn:widht=8 --out {R}/m.safetensors"),
    ("bad parameters", "advkit attack --plugin pgd --n 4 -p seed=5"),
    ("bad parameters", "advkit attack --plugin pgd --n 4 --eps 1/0"),
    ("data", "--model {W}/cnn.safetensors --data {W}/nan.npz"),
    ("data", "--model {W}/cnn.safetensors --data {W}/huge-header.npz"),
    ("checkpoints", "advkit attack --plugin fgsm --model {W}/classes-1e7.safetensors --n 8"),
    ("checkpoints", "advkit attack --plugin fgsm --model {W}/evil-zip.pt --n 8"),
    ("checkpoints", "advkit attack --plugin fgsm --model {W}/model-dir --n 8"),
    ("output paths", "--out {R}/fifo"),
    ("output paths", "--out {R}/ro/m.safetensors"),
    ("plugin faults", "advkit list attacks --json"),
    ("plugin faults", "advkit --help"),
    ("CLI misuse", "advkit attack --plugin pgf --json"),
    ("Python API", "python: advkit.load_data('digitz')"),
]


def _picked() -> list:
    rows = bad_inputs.all_rows()
    picked = []
    for category, ending in PICKS:
        matches = [r for r in rows if r.category == category and r.label.endswith(ending)]
        assert matches, (category, ending)
        picked.append(matches[0])
    return picked


def test_representative_bad_inputs_are_clean(tmp_path):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed for the unprivileged row")
    fixtures, work = tmp_path / "fixtures", tmp_path / "rows"
    bad_inputs.build_fixtures(fixtures)
    work.mkdir()
    rows = _picked()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda ir: bad_inputs.run_row(ir[1], ir[0], fixtures, work, Path(os.environ["ADVKIT_CACHE_DIR"]), 60),
                                enumerate(rows)))
    unclean = [(r["command"], r["outcome"], r["reason"], r["stderr_tail"]) for r in results if r["outcome"] != "CLEAN"]
    assert not unclean
    assert not (fixtures / "PWNED").exists()


@pytest.mark.parametrize(("rc", "stderr", "changed", "stray", "outcome"), [
    (2, "error: unknown attack 'pgf'\n", [], [], "CLEAN"),
    (2, "advkit: training the default cnn\nerror: bad\n", [], [], "CLEAN"),
    (1, "Traceback (most recent call last):\nerror: x\n", [], [], "TRACEBACK"),
    (0, "", [], [], "WRONG_EXIT"),
    (None, "", [], [], "HANG"),
    (1, "error: x\n", ["/dev/null"], [], "CLOBBERED"),
    (1, "error: x\nerror: y\n", [], [], "MESSY"),
    (1, "UserWarning: something\nerror: x\n", [], [], "MESSY"),
    (1, "error: x\n", [], ["out/.m.safetensors.abc.tmp"], "MESSY"),
])
def test_the_classifier(rc, stderr, changed, stray, outcome):
    row = bad_inputs.Row("CLI misuse", ("attack",))
    assert bad_inputs.classify(row, rc, "", stderr, changed, stray)[0] == outcome


def test_a_surviving_command_must_exit_0_and_keep_its_output():
    row = bad_inputs.Row("plugin faults", ("--help",), survive=True, stdout_has=("attack",), stdout_lacks=("hijacked",))
    assert bad_inputs.classify(row, 0, "Commands: attack", "warning: plugin x refused\n", [], [])[0] == "CLEAN"
    assert bad_inputs.classify(row, 0, "hijacked attack", "", [], [])[0] == "MESSY"
    assert bad_inputs.classify(row, 0, "", "", [], [])[0] == "MESSY"
    assert bad_inputs.classify(row, 1, "Commands: attack", "", [], [])[0] == "WRONG_EXIT"


def test_there_are_at_least_250_distinct_rows_over_the_categories():
    rows = bad_inputs.all_rows()
    assert len(set(rows)) == len(rows) >= 250
    assert {r.category for r in rows} == {"unknown names", "bad parameters", "data", "checkpoints", "output paths",
                                          "plugin faults", "CLI misuse", "Python API"}
