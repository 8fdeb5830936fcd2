"""torchvision, timm and RobustBench models as --model specs, loaded offline from the files their loaders read.

Each test builds the zoo's real architecture with random weights, saves it where (and as) the loader
looks for it, loads it back through advkit and compares its logits with the reference network fed
the zoo's own preprocessing. Skipped, with the reason, where torchvision, timm or robustbench cannot
be imported (the pinned CPU torch of the dev environment; CI installs `.[vision,robustbench]`).
"""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import advkit

SKIP = "{} cannot be imported here ({}): CI installs it with pip install -e \".[vision,robustbench]\""


def _need(module: str):
    try:
        return importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 (a torchvision built for another torch raises RuntimeError)
        pytest.skip(SKIP.format(module, type(exc).__name__))


@pytest.fixture(scope="module")
def tv():
    return _need("torchvision.models")


@pytest.fixture(scope="module")
def timm():
    return _need("timm")


@pytest.fixture(scope="module")
def robustbench():
    from advkit_zoos.robustbench_zoo import _import_robustbench

    try:
        return _import_robustbench()
    except advkit.UsageError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cifar_npz(tmp_path):
    """Generated CIFAR-shaped data: 8 uint8 images 3 x 32 x 32, labels 0-9."""
    rng = np.random.default_rng(0)
    path = tmp_path / "cifar.npz"
    np.savez(path, x=rng.integers(0, 256, (8, 3, 32, 32), dtype=np.uint8), y=rng.integers(0, 10, 8))
    return path


def _probe():
    return torch.rand((2, 3, 32, 32), generator=torch.Generator().manual_seed(1))


def _expected(net, x, mean, std, size):
    """The reference: the zoo's network on inputs normalized and resized as its weights expect."""
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    if size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        return net.eval()(x)


def _logits(model, x):
    with torch.no_grad():
        return model.eval()(x)


def _summary(result):
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_torchvision_weights_from_the_hub_cache(tv, tmp_path, monkeypatch, cli, cifar_npz):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    weights = tv.ResNet18_Weights.IMAGENET1K_V1
    reference = tv.resnet18(weights=None)
    target = tmp_path / "torch" / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[1]
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)

    model = advkit.load_model("torchvision:resnet18:weights=IMAGENET1K_V1", input_shape=(3, 32, 32), num_classes=10)
    transform = weights.transforms()
    assert model.num_classes == len(weights.meta["categories"])
    assert model.mean == pytest.approx(transform.mean) and model.std == pytest.approx(transform.std)
    assert model.net.size == transform.crop_size[0]
    torch.testing.assert_close(_logits(model, _probe()), _expected(reference, _probe(), transform.mean, transform.std,
                                                                   transform.crop_size[0]))

    out = _summary(cli("attack", "--plugin", "pgd", "--model", "torchvision:resnet18:weights=IMAGENET1K_V1",
                       "--data", cifar_npz, "--n", "2", "--eps", "8/255", "--steps", "1", "--json"))
    assert out["n"] == 2 and 0 <= out["robust_accuracy"] <= out["clean_accuracy"]


