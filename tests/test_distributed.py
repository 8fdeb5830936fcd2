"""torchrun: 2 gloo ranks on CPU over loopback give the single-process answers; faults end the run with one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from advkit import distributed

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")

TIMEOUT = 20  # ADVKIT_DIST_TIMEOUT for these runs: a broken run must end well inside it


def env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "ADVKIT_DIST_TIMEOUT": str(TIMEOUT), "CUDA_VISIBLE_DEVICES": ""}


def torchrun(*args, cwd, nproc: int = 2, launcher=("--standalone",), timeout: int = 120):
    """`torchrun LAUNCHER --nproc_per_node=NPROC -m advkit ARGS` (or a script when args[0] ends in .py)."""
    target = ["-m", "advkit", *args] if not str(args[0]).endswith(".py") else list(args)
    command = [sys.executable, "-m", "torch.distributed.run", *launcher, f"--nproc_per_node={nproc}", *target]
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_are_contiguous_without_padding():
    assert [len(distributed.shard(101, r, 2)) for r in range(2)] == [51, 50]
    for n in (0, 1, 5, 101, 360):
        for world in (1, 2, 3, 8):
            parts = [distributed.shard(n, r, world) for r in range(world)]
            assert [i for p in parts for i in p] == list(range(n))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_outside_torchrun_nothing_changes(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed.session():
        assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
        assert distributed.label() == "" and distributed.describe() == {}
        t = torch.arange(5)
        assert distributed.gather_rows(t) is t and distributed.gather_json({"a": 1}) == [{"a": 1}]
    assert not torch.distributed.is_initialized()


def test_a_bad_timeout_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(distributed.TIMEOUT_ENV, "soon")
    with pytest.raises(distributed.UsageError, match="ADVKIT_DIST_TIMEOUT must be a number of seconds"):
        distributed.timeout()


ATTACK = ("attack", "--plugin", "pgd", "-p", "random_start=false", "-n", "101", "--progress", "none")


def single_attack(tmp_path) -> dict:
    from advkit.workflows.from_specs import attack_from_specs

    attack_from_specs("pgd", n=101, params={"random_start": "false"}, out=tmp_path / "single", progress="none")
    return dict(np.load(tmp_path / "single" / "adversarial.npz"))


@pytest.mark.slow
def test_sharded_attack_writes_the_single_process_npz_once(tmp_path):
    run = torchrun(*ATTACK, "--out", tmp_path / "two", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads(run.stdout)  # rank 0 alone printed: one JSON object
    assert summary["n"] == 101 and summary["distributed"]["world_size"] == 2
    two, single = dict(np.load(tmp_path / "two" / "adversarial.npz")), single_attack(tmp_path)
    assert sorted(two) == sorted(single)
    for key in single:
        assert np.array_equal(two[key], single[key]), key
    assert run.stderr.count("wrote ") == 1


@pytest.mark.slow
def test_two_nodes_over_loopback_give_the_same_npz(tmp_path):
    port = free_port()
    launcher = lambda rank: ("--nnodes=2", f"--node-rank={rank}", "--rdzv-backend=c10d",
                             f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=advkit-test")
    args = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "-m", "advkit", *ATTACK]
    nodes = [subprocess.Popen([*args[:3], *launcher(r), *args[3:], "--out", str(tmp_path / "two")], cwd=tmp_path,
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    results = [node.communicate(timeout=120) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], [err[-1500:] for _, err in results]
    two, single = dict(np.load(tmp_path / "two" / "adversarial.npz")), single_attack(tmp_path)
    assert all(np.array_equal(two[k], single[k]) for k in single)


def untimed(value):
    """`value` without wall-clock facts (seconds, start time, samples per second)."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in ("seconds", "started", "samples_per_second")}
    return [untimed(v) for v in value] if isinstance(value, list) else value


@pytest.mark.slow
def test_sharded_evaluate_gives_the_single_process_summary_for_n_101(tmp_path):
    from advkit.workflows.from_specs import evaluate_from_specs

    suite, eps = "fgsm,pgd:random_start=false,steps=5", "0.05,0.1,0.2"
    run = torchrun("evaluate", "--attacks", suite, "--eps", eps, "-n", "101", "--out", tmp_path / "two",
                   "--progress", "none", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    _, single = evaluate_from_specs(n=101, attacks=suite, eps=[0.05, 0.1, 0.2], progress="none")
    from advkit.reporting.files import to_jsonable

    two, single = json.loads(run.stdout), json.loads(json.dumps(to_jsonable(single)))
    assert two["n"] == 101 and two["worst_case"] == single["worst_case"] and len(two["per_attack"]) == 2
    assert untimed(two) == untimed(single)  # worst case, per-attack counts, warnings, sanity checks, cost counts
    assert (tmp_path / "two" / "result.json").is_file() and (tmp_path / "two" / "evaluate_state.rank1.pt").is_file()


TRAIN_SCRIPT = '''
import json, sys, torch
import advkit
from advkit.seeding import seed_everything
from advkit import distributed
from advkit.data.dataset import load_data
from advkit.models.load import load_model
from advkit.training.loop import TrainConfig, train, weights_digest

with distributed.session():
    data, test = load_data("digits", split="train"), load_data("digits", split="test")
    config = TrainConfig(epochs=3, lr=3e-3, batch_size=32, seed=0)
    out = {}
    for kind in ("plain", "adversarial"):
        seed_everything(0)
        model = load_model("mlp", input_shape=data.input_shape, num_classes=data.num_classes)
        seen, per_epoch = [], -(-len(data) // distributed.world_size() // config.batch_size)
        attack = advkit.make_attack("fgsm", model, eps=0.1)[0]
        loss = advkit.AdversarialLoss(attack, alpha=0.5) if kind == "adversarial" else None

        def recording(net, x, y, loss=loss, seen=seen, model=model):
            if len(seen) % per_epoch == 0:
                seen.append(weights_digest(model))  # the weights after the previous epoch
            else:
                seen.append(None)
            return loss(net, x, y) if loss else torch.nn.functional.cross_entropy(net(x), y)

        train(model, data.x, data.y, config, loss_fn=recording, progress=False)
        robust = advkit.attack("fgsm", model, test.x, test.y, eps=0.1).robust_accuracy
        out[kind] = {"digests": [d for d in seen if d] + [weights_digest(model)], "robust": robust}
    with open(f"rank{distributed.rank()}.json", "w") as f:
        json.dump(out, f)
'''


@pytest.mark.slow
def test_ddp_adversarial_training_keeps_ranks_identical_and_raises_robustness(tmp_path):
    (tmp_path / "script.py").write_text(TRAIN_SCRIPT)
    run = torchrun("script.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for kind in ("plain", "adversarial"):
        assert len(ranks[0][kind]["digests"]) == 4  # initial weights and after each of 3 epochs
        assert ranks[0][kind]["digests"] == ranks[1][kind]["digests"]
        assert len(set(ranks[0][kind]["digests"])) == 4  # the weights did change every epoch
    assert ranks[0]["adversarial"]["robust"] > ranks[0]["plain"]["robust"] + 0.1


KILLER = '''
import os, signal
from pathlib import Path
import torch

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(),
                                        torch.nn.Linear(32, 10))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        marker = Path(os.environ["KILL_MARKER"])
        if self.training and os.environ.get("RANK") == "1" and self.calls == 40 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)  # rank 1 dies in epoch 2 (23 batches of 32 per epoch)
        return self.body(x)

def net():
    return Net()
'''


@pytest.mark.slow
def test_resume_after_a_killed_rank_gives_the_uninterrupted_weights(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    (tmp_path / "killer.py").write_text(KILLER)
    train = ("train", "--model", "killer.py:net", "--epochs", "3", "--batch-size", "32", "--progress", "none")
    monkeypatch.setenv("KILL_MARKER", str(tmp_path / "never"))
    (tmp_path / "never").touch()  # the marker exists: nobody is killed
    whole = torchrun(*train, "--out", "whole.safetensors", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    monkeypatch.setenv("KILL_MARKER", str(tmp_path / "killed"))
    started = time.monotonic()
    killed = torchrun(*train, "--out", "cut.safetensors", cwd=tmp_path)
    assert killed.returncode != 0 and (tmp_path / "killed").exists()
    assert time.monotonic() - started < TIMEOUT + 30
    assert (tmp_path / "cut.safetensors.resume.pt").is_file() and not (tmp_path / "cut.safetensors").exists()
    resumed = torchrun(*train, "--out", "cut.safetensors", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = load_file(tmp_path / "whole.safetensors"), load_file(tmp_path / "cut.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_rank_that_raises_ends_the_run_with_one_line_naming_it(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import os, torch\n"
        "def net():\n"
        "    if os.environ['RANK'] == '1':\n"
        "        raise ValueError('rank one cannot build its network')\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))\n")
    started = time.monotonic()
    run = torchrun("train", "--model", "bad.py:net", "--epochs", "2", "--out", "m.safetensors", "--progress", "none",
                   cwd=tmp_path)
    assert run.returncode != 0 and time.monotonic() - started < TIMEOUT + 30
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert errors and errors[0].startswith("error: rank 1 of 2: ") and "rank one cannot build" in errors[0]
    assert not (tmp_path / "m.safetensors").exists()
