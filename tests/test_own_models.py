"""The user's own `file.py:func` networks: trained checkpoints load back (plain keys, the code's sha256),
and shape or label mistakes end in one clear line."""

import json
import shutil

import numpy as np
import pytest
import torch

MODELS = """\
from torch import nn


def net():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def rgb():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 10))


def five():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 5))
"""


@pytest.fixture
def mymodels(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodels.py").write_text(MODELS)
    return tmp_path / "mymodels.py"


def one_line_error(out, code, *fragments):
    lines = [line for line in out.stderr.splitlines() if line.strip() and not line.startswith("advkit: warning")]
    assert out.code == code, (out.code, out.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _train(cli, spec, out, *extra):
    return cli("train", "--model", spec, "--epochs", "1", "--n", "200", "--out", out, *extra)


def test_a_trained_file_model_loads_back_with_plain_keys(cli, mymodels, tmp_path):
    import safetensors.torch

    trained = _train(cli, "mymodels.py:net", "m.safetensors")
    assert trained.code == 0, trained.stderr
    # the user's own load_state_dict works: no `net.` prefix
    import importlib.util

    spec = importlib.util.spec_from_file_location("mymodels_check", mymodels)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    state = safetensors.torch.load_file(str(tmp_path / "m.safetensors"))
    assert not any(k.startswith("net.") for k in state)
    mine = module.net()
    mine.load_state_dict(state)
    # and advkit loads it back, with the same outputs
    from advkit import load_model

    model = load_model(str(tmp_path / "m.safetensors"))
    x = torch.rand(3, 1, 8, 8)
    assert torch.allclose(model(x), mine(x))
    attacked = cli("attack", "--plugin", "fgsm", "--model", "m.safetensors", "--n", "8", "--json")
    assert attacked.code == 0, attacked.stderr
    assert json.loads(attacked.stdout)["model"] == "m.safetensors"


def test_the_file_moved_with_the_checkpoint_is_found_beside_it(cli, mymodels, tmp_path):
    assert _train(cli, "mymodels.py:net", "m.safetensors").code == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.move(str(tmp_path / "m.safetensors"), moved / "m.safetensors")
    shutil.move(str(mymodels), moved / "mymodels.py")
    from advkit import load_model

    assert load_model(str(moved / "m.safetensors")).num_classes == 10


def test_gone_or_changed_code_is_refused_with_one_line(cli, mymodels, tmp_path):
    assert _train(cli, "mymodels.py:net", "m.safetensors").code == 0
    marker = tmp_path / "ran"
    mymodels.write_text(MODELS + f"\nopen({str(marker)!r}, 'w').close()\n")
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "m.safetensors"), 1,
                   "saved from --model mymodels.py:net", "has changed since")
    assert not marker.exists()  # the changed code never ran
    mymodels.unlink()
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "m.safetensors"), 1, "is gone", "put the file back")


def test_checkpoints_of_the_previous_format_still_load(tmp_path):
    """Format 1 (advkit before plain keys) saved the Model's state: `net.`-prefixed keys and normalization buffers."""
    import safetensors.torch

    from advkit import load_model, save_model
    from advkit.models.checkpoints import read_metadata

    model = load_model("mlp:hidden=12", input_shape=(1, 8, 8), num_classes=10, mean=[0.5], std=[0.25])
    path = save_model(model, tmp_path / "new.safetensors")
    meta = read_metadata(path)
    assert meta["format"] == 2
    old = tmp_path / "old.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(old),
                                metadata={"advkit": json.dumps({**meta, "format": 1})})
    assert any(k.startswith("net.") for k in safetensors.torch.load_file(str(old)))
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(load_model(str(old))(x), model(x))
    assert torch.equal(load_model(str(path))(x), model(x))


def _npz(path, x, y):
    np.savez(path, x=x, y=y)
    return path


def test_channels_last_arrays_are_named(cli, mymodels, tmp_path):
    rng = np.random.default_rng(0)
    path = _npz(tmp_path / "nhwc.npz", rng.integers(0, 255, (12, 8, 8, 3), dtype=np.uint8), np.arange(12) % 10)
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "mymodels.py:rgb", "--data", path), 1,
                   "channels-last", "np.transpose(x, (0, 3, 1, 2))")


def test_one_channel_data_into_a_three_channel_net(cli, mymodels):
    for command in (("attack", "--plugin", "fgsm"), ("train", "--out", "x.safetensors")):
        one_line_error(cli(*command, "--model", "mymodels.py:rgb"), 1,
                       "takes 3-channel images", "Conv2d(3, ...)", "the data has 1 channel(s)")


def test_labels_beyond_the_nets_outputs(cli, mymodels, tmp_path):
    # digits has 10 class names: the 5 outputs are refused when the model is built
    one_line_error(cli("train", "--model", "mymodels.py:five", "--out", "x.safetensors"), 1, "outputs 5 classes")
    # an .npz has no class names: its labels are checked against the 5 outputs
    x = np.random.default_rng(0).random((12, 8, 8)).astype(np.float32)
    path = _npz(tmp_path / "d.npz", x, np.arange(12) % 10)
    for command in (("attack", "--plugin", "fgsm"), ("train", "--out", "x.safetensors")):
        one_line_error(cli(*command, "--model", "mymodels.py:five", "--data", path), 1,
                       "label 9 is not below the model's 5 classes")


def test_a_python_file_without_func_names_its_functions(cli, mymodels):
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "mymodels.py"), 2,
                   "names a Python file", "mymodels.py:net", "net, rgb, five")