def test_torchvision_missing_weights_say_where_they_were_looked_for(tv, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    url = tv.ResNet50_Weights.IMAGENET1K_V2.url
    with pytest.raises(advkit.ModelError) as err:
        advkit.load_model("torchvision:resnet50:weights=IMAGENET1K_V2", input_shape=(3, 32, 32), num_classes=10)
    assert str(tmp_path / "empty" / "hub" / "checkpoints" / url.rsplit("/", 1)[1]) in str(err.value)
    assert "weights=FILE" in str(err.value)
    with pytest.raises(advkit.UsageError, match="did you mean"):
        advkit.load_model("torchvision:resnet51", input_shape=(3, 32, 32), num_classes=10)


def test_torchvision_weights_file_and_a_pickle_that_would_run_code(tv, tmp_path):
    from safetensors.torch import save_file

    reference = tv.resnet18(weights=None, num_classes=20)
    save_file(reference.state_dict(), str(tmp_path / "r18.safetensors"))
    model = advkit.load_model(f"torchvision:resnet18:weights={tmp_path / 'r18.safetensors'}",
                              input_shape=(3, 32, 32), num_classes=10)
    assert model.num_classes == 20 and model.mean is None  # classes from the file's last layer
    torch.testing.assert_close(_logits(model, _probe()), _expected(reference, _probe(), [0.0], [1.0], 0))

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    torch.save({"state_dict": {"fc.weight": Payload()}}, tmp_path / "evil.pth")
    with pytest.raises(advkit.ModelError, match="refused"):
        advkit.load_model(f"torchvision:resnet18:weights={tmp_path / 'evil.pth'}", input_shape=(3, 32, 32),
                          num_classes=10)
    assert not marker.exists()


def _hf_cache(root, repo: str, state: dict):
    """A Hugging Face hub cache holding `repo`'s model.safetensors, laid out as huggingface_hub writes it."""
    from safetensors.torch import save_file

    folder = root / f"models--{repo.replace('/', '--')}"
    snapshot = folder / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123456789abcdef")
    save_file(state, str(snapshot / "model.safetensors"))


def test_timm_pretrained_from_the_hugging_face_cache(timm, tmp_path, monkeypatch, cli, cifar_npz):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cfg = timm.models.get_pretrained_cfg("resnet18.a1_in1k")
    reference = timm.create_model("resnet18", pretrained=False)
    _hf_cache(tmp_path / "hub", cfg.hf_hub_id, reference.state_dict())

    model = advkit.load_model("timm:resnet18.a1_in1k", input_shape=(3, 32, 32), num_classes=10)
    assert model.num_classes == cfg.num_classes and model.net.size == cfg.input_size[-1]
    assert model.mean == pytest.approx(cfg.mean) and model.std == pytest.approx(cfg.std)
    torch.testing.assert_close(_logits(model, _probe()), _expected(reference, _probe(), cfg.mean, cfg.std,
                                                                   cfg.input_size[-1]))

    out = _summary(cli("evaluate", "--model", "timm:resnet18.a1_in1k:size=0", "--data", cifar_npz, "--n", "2",
                       "--attacks", "pgd:steps=1", "--eps", "0,8/255", "--json"))
    assert out["n"] == 2 and out["worst_case"]["0"] == out["clean_accuracy"]
    with pytest.raises(advkit.ModelError, match="Hugging Face cache"):
        advkit.load_model("timm:resnet34.a1_in1k", input_shape=(3, 32, 32), num_classes=10)


def test_timm_checkpoint_file(timm, tmp_path):
    reference = timm.create_model("resnet18", pretrained=False, num_classes=10)
    torch.save({"state_dict": {f"module.{k}": v for k, v in reference.state_dict().items()}}, tmp_path / "r18.pth")
    model = advkit.load_model(f"timm:resnet18:checkpoint={tmp_path / 'r18.pth'}", input_shape=(3, 32, 32),
                              num_classes=10)
    cfg = timm.models.get_pretrained_cfg("resnet18")
    torch.testing.assert_close(_logits(model, _probe()), _expected(reference, _probe(), cfg.mean, cfg.std,
                                                                   cfg.input_size[-1]))


def test_robustbench_model_dir(robustbench, tmp_path, monkeypatch, cli, cifar_npz):
    _, zoo, enums = robustbench
    entry = zoo.model_dicts[enums.BenchmarkDataset("cifar10")][enums.ThreatModel("Linf")]["Wong2020Fast"]
    reference = entry["model"]()
    path = tmp_path / "models" / "cifar10" / "Linf" / "Wong2020Fast.pt"
    path.parent.mkdir(parents=True)
    torch.save({"state_dict": reference.state_dict()}, path)

    model = advkit.load_model(f"robustbench:Wong2020Fast:model_dir={tmp_path / 'models'}", input_shape=(3, 32, 32),
                              num_classes=10)
    assert model.num_classes == 10 and model.mean is None  # RobustBench models normalize inside
    torch.testing.assert_close(_logits(model, _probe()), _expected(reference, _probe(), [0.0], [1.0], 0))

    monkeypatch.setenv("ADVKIT_MODEL_DIR", "unset")  # restored after --model-dir sets it
    out = _summary(cli("evaluate", "--model", "robustbench:Wong2020Fast:dataset=cifar10:threat=Linf",
                       "--model-dir", tmp_path / "models", "--data", cifar_npz, "--n", "2",
                       "--attacks", "pgd:steps=1", "--eps", "8/255", "--json"))
    assert out["model"].startswith("robustbench:Wong2020Fast")

    missing = cli("attack", "--plugin", "pgd", "--model", "robustbench:Carmon2019Unlabeled", "--model-dir",
                  tmp_path / "models", "--data", cifar_npz)
    assert missing.code == 1 and str(tmp_path / "models" / "cifar10" / "Linf" / "Carmon2019Unlabeled.pt") in missing.stderr

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    torch.save({"state_dict": Payload()}, path)  # RobustBench's own torch.load is never reached
    with pytest.raises(advkit.ModelError, match="refused"):
        advkit.load_model(f"robustbench:Wong2020Fast:model_dir={tmp_path / 'models'}", input_shape=(3, 32, 32),
                          num_classes=10)
    assert not marker.exists()


def test_a_zoo_model_saved_by_advkit_loads_back(timm, tmp_path):
    model = advkit.load_model("timm:resnet18", input_shape=(3, 32, 32), num_classes=10, mean=[0.5], std=[0.25])
    advkit.save_model(model, tmp_path / "r18.safetensors")
    again = advkit.load_model(str(tmp_path / "r18.safetensors"), input_shape=(3, 32, 32))
    assert again.spec["params"]["arch"] == "resnet18" and again.mean == [0.5] * 3
    torch.testing.assert_close(_logits(again, _probe()), _logits(model, _probe()))
