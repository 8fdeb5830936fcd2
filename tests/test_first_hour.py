"""A newcomer's mistakes and surprises: runs that will not learn warn early, listings print one JSON
object, messages name only options that exist, eps beyond the bounds is refused, suggestions ignore
case, numbers are rounded and consistent, generated attack classes have real signatures."""

import inspect
import json

import pytest
import torch

import advkit


def _errors(out):
    return [line for line in out.stderr.splitlines() if line.startswith("error: ")]


# --- runs that will not learn ---------------------------------------------------------------------------------

class _Constant(torch.nn.Module):
    """Always class 0 (and one parameter, so the loop can build an optimizer)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(len(x), 10)
        out[:, 0] = 1.0
        return out + 0 * self.w


def test_accuracy_at_chance_after_epoch_one_warns_naming_lr(capsys):
    from advkit.training.loop import TrainConfig, chance_level, warn_if_at_chance

    y = torch.arange(100) % 10
    x = torch.rand(100, 1, 8, 8)
    assert chance_level(y) == pytest.approx(0.1)
    assert warn_if_at_chance(_Constant(), x, y, TrainConfig(lr=0.5), "train") == pytest.approx(0.1)
    err = capsys.readouterr().err
    assert "at chance" in err and "--lr" in err and "0.5" in err
    # a model that fits the labels: no warning
    perfect = torch.nn.Linear(1, 1)
    perfect.forward = lambda xb: torch.nn.functional.one_hot(torch.arange(len(xb)) % 10, 10).float()
    assert warn_if_at_chance(perfect, x, y, TrainConfig(), "train") == 1.0
    assert capsys.readouterr().err == ""


def test_train_with_a_hopeless_lr_warns_after_epoch_one(cli, tmp_path):
    out = cli("train", "--model", "cnn", "--lr", "0.5", "--epochs", "1", "--n", "256", "--out",
              tmp_path / "m.safetensors")
    assert out.code == 0, out.stderr
    assert "training accuracy after epoch 1" in out.stderr and "--lr (now 0.5)" in out.stderr


def test_distillation_at_high_temperature_with_a_low_lr_warns():
    from advkit_distillation.distillation import slow_learning_warning

    default = advkit.TrainConfig()
    assert "use --lr 0.01" in slow_learning_warning(100.0, default)  # the defend default: 52% for mlp on digits
    assert slow_learning_warning(100.0, advkit.TrainConfig(lr=0.01)) is None  # 92%
    assert slow_learning_warning(1.0, default) is None
    assert slow_learning_warning(100.0, advkit.TrainConfig(optimizer="sgd")) is None  # not measured


def test_defend_distillation_prints_the_warning(cli, tmp_path):
    out = cli("defend", "--plugin", "distillation", "--model", "linear", "-p", "teacher_epochs=0",
              "-p", "student_epochs=0", "--n", "32", "--eval-n", "16", "--eval-attack", "fgsm",
              "--out", tmp_path / "d.safetensors")
    assert out.code == 0, out.stderr
    assert "distillation at temperature 100 with --lr 0.001 learns slowly" in out.stderr


# --- listings -------------------------------------------------------------------------------------------------

def test_list_and_plugins_json_print_one_object(cli):
    listed = json.loads(cli("list", "attacks", "--json").stdout)
    assert isinstance(listed, dict) and list(listed) == ["attacks"]
    assert any(e["name"] == "torchattacks.pgd" for e in listed["attacks"])
    plugins = json.loads(cli("plugins", "--json").stdout)
    assert isinstance(plugins, dict) and {p["name"] for p in plugins["plugins"]} >= {"advkit", "torchattacks"}


# --- messages -------------------------------------------------------------------------------------------------

def test_interrupted_names_resume_only_where_it_exists():
    from advkit.cli.main import interrupted_message

    assert "--resume" not in interrupted_message(["attack", "--n", "5"])
    assert "--resume" in interrupted_message(["evaluate", "--out", "runs/e"])
    assert "--resume" in interrupted_message(["train", "--model", "cnn"])
    assert "--resume" in interrupted_message(["defend"])


def test_train_rerun_over_an_interrupted_run_is_refused(cli, tmp_path):
    out = tmp_path / "m.safetensors"
    (tmp_path / "m.safetensors.resume.pt").write_bytes(b"state")
    refused = cli("train", "--model", "linear", "--epochs", "1", "--n", "64", "--out", out)
    assert refused.code == 2 and _errors(refused) and "add --resume" in _errors(refused)[0]
    (tmp_path / "m.safetensors.resume.pt").unlink()
    assert cli("train", "--model", "linear", "--epochs", "1", "--n", "64", "--out", out).code == 0
    again = cli("train", "--model", "linear", "--epochs", "1", "--n", "64", "--out", out)
    assert again.code == 0 and "will be replaced" in again.stderr and f"--model {out}" in again.stderr


def test_unknown_names_get_case_insensitive_suggestions(cli):
    out = cli("attack", "--plugin", "PGD")
    assert out.code == 2 and "did you mean 'pgd'" in _errors(out)[0]


def test_evaluate_unknown_attack_hint_once(cli):
    out = cli("evaluate", "--attacks", "pgdd", "--n", "4")
    assert out.code == 2 and len(_errors(out)) == 1
    assert _errors(out)[0].count("advkit list attacks") == 1 and "did you mean 'pgd'" in _errors(out)[0]


# --- eps beyond the bounds ------------------------------------------------------------------------------------

def test_eps_larger_than_the_bounds_allow_is_refused(cli):
    model = advkit.load_model("linear", input_shape=(1, 8, 8), num_classes=10)
    x, y = torch.rand(4, 1, 8, 8), torch.arange(4)
    with pytest.raises(advkit.UsageError, match="larger than any Linf perturbation"):
        advkit.attack("pgd", model, x, y, eps=5)
    assert advkit.attack("fgsm", model, x, y, eps=1).n == 4  # the whole range is allowed
    with pytest.raises(advkit.UsageError, match=r"L2 perturbation .*at most 8\)"):  # sqrt(64) * (1 - 0)
        advkit.attack("torchattacks.pgdl2", model, x, y, eps=9)
    assert advkit.attack("torchattacks.pgdl2", model, x, y, eps=2, steps=1).n == 4
    out = cli("attack", "--plugin", "pgd", "--eps", "5", "--n", "4")
    assert out.code == 2 and "larger than any Linf perturbation" in _errors(out)[0]


# --- numbers --------------------------------------------------------------------------------------------------

def test_mean_perturbation_never_exceeds_the_max():
    from advkit.attacks.runner import _max, _mean

    for n in (7, 10, 1000, 12345):
        t = torch.full((n,), 0.1)
        assert float(t.mean()) > float(t.max()) or n == 0  # float32 rounding, the bug this guards
        assert _mean(t) <= _max(t)


def test_table_cells_round_floats_inside_lists():
    from advkit.reporting.text import cell

    assert cell([9.154867172241211, 8, None]) == "[9.155, 8, -]"
    assert cell((0.5,)) == "[0.5]"


def test_generated_attack_classes_have_real_signatures():
    sig = inspect.signature(advkit.get_attack("torchattacks.pgd"))
    assert list(sig.parameters)[:3] == ["model", "eps", "alpha"] and "params" not in sig.parameters
    assert sig.parameters["steps"].default == 100  # advkit's strong default, not torchattacks' 10
    assert "max_iter" in inspect.signature(advkit.get_attack("art.square")).parameters
