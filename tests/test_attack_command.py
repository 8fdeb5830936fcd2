"""`advkit attack` on the embedded default and with explicit models, data and options."""

import json

import numpy as np


def test_default_job_json(cli):
    out = cli("attack", "--plugin", "pgd", "--json")
    assert out.code == 0, out.stderr
    r = json.loads(out.stdout)
    for key in ("attack", "plugin", "params", "n", "clean_accuracy", "robust_accuracy", "success_rate",
                "perturbation", "seconds", "seed", "device", "versions"):
        assert key in r
    assert r["attack"] == "torchattacks.pgd" and r["plugin"] == "torchattacks"
    assert r["params"]["steps"] == 100 and abs(r["params"]["eps"] - 8 / 255) < 1e-12
    assert r["clean_accuracy"] > 0.9
    assert r["robust_accuracy"] < r["clean_accuracy"]
    assert r["perturbation"]["linf_max"] <= 8 / 255 + 1e-6
    assert {"advkit", "torch", "plugins"} <= set(r["versions"])


def test_table_output_and_result_files(cli, tmp_path):
    out = cli("attack", "--plugin", "fgsm", "--eps", "0.2", "--n", "40", "--out", tmp_path)
    assert out.code == 0, out.stderr
    assert "robust accuracy" in out.stdout and "clean accuracy" in out.stdout
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["n"] == 40 and saved["params"]["eps"] == 0.2
    arrays = np.load(tmp_path / "adversarial.npz")
    assert arrays["x_adv"].shape == (40, 1, 8, 8)
    assert set(arrays.files) == {"x_adv", "y", "pred_clean", "pred_adv"}
    assert (tmp_path / "examples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_stronger_attack_succeeds_more(cli):
    weak = json.loads(cli("attack", "--plugin", "pgd", "--eps", "0.02", "--json").stdout)
    strong = json.loads(cli("attack", "--plugin", "pgd", "--eps", "0.2", "-p", "alpha=0.05", "--json").stdout)
    assert strong["success_rate"] > weak["success_rate"]
    assert strong["success_rate"] > 0.5


def test_eps_zero_gives_clean_accuracy(cli):
    r = json.loads(cli("attack", "--plugin", "pgd", "--eps", "0", "--json").stdout)
    assert r["robust_accuracy"] == r["clean_accuracy"]


def test_targeted_next_class(cli):
    r = json.loads(cli("attack", "--plugin", "pgd", "--eps", "0.3", "--steps", "20", "-p", "alpha=0.05",
                       "--targeted", "next", "--n", "60", "--json").stdout)
    assert r["targeted"] and r["target_mode"] == "next"
    assert r["success_rate"] > 0.5


def test_same_seed_same_result(cli):
    a = json.loads(cli("attack", "--plugin", "pgd", "--n", "50", "--seed", "3", "--json").stdout)
    b = json.loads(cli("attack", "--plugin", "pgd", "--n", "50", "--seed", "3", "--json").stdout)
    assert a["robust_accuracy"] == b["robust_accuracy"]
    assert a["perturbation"]["l2_mean"] == b["perturbation"]["l2_mean"]


def test_trained_checkpoint_and_normalization(cli, tmp_path):
    ckpt = tmp_path / "mlp.safetensors"
    out = cli("train", "--model", "mlp:hidden=32", "--epochs", "8", "--mean", "0.3", "--std", "0.4",
              "--out", ckpt, "--json")
    assert out.code == 0, out.stderr
    trained = json.loads(out.stdout)
    assert trained["test_accuracy"] > 0.7
    r = json.loads(cli("attack", "--plugin", "fgsm", "--model", ckpt, "--eps", "0.1", "--json").stdout)
    assert r["clean_accuracy"] == trained["test_accuracy"]
    assert r["robust_accuracy"] < r["clean_accuracy"]


def test_batch_size_does_not_change_results(cli):
    a = json.loads(cli("attack", "--plugin", "fgsm", "--batch-size", "7", "--n", "30", "--json").stdout)
    b = json.loads(cli("attack", "--plugin", "fgsm", "--batch-size", "256", "--n", "30", "--json").stdout)
    assert a["robust_accuracy"] == b["robust_accuracy"]


def test_targeted_success_ignores_samples_already_at_their_target(cli):
    r = json.loads(cli("attack", "--plugin", "pgd", "--eps", "0", "--targeted", "3", "--n", "80", "--json").stdout)
    assert r["success_rate"] == 0.0


def test_result_files_are_readable_by_others(cli, tmp_path):
    import os
    import stat

    assert cli("attack", "--plugin", "fgsm", "--n", "4", "--out", tmp_path).code == 0
    mask = os.umask(0)
    os.umask(mask)
    for name in ("result.json", "adversarial.npz", "examples.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask
