"""The training loop: learns, checkpoints every epoch, and resumes to identical weights."""

import json

import pytest
import torch

from advkit import TrainConfig, UsageError, load_model, train
from advkit.training.loop import evaluate_accuracy


def _model(seed=0):
    torch.manual_seed(seed)
    return load_model("mlp:hidden=16", input_shape=(1, 8, 8), num_classes=10)


def test_training_learns(digits_train, digits):
    model = _model()
    before = evaluate_accuracy(model, digits.x, digits.y)
    history = train(model, digits_train.x, digits_train.y, TrainConfig(epochs=5, lr=5e-3), progress=False)
    assert len(history) == 5 and history[-1]["loss"] < history[0]["loss"]
    assert evaluate_accuracy(model, digits.x, digits.y) > max(0.8, before)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_gives_identical_weights(tmp_path, digits_train, optimizer):
    config = TrainConfig(epochs=4, lr=1e-2, seed=7, optimizer=optimizer)
    full = _model()
    train(full, digits_train.x, digits_train.y, config, progress=False)
    resumed = _model()
    ckpt = tmp_path / "state.pt"
    train(resumed, digits_train.x, digits_train.y, config, checkpoint=ckpt, stop_after=2, progress=False)
    fresh = _model(seed=1)  # a new process would start from new weights: resume must overwrite them
    history = train(fresh, digits_train.x, digits_train.y, config, checkpoint=ckpt, resume=True, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
    for a, b in zip(full.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_refuses_a_different_run(tmp_path, digits_train):
    ckpt = tmp_path / "state.pt"
    train(_model(), digits_train.x, digits_train.y, TrainConfig(epochs=2), checkpoint=ckpt, stop_after=1,
          progress=False)
    with pytest.raises(UsageError, match="different run"):
        train(_model(), digits_train.x, digits_train.y, TrainConfig(epochs=2, lr=0.5), checkpoint=ckpt,
              resume=True, progress=False)
    with pytest.raises(UsageError, match="the data differs"):
        train(_model(), digits_train.x[:-1], digits_train.y[:-1], TrainConfig(epochs=2), checkpoint=ckpt,
              resume=True, progress=False)
    shuffled = digits_train.y.roll(1)
    with pytest.raises(UsageError, match="the data differs"):
        train(_model(), digits_train.x, shuffled, TrainConfig(epochs=2), checkpoint=ckpt, resume=True, progress=False)
    silu = load_model("mlp:hidden=16,activation=silu", input_shape=(1, 8, 8), num_classes=10)
    with pytest.raises(UsageError, match="the architecture differs"):  # same weight shapes, other activation
        train(silu, digits_train.x, digits_train.y, TrainConfig(epochs=2), checkpoint=ckpt, resume=True,
              progress=False)
    state = torch.load(ckpt, weights_only=True)
    torch.save({k: v for k, v in state.items() if k not in ("architecture", "data")}, ckpt)
    with pytest.raises(UsageError, match="no fingerprint.*older advkit"):
        train(_model(), digits_train.x, digits_train.y, TrainConfig(epochs=2), checkpoint=ckpt, resume=True,
              progress=False)
    with pytest.raises(UsageError, match="nothing to resume"):
        train(_model(), digits_train.x, digits_train.y, TrainConfig(), checkpoint=tmp_path / "none.pt",
              resume=True, progress=False)


@pytest.mark.parametrize("field,value", [("epochs", -1), ("lr", 0.0), ("batch_size", 0), ("weight_decay", -1.0),
                                         ("optimizer", "rmsprop")])
def test_bad_config(field, value):
    with pytest.raises(UsageError):
        TrainConfig(**{field: value}).check()


def test_train_command_resume(cli, tmp_path):
    out = tmp_path / "m.safetensors"
    args = ["train", "--model", "linear", "--epochs", "3", "--lr", "0.02", "--seed", "1", "--out", out, "--json"]
    first = json.loads(cli(*args).stdout)
    assert first["history"][-1]["epoch"] == 3 and not (tmp_path / "m.safetensors.resume.pt").exists()
    assert first["test_accuracy"] > 0.8
    again = cli("train", "--model", "linear", "--out", out, "--resume")
    assert again.code == 2 and "nothing to resume" in again.stderr
