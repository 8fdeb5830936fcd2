"""Model specs: zoo, checkpoints (safetensors and .pt), TorchScript, file.py:func, module:func; normalization."""

import sys

import pytest
import torch

from advkit import ModelError, UsageError, load_model, save_model
from advkit.models.checkpoints import read_metadata

SHAPE, CLASSES = (1, 8, 8), 10


@pytest.mark.parametrize("arch", ["linear", "mlp", "lenet", "cnn", "mlp:hidden=16-8,activation=silu",
                                  "cnn:width=4,activation=gelu", "lenet:activation=elu"])
def test_zoo_builds_and_outputs_logits(arch):
    model = load_model(arch, input_shape=SHAPE, num_classes=CLASSES)
    assert model(torch.rand(3, *SHAPE)).shape == (3, CLASSES)
    assert model.bounds == (0.0, 1.0) and model.num_classes == CLASSES


def test_activation_parameter_changes_the_modules():
    model = load_model("cnn:activation=silu", input_shape=SHAPE, num_classes=CLASSES)
    assert any(isinstance(m, torch.nn.SiLU) for m in model.modules())
    assert not any(isinstance(m, torch.nn.ReLU) for m in model.modules())


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_checkpoint_round_trip_keeps_everything(tmp_path, suffix):
    model = load_model("mlp:hidden=12", input_shape=SHAPE, num_classes=CLASSES, mean=[0.5], std=[0.25],
                       bounds=(0.0, 1.0), class_names=list("abcdefghij"))
    path = save_model(model, tmp_path / f"m{suffix}")
    loaded = load_model(str(path))
    x = torch.rand(5, *SHAPE)
    assert torch.equal(model(x), loaded(x))
    assert loaded.mean == [0.5] and loaded.std == [0.25] and loaded.class_names == list("abcdefghij")
    assert read_metadata(path)["spec"]["params"] == {"hidden": "12", "activation": "relu"}


def test_normalization_is_folded_in():
    plain = load_model("linear", input_shape=SHAPE, num_classes=CLASSES)
    normed = load_model("linear", input_shape=SHAPE, num_classes=CLASSES, mean=[0.5], std=[2.0])
    normed.net.load_state_dict(plain.net.state_dict())
    x = torch.rand(4, *SHAPE)
    assert torch.allclose(normed(x), plain((x - 0.5) / 2.0))


def test_bounds_override_on_load(tmp_path):
    model = load_model("linear", input_shape=SHAPE, num_classes=CLASSES)
    path = save_model(model, tmp_path / "m.safetensors")
    assert load_model(str(path), bounds=(-1.0, 1.0)).bounds == (-1.0, 1.0)
    with pytest.raises(UsageError):
        load_model("linear", input_shape=SHAPE, num_classes=CLASSES, bounds=(1.0, 0.0))


def test_torchscript_file(tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    path = tmp_path / "net.ts"
    torch.jit.save(torch.jit.script(net), path)
    model = load_model(str(path), input_shape=SHAPE)
    x = torch.rand(2, *SHAPE)
    assert torch.allclose(model(x), net(x)) and model.num_classes == 10


def test_python_file_and_module_factories(tmp_path, monkeypatch):
    (tmp_path / "mynet.py").write_text(
        "import torch\n"
        "def build():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 7))\n"
        "def not_a_module():\n"
        "    return 42\n"
    )
    from_file = load_model(f"{tmp_path / 'mynet.py'}:build", input_shape=SHAPE)
    assert from_file.num_classes == 7
    monkeypatch.syspath_prepend(str(tmp_path))
    from_module = load_model("mynet:build", input_shape=SHAPE)
    x = torch.rand(2, *SHAPE)
    assert torch.equal(from_file(x), from_module(x))
    with pytest.raises(ModelError, match="not an nn.Module"):
        load_model(f"{tmp_path / 'mynet.py'}:not_a_module", input_shape=SHAPE)
    with pytest.raises(ModelError, match="no callable"):
        load_model(f"{tmp_path / 'mynet.py'}:missing", input_shape=SHAPE)
    sys.modules.pop("mynet", None)


def test_checkpoint_naming_code_is_refused(tmp_path):
    model = load_model("linear", input_shape=SHAPE, num_classes=CLASSES)
    model.spec = {"architecture": "os:system"}
    path = save_model(model, tmp_path / "m.safetensors")
    with pytest.raises(ModelError, match="never runs code"):
        load_model(str(path))


def test_weights_that_do_not_fit(tmp_path):
    model = load_model("mlp:hidden=12", input_shape=SHAPE, num_classes=CLASSES)
    path = save_model(model, tmp_path / "m.pt")
    blob = torch.load(path, weights_only=True)
    blob["advkit"]["spec"]["params"]["hidden"] = "13"
    torch.save(blob, path)
    with pytest.raises(ModelError, match="do not fit"):
        load_model(str(path))
