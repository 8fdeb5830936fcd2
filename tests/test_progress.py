"""Progress on stderr (`--progress auto|bar|plain|none`, `progress=`): counted in samples, rate limited,
plain lines where stderr is not a terminal, never on stdout."""

from __future__ import annotations

import io
import json
import re
import time

import pytest

import advkit
from advkit.reporting import progress as progress_module
from advkit.reporting.progress import Progress, mode_of, progress_mode, resolve

LINE = re.compile(r"^advkit: (?P<desc>.*): (?P<done>\d+)/(?P<total>\d+) (?P<unit>\w+), \d\d:\d\d elapsed"
                  r"(, ETA \d\d:\d\d|, done)?")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def plain_lines(text: str) -> list[re.Match]:
    return [m for m in map(LINE.match, text.splitlines()) if m]


@pytest.fixture
def every_update(monkeypatch):
    """Plain progress prints on every update (the interval is 0 s), so short test runs show it."""
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)


def test_plain_lines_are_rate_limited_and_end_with_a_last_line():
    clock, stream = Clock(), io.StringIO()
    with Progress(1000, "evaluate pgd eps=0.1", progress="plain", interval=5, stream=stream, clock=clock,
                  heartbeat=False) as meter:
        for t, n in [(1, 100), (2, 100), (5, 100), (6, 100), (9.9, 100), (10.5, 100), (12, 400)]:
            clock.now = t
            meter.update(n)
        clock.now = 80
    lines = stream.getvalue().splitlines()
    assert lines == ["advkit: evaluate pgd eps=0.1: 300/1000 samples, 00:05 elapsed, ETA 00:12",
                     "advkit: evaluate pgd eps=0.1: 600/1000 samples, 00:10 elapsed, ETA 00:07",
                     "advkit: evaluate pgd eps=0.1: 1000/1000 samples, 01:20 elapsed, done"]


def test_short_work_prints_nothing_and_none_never_prints():
    clock, stream = Clock(), io.StringIO()
    with Progress(10, "quick", progress="plain", interval=5, stream=stream, clock=clock, heartbeat=False) as meter:
        clock.now = 4.9
        meter.update(10)
    with Progress(10, "silent", progress="none", interval=0, stream=stream, clock=clock) as meter:
        clock.now = 100
        meter.update(10)
    assert stream.getvalue() == ""


def test_heartbeat_shows_a_long_batch_that_has_not_finished():
    stream = io.StringIO()
    with Progress(10, "attack szegedy.lbfgs", progress="plain", interval=0.1, stream=stream) as meter:
        time.sleep(0.45)  # one long batch: no update yet
        meter.update(10)
    lines = plain_lines(stream.getvalue())
    assert len(lines) >= 3 and lines[0]["done"] == "0" and lines[-1].group(0).endswith("10/10 samples, 00:00 elapsed, done")


def test_in_a_long_run_each_short_piece_ends_with_a_line():
    stream = io.StringIO()
    with Progress(5, "alone", progress="plain", interval=0.1, stream=stream, heartbeat=False) as meter:
        meter.update(5)
    assert stream.getvalue() == ""  # short work on its own: silent
    with progress_mode("plain"):
        time.sleep(0.15)  # the run (a command) has lasted longer than the interval
        with Progress(5, "train epoch 1/1", interval=0.1, stream=stream, heartbeat=False) as meter:
            meter.update(5)
    assert stream.getvalue().startswith("advkit: train epoch 1/1: 5/5 samples, 00:00 elapsed, done")


