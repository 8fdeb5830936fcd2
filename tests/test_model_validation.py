"""Checkpoint metadata is checked before anything is built; bad weights and outputs get clear errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest
import torch

from advkit import ModelError, load_model, save_model


def _checkpoint(tmp_path, name="m.safetensors", **changes):
    """A tiny linear checkpoint (1 x 2 x 2 inputs, 2 classes: a few hundred bytes) with metadata `changes`."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = tmp_path / name
    save_model(load_model("linear", input_shape=(1, 2, 2), num_classes=2), path)
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["advkit"])
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    for key, value in changes.items():
        if key == "state":
            state = value(state)
        else:
            meta[key] = value
    save_file(state, str(path), metadata={"advkit": json.dumps(meta)})
    return path


@pytest.mark.parametrize(("classes", "message"), [(10_000_000, "num_classes must be an integer from 1 to 1,000,000"),
                                                  (900_000, "do not fit its metadata")])
def test_metadata_claiming_millions_of_classes_allocates_nothing(tmp_path, classes, message):
    """The issue's 596-byte file: 10,000,000 classes of a linear model on 8x8 inputs would be 2.6 GB
    (refused by the limit); 900,000 classes, within it, 230 MB (refused by the tensors' own shapes)."""
    path = _checkpoint(tmp_path, input_shape=[1, 8, 8], num_classes=classes)
    assert path.stat().st_size < 1000
    script = textwrap.dedent(f"""
        import resource, sys
        import advkit, torch
        from advkit.errors import ModelError
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            advkit.load_model({str(path)!r})
        except ModelError as exc:
            print("ERROR", exc)
        print("GROWTH_MB", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert "ERROR" in out.stdout and message in out.stdout, out.stdout + out.stderr
    growth = float(out.stdout.split("GROWTH_MB")[1])
    assert growth < 100, f"loading grew the process by {growth:.0f} MB"


BAD_METADATA = [
    ({"num_classes": "10"}, "num_classes must be an integer"),
    ({"num_classes": 0}, "num_classes must be an integer"),
    ({"num_classes": 10**12}, "num_classes must be an integer"),
    ({"num_classes": True}, "num_classes must be an integer"),
    ({"input_shape": [1, 0, 2]}, "input_shape must be"),
    ({"input_shape": "1x2x2"}, "input_shape must be"),
    ({"input_shape": [1, 1, 1, 1, 1]}, "input_shape must be"),
    ({"input_shape": [3, 60000, 60000]}, "values per input"),
    ({"bounds": [1.0, 0.0]}, "bounds must be two finite numbers"),
    ({"bounds": [0.0, math.inf]}, "bounds must be two finite numbers"),
    ({"bounds": "0,1"}, "bounds must be two finite numbers"),
    ({"mean": [0.1, 0.2]}, "mean must be 1 or 1 finite numbers"),
    ({"std": [0.0]}, "std must be positive"),
    ({"std": ["x"]}, "std must be 1 or 1 finite"),
    ({"class_names": ["a", "b", "c"]}, "3 class names for 2 classes"),
    ({"class_names": [1, 2]}, "class_names must be a list of names"),
    ({"spec": {"architecture": 5}}, "architecture must be a name"),
    ({"spec": {"architecture": "mlp", "params": {"hidden": {"x": 1}}}}, "not a number, text or list"),
    ({"spec": {"architecture": "mlp", "params": {"hidden": "100000000-2"}}}, "out of range"),
    ({"spec": "linear"}, "spec is a str"),
    ({"spec": {"architecture": "mlp", "params": {"hidden": "5000-5000"}}}, "missing"),
    ({"num_classes": 3}, "do not fit its metadata"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_METADATA, ids=[m for _, m in BAD_METADATA])
def test_bad_metadata_is_named_without_cli_options(tmp_path, changes, message):
    path = _checkpoint(tmp_path, **changes)
    with pytest.raises(ModelError, match=message) as info:
        load_model(str(path))
    assert str(path) in str(info.value)
    assert "--" not in str(info.value)  # the user passed no option: the checkpoint's own values are named


def test_nan_weights_in_a_checkpoint(tmp_path):
    def poison(state):
        state["fc.weight"][0, 0] = float("nan")
        return state

    with pytest.raises(ModelError, match="'fc.weight' holds NaN or Inf"):
        load_model(str(_checkpoint(tmp_path, state=poison)))


def test_float64_and_float16_checkpoints_load_as_float32(tmp_path, capsys):
    for dtype in (torch.float64, torch.float16):
        path = _checkpoint(tmp_path, f"{dtype}.safetensors", state=lambda s, d=dtype: {k: v.to(d) for k, v in s.items()})
        model = load_model(str(path))
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert f"{str(dtype)[6:]} weights; loaded as float32" in capsys.readouterr().err


def _factory(tmp_path, body: str) -> str:
    (tmp_path / "net.py").write_text("import torch\nfrom torch import nn\n\n" + textwrap.dedent(body))
    return f"{tmp_path / 'net.py'}:build"


DIGITS = {"input_shape": (1, 8, 8), "num_classes": 10, "class_names": [str(i) for i in range(10)]}

BAD_MODELS = [
    ("def build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 12))\n", "outputs 12 classes, but the data has 10"),
    ("class Two(nn.Module):\n    def forward(self, x):\n        return x.flatten(1)[:, :10], x\n"
     "def build():\n    return Two()\n", "returned a tuple, not a tensor of logits"),
    ("class Nan(nn.Module):\n    def forward(self, x):\n        return x.flatten(1)[:, :10] * float('nan')\n"
     "def build():\n    return Nan()\n", "outputs NaN or Inf"),
    ("def build():\n    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
     "    with torch.no_grad():\n        net[1].weight[0, 0] = float('inf')\n    return net\n", "holds NaN or Inf"),
    ("class Bad(nn.Module):\n    def forward(self, x):\n        raise ValueError('cannot run\\non two lines')\n"
     "def build():\n    return Bad()\n", "ValueError: cannot run"),
    ("class Sum(nn.Module):\n    def forward(self, x):\n        return x.flatten(1).sum(1)\n"
     "def build():\n    return Sum()\n", "must return logits of shape (N, classes)"),
]


@pytest.mark.parametrize(("body", "message"), BAD_MODELS, ids=[m for _, m in BAD_MODELS])
def test_bad_models_get_clear_errors(tmp_path, body, message):
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load_model(_factory(tmp_path, body), **DIGITS)


def test_float64_factory_model_is_converted_with_a_note(tmp_path, capsys):
    spec = _factory(tmp_path, "def build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).double()\n")
    model = load_model(spec, **DIGITS)
    assert next(model.parameters()).dtype == torch.float32
    assert model(torch.rand(3, 1, 8, 8)).shape == (3, 10)
    assert "float64 weights; converted to float32" in capsys.readouterr().err


def test_a_wider_factory_model_keeps_its_width_when_the_data_names_no_classes(tmp_path):
    spec = _factory(tmp_path, "def build():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n")
    assert load_model(spec, input_shape=(1, 8, 8), num_classes=4).num_classes == 10  # labels 0-3 of 10 classes
