"""`advkit defend` and the defense runner: summary, checkpoints, exact resume, clear errors."""

import json
import re
import subprocess
import sys

import pytest
import torch

import advkit
from advkit.training.defense import TrainingStopped
from advkit.training.loop import TrainConfig

CONFIG = TrainConfig(epochs=3, lr=1e-2, batch_size=128, seed=3)


@pytest.fixture(scope="module")
def small(digits_train):
    return digits_train.subset(range(512))


def _mlp(data):
    torch.manual_seed(0)
    return advkit.load_model("mlp", input_shape=data.input_shape, num_classes=10)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_cli_defends_saves_and_reports(cli, tmp_path):
    out = tmp_path / "defended.safetensors"
    result = cli("defend", "--plugin", "adversarial-training", "--model", "mlp", "--n", "400", "--epochs", "2",
                 "--lr", "0.01", "-p", "eps=0.1", "--eval-param", "steps=3", "--eval-n", "100", "--out", out, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary == json.loads(out.with_suffix(".json").read_text())
    assert summary["model"] == {"architecture": "mlp", "params": {"hidden": "100-100", "activation": "relu"}}
    assert summary["defense"] == "advtrain.adversarial-training" and summary["params"]["eps"] == 0.1
    assert summary["eval"]["attack"] == "torchattacks.apgd" and summary["eval"]["n"] == 100  # APGD-CE by default
    assert {k: summary["eval"]["params"][k] for k in ("eps", "steps", "loss")} == {"eps": 0.1, "steps": 3, "loss": "ce"}
    for key in ("clean_accuracy", "robust_accuracy", "logit_l1_mean", "zero_gradient_share"):
        assert 0 <= summary["before"][key] and 0 <= summary["after"][key]
    assert summary["after"]["clean_accuracy"] > summary["before"]["clean_accuracy"]
    assert {"seconds", "seed", "device", "versions", "config"} <= set(summary)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["defended.json", "defended.safetensors"]
    model = advkit.load_model(str(out))
    assert model.spec["defended"]["defense"] == "advtrain.adversarial-training"
    attacked = cli("attack", "--plugin", "fgsm", "--model", out, "--n", "50", "--json")
    assert attacked.code == 0, attacked.stderr


def test_cli_table_output(cli, tmp_path):
    result = cli("defend", "--plugin", "sat", "--model", "mlp", "--n", "300", "--epochs", "1", "--eval-n", "50",
                 "--out", tmp_path / "sat.pt")
    assert result.code == 0, result.stderr
    assert "clean accuracy" in result.stdout and "->" in result.stdout and "saved" in result.stderr


@pytest.mark.parametrize("name, params", [("adversarial-training", {}), ("distillation", {"temperature": 10})])
def test_resume_gives_the_weights_of_an_uninterrupted_run(name, params, small, tmp_path):
    run = dict(params=params, config=CONFIG, eval_attack="fgsm")
    whole, _ = advkit.defend(name, _mlp(small), small, out=tmp_path / "whole.pt", **run)
    out = tmp_path / "resumed.pt"
    with pytest.raises(TrainingStopped):
        advkit.defend(name, _mlp(small), small, out=out, stop_after=1, **run)
    assert any(p.name.endswith(".resume.pt") for p in tmp_path.iterdir())
    resumed, _ = advkit.defend(name, _mlp(small), small, out=out, resume=True, **run)
    expected = _weights(whole)
    assert all(torch.equal(expected[k], v) for k, v in resumed.state_dict().items())
    assert not any(p.name.endswith(".resume.pt") for p in tmp_path.iterdir())


def test_resume_refuses_a_different_run(small, tmp_path):
    out = tmp_path / "m.pt"
    with pytest.raises(TrainingStopped):
        advkit.defend("distillation", _mlp(small), small, params={"temperature": 10}, config=CONFIG, out=out,
                      stop_after=1, eval_attack="fgsm")
    with pytest.raises(advkit.UsageError, match="different run"):
        advkit.defend("distillation", _mlp(small), small, params={"temperature": 20}, config=CONFIG, out=out,
                      resume=True)


@pytest.mark.parametrize("args, message", [
    (["--plugin", "distilation"], "unknown defense 'distilation'; did you mean"),
    (["--plugin", "distillation", "-p", "temperature=-1"], "temperature must be > 0"),
    (["--plugin", "sat", "-p", "activation=swishy"], "valid: "),
    (["--plugin", "adversarial-training", "-p", "alpha=2"], r"alpha .* must be in \[0, 1\]"),
    (["--plugin", "sat", "--eval-n", "0"], "--eval-n must be at least 1"),
    (["--plugin", "sat", "--epochs", "-1"], "--epochs must be >= 0"),
    (["--plugin", "sat", "--eval-attack", "pgdd"], "unknown attack 'pgdd'"),
    (["--plugin", "sat", "--out", "d2.json"], r"^error: --out is the model checkpoint; use \.safetensors or \.pt"),
])
def test_bad_input_is_one_clear_line(cli, tmp_path, args, message):
    result = cli("defend", "--model", "mlp", "--out", tmp_path / "x.pt", *args)
    assert result.code == 2
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["-p", "attack_params=stepz=3"], ["--eval-param", "stepz=3"]])
def test_a_failed_run_leaves_no_files(cli, tmp_path, args):
    result = cli("defend", "--plugin", "adversarial-training", "--model", "mlp", "--n", "100", "--epochs", "1",
                 "--eval-n", "20", "--out", tmp_path / "x.pt", *args)
    assert result.code == 2 and "no parameter 'stepz'" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_eval_attack_without_eps_gets_none(cli, tmp_path):
    result = cli("defend", "--plugin", "adversarial-training", "--model", "mlp", "--n", "100", "--epochs", "1",
                 "--eval-attack", "cw", "--eval-param", "steps=2", "--eval-n", "20", "--out", tmp_path / "x.pt",
                 "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["eval"]["attack"] == "torchattacks.cw" and "eps" not in summary["eval"]["params"]
    assert summary["eval_on_training_data"] is False


def test_data_without_test_split_warns_and_says_so(cli, tmp_path, digits_train):
    import numpy as np

    data = tmp_path / "d.npz"
    np.savez(data, x=digits_train.x[:150].numpy(), y=digits_train.y[:150].numpy())
    result = cli("defend", "--plugin", "adversarial-training", "--model", "mlp", "--data", data, "--n", "100",
                 "--epochs", "1", "--eval-attack", "fgsm", "--eval-n", "50", "--out", tmp_path / "x.pt", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["eval_on_training_data"] is True
    assert "no test split" in result.stderr and "training data" in result.stderr


def test_resume_refuses_different_data(small, tmp_path):
    out = tmp_path / "m.pt"
    run = dict(params={"temperature": 10}, config=CONFIG, out=out, eval_attack="fgsm")
    with pytest.raises(TrainingStopped):
        advkit.defend("distillation", _mlp(small), small, stop_after=1, **run)
    with pytest.raises(advkit.UsageError, match=r"different run \(data differ\)"):
        advkit.defend("distillation", _mlp(small), small.subset(range(256)), resume=True, **run)


def test_resume_into_a_model_of_another_architecture_is_a_usage_error(small, tmp_path):
    defense, _, _ = advkit.make_defense("distillation", temperature=10)
    defense.config, defense.checkpoint, defense.stop_after = CONFIG, tmp_path / "m.pt", 1
    with pytest.raises(TrainingStopped):
        defense.apply(_mlp(small), small)
    defense.resume = True
    other = advkit.load_model("mlp:hidden=20", input_shape=small.input_shape, num_classes=10)
    with pytest.raises(advkit.UsageError, match="the architecture differs.*drop --resume"):
        defense.apply(other, small)


def test_resume_without_state_starts_fresh(cli, tmp_path):
    result = cli("defend", "--plugin", "sat", "--model", "mlp", "--epochs", "1", "--out", tmp_path / "x.pt",
                 "--resume", "--eval-n", "20")
    assert result.code == 0, result.stderr
    assert (tmp_path / "x.pt").is_file()


def test_help_and_listing_stay_torch_free(tmp_path):
    code = ("import sys; from advkit.cli.main import main; main(['list', 'defenses']); main(['list', 'activations']); "
            "main(['defend', '--help']); print('torch' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert "sat.sat" in done.stdout and "sat.psoftplus" in done.stdout and "--eval-attack" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "False"
