"""Every result file carries the same provenance envelope, built by `advkit.reporting.provenance.envelope`."""

import json

from advkit.reporting.provenance import envelope

ENVELOPE = {"seed", "device", "versions"}


def _check(summary: dict, seed: int) -> dict:
    assert ENVELOPE <= set(summary)
    assert summary["seed"] == seed and isinstance(summary["device"], str) and summary["device"]
    assert {"advkit", "torch", "torchattacks", "art", "plugins"} <= set(summary["versions"])
    assert summary["versions"]["advkit"] and summary["versions"]["torch"]
    return summary


def test_envelope_keys_and_order():
    built = envelope(plugins=["torchattacks"], seed=3, device="cpu", params={"eps": 0.1}, started="now")
    assert list(built) == ["params", "started", "seed", "device", "versions"]
    assert built["versions"]["plugins"] == {"torchattacks": built["versions"]["plugins"]["torchattacks"]}
    assert "params" not in envelope(plugins=[], seed=0, device=None)


def test_attack_evaluate_and_defend_files_carry_the_same_envelope(cli, tmp_path):
    attacked = cli("attack", "--plugin", "fgsm", "--n", "30", "--seed", "2", "--out", tmp_path / "attack")
    assert attacked.code == 0, attacked.stderr
    evaluated = cli("evaluate", "--n", "30", "--seed", "2", "--attacks", "fgsm", "--eps", "0,0.1", "--probe", "8",
                    "--out", tmp_path / "evaluate")
    assert evaluated.code == 0, evaluated.stderr
    defended = cli("defend", "--plugin", "adversarial-training", "--model", "mlp", "--n", "200", "--epochs", "1",
                   "--seed", "2", "-p", "eps=0.1", "--eval-param", "steps=2", "--eval-n", "30",
                   "--out", tmp_path / "model.safetensors")
    assert defended.code == 0, defended.stderr
    files = [tmp_path / "attack" / "result.json", tmp_path / "evaluate" / "result.json", tmp_path / "model.json"]
    summaries = [_check(json.loads(path.read_text()), seed=2) for path in files]
    assert len({frozenset(s["versions"]) for s in summaries}) == 1  # the same version keys everywhere
    assert all("params" in s for s in summaries)
    assert summaries[0]["versions"]["plugins"].keys() == {"torchattacks"}