def test_modes_true_false_none_and_nesting(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    assert (mode_of(True), mode_of(False), mode_of("PLAIN"), resolve("auto"), resolve(None)) == \
        ("auto", "none", "plain", "plain", "plain")
    with progress_mode("none"):
        assert resolve(None) == "none" and resolve("bar") == "bar"
    with progress_mode("plain"), Progress(5, "outer"):
        assert mode_of(None) == "none"  # nested work stays quiet under running progress
        assert mode_of(True) == "plain"  # True: on, the way the user chose
    assert mode_of(None) == "auto"
    with pytest.raises(advkit.UsageError, match="progress must be one of auto, bar, plain, none"):
        mode_of("loud")


def test_python_api_plain_counts_samples_none_is_silent(default_model, digits, capsys, every_update):
    x, y = digits.x[:40], digits.y[:40]
    capsys.readouterr()
    advkit.attack("fgsm", default_model, x, y, eps=0.1, batch_size=16, progress="plain")
    lines = plain_lines(capsys.readouterr().err)
    assert [m["done"] for m in lines] == ["16", "32", "40", "40"] and lines[-1]["total"] == "40"
    assert lines[0]["desc"] == "attack torchattacks.fgsm eps=0.1" and lines[-1].group(0).endswith("done")
    for off in ("none", False):
        advkit.attack("fgsm", default_model, x, y, eps=0.1, progress=off)
        assert capsys.readouterr().err == ""


def test_cli_attack_json_stays_one_object_with_plain_progress(cli, every_update):
    result = cli("attack", "--plugin", "fgsm", "--n", "40", "--batch-size", "16", "--progress", "plain", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["n"] == 40  # stdout is exactly one JSON object
    lines = plain_lines(result.stderr)
    assert lines and (lines[-1]["done"], lines[-1]["total"]) == ("40", "40")
    quiet = cli("attack", "--plugin", "fgsm", "--n", "40", "--progress", "none", "--json")
    assert quiet.code == 0 and "advkit:" not in quiet.stderr and json.loads(quiet.stdout)["n"] == 40


def test_cli_evaluate_plain_names_attack_and_eps_and_reaches_n_of_n(cli, every_update):
    result = cli("evaluate", "--n", "40", "--attacks", "fgsm,pgd:steps=2", "--eps", "0,0.1,0.2", "--probe", "8",
                 "--batch-size", "16", "--progress", "plain", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    lines = plain_lines(result.stderr)
    assert {m["desc"] for m in lines} == {f"evaluate {a} eps={e}" for a in ("fgsm", "pgd(steps=2)")
                                          for e in ("0.1", "0.2")}
    # streamed batch by batch: every (sample, attack, eps) is one unit, done when attacked or skipped by the cascade
    attacked = sum(summary["per_attack"][a][e]["ran_on"] for a in summary["attacks"] for e in ("0.1", "0.2"))
    assert (lines[-1]["done"], lines[-1]["total"]) == ("160", "160") and attacked < 160
    assert lines[-1].group(0).endswith("done")
    assert {int(m["total"]) for m in lines} == {160}  # the whole run's work, known from the start


def test_cli_train_plain_counts_samples_over_epochs(cli, tmp_path, every_update):
    result = cli("train", "--model", "linear", "--n", "100", "--epochs", "2", "--batch-size", "50",
                 "--progress", "plain", "--out", tmp_path / "m.safetensors", "--json")
    assert result.code == 0, result.stderr
    json.loads(result.stdout)
    lines = plain_lines(result.stderr)
    assert [(m["desc"], m["done"]) for m in lines[:4]] == [
        ("train epoch 1/2", "50"), ("train epoch 1/2", "100"), ("train epoch 2/2", "150"), ("train epoch 2/2", "200")]
    assert lines[-1]["total"] == "200" and all(", loss " in m.string for m in lines)


def test_cli_analyze_plugin_uses_the_public_progress(cli, every_update):
    result = cli("analyze", "--plugin", "tilt-sweep", "--data", "digits", "--split", "all", "-p", "steps=3",
                 "-p", "max_iter=200", "--progress", "plain", "--json")
    assert result.code == 0, result.stderr
    json.loads(result.stdout)
    lines = plain_lines(result.stderr)
    assert lines[-1]["desc"] == "analyze tilt-sweep" and (lines[-1]["done"], lines[-1]["unit"]) == ("3", "fits")


def test_cli_bad_progress_mode_is_one_line(cli):
    result = cli("attack", "--plugin", "fgsm", "--progress", "loud")
    assert result.code == 2 and "loud" in result.stderr and "Traceback" not in result.stderr
