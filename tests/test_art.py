"""ART interoperability (`advkit.to_art`, `advkit.from_art`) and the `art` attack catalogue."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import advkit

pytest.importorskip("art")
from art.attacks.evasion import ProjectedGradientDescent  # noqa: E402
from art.estimators.classification import BlackBoxClassifier, PyTorchClassifier  # noqa: E402

N = 24


def art_estimator(net, **options):
    options = {"clip_values": (0.0, 255.0), "preprocessing": (0.0, 255.0), **options}
    return PyTorchClassifier(model=net, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                             device_type="cpu", **options)


@pytest.fixture(scope="module")
def batch(digits):
    return digits.x[:N], digits.y[:N]


@pytest.fixture(scope="module")
def pixel_estimator(default_model):
    """An ART user's classifier: inputs in [0, 255], standardised by ART's preprocessing before the network."""
    return art_estimator(default_model)


@pytest.fixture(scope="module")
def pixel_model(pixel_estimator):
    return advkit.from_art(pixel_estimator)


def test_from_art_keeps_bounds_preprocessing_and_shape(pixel_model, pixel_estimator, batch):
    assert pixel_model.bounds == (0.0, 255.0)
    assert pixel_model.mean == [0.0] and pixel_model.std == [255.0]
    assert pixel_model.num_classes == 10 and pixel_model.input_shape == (1, 8, 8)
    x = batch[0] * 255
    ours = advkit.logits_of(pixel_model, x)
    theirs = torch.from_numpy(pixel_estimator.predict(x.numpy()))
    assert torch.allclose(ours, theirs, atol=1e-5)
    back = torch.from_numpy(advkit.to_art(pixel_model).predict(x.numpy()))
    assert torch.allclose(back, ours, atol=1e-5)


def test_to_art_round_trip_gives_identical_logits(default_model, batch):
    estimator = advkit.to_art(default_model)
    assert estimator.clip_values.tolist() == [0.0, 1.0]
    assert estimator.nb_classes == 10 and estimator.input_shape == (1, 8, 8)
    assert estimator.preprocessing is None
    x = batch[0]
    logits = advkit.logits_of(default_model, x)
    assert torch.equal(torch.from_numpy(estimator.predict(x.numpy())), logits)
    again = advkit.from_art(estimator)
    assert again.net is default_model
    assert torch.equal(advkit.logits_of(again, x), logits)


@pytest.mark.parametrize("name, params", [
    ("torchattacks.pgd", {"eps": 0.25 * 255, "alpha": 0.05 * 255, "steps": 10}),
    ("art.pgd", {"eps": 0.25 * 255, "eps_step": 0.05 * 255, "max_iter": 10}),
])
def test_advkit_attacks_run_on_a_model_from_art(pixel_model, batch, name, params):
    x, y = batch[0] * 255, batch[1]
    r = advkit.attack(name, pixel_model, x, y, seed=0, **params)
    assert r.x_adv.min() >= 0 and r.x_adv.max() <= 255
    assert float(r.linf.max()) <= params["eps"] * (1 + 1e-5)
    assert r.clean_accuracy > 0.9
    assert r.robust_accuracy < r.clean_accuracy / 2


def test_art_pgd_matches_raw_art_with_the_same_numpy_seed(pixel_estimator, pixel_model, batch):
    x, y = batch[0] * 255, batch[1]
    params = {"eps": 0.08 * 255, "eps_step": 0.02 * 255, "max_iter": 10, "num_random_init": 1}
    np.random.seed(7)
    raw = ProjectedGradientDescent(pixel_estimator, norm=np.inf, batch_size=N, verbose=False, **params)
    x_raw = raw.generate(x.numpy(), np.eye(10, dtype=np.float32)[y.numpy()])
    r = advkit.attack("art.pgd", pixel_model, x, y, seed=7, batch_size=N, **params)
    assert np.abs(r.x_adv.numpy() - x_raw).max() < 1e-3
    raw_accuracy = float((pixel_estimator.predict(x_raw).argmax(1) == y.numpy()).mean())
    assert r.robust_accuracy == pytest.approx(raw_accuracy)


@pytest.mark.parametrize("name, params", [
    ("art.fgsm", {"eps": 0.4}),
    ("art.cw-l2", {"max_iter": 10, "binary_search_steps": 1, "initial_const": 10.0, "learning_rate": 0.1}),
    ("art.deepfool", {"max_iter": 10}),
    ("art.square", {"eps": 0.6, "max_iter": 100}),
    ("art.hopskipjump", advkit.get_attack("art.hopskipjump").quick_params),
])
def test_art_attacks_run_on_shifted_normalized_models(default_model, batch, name, params):
    """An advkit model on inputs in [-1, 1] with mean/std folded in: ART works in those units."""
    model = advkit.Model(default_model, (1, 8, 8), 10, bounds=(-1.0, 1.0), mean=[-1.0], std=[2.0])
    x, y = batch[0][:8] * 2 - 1, batch[1][:8]
    r = advkit.attack(name, model, x, y, seed=0, **params)
    assert r.x_adv.min() >= -1 and r.x_adv.max() <= 1
    if "eps" in params:
        size = r.linf if advkit.get_attack(name).norm == "Linf" else r.l2
        assert float(size.max()) <= params["eps"] * (1 + 1e-5)
    assert torch.equal(r.pred_clean, advkit.predict(default_model, batch[0][:8]))  # same model, other units
    assert r.robust_accuracy < r.clean_accuracy


def test_targeted_art_attack_reaches_its_targets(pixel_model, batch):
    x, y = batch[0] * 255, batch[1]
    r = advkit.attack("art.pgd", pixel_model, x, y, targets="next", seed=0, eps=0.3 * 255, eps_step=0.05 * 255,
                      max_iter=20)
    assert float((r.pred_adv == r.targets).float().mean()) > 0.5 + float((r.pred_clean == r.targets).float().mean())


def test_listing_shows_black_box_and_norms(cli):
    out = cli("list", "attacks", "--json")
    assert out.code == 0, out.stderr
    entries = {e["name"]: e for e in json.loads(out.stdout)["attacks"]}
    art = {name: e for name, e in entries.items() if e["plugin"] == "art"}
    assert len(art) >= 30
    for name in ("art.square", "art.hopskipjump", "art.boundary", "art.simba", "art.zoo", "art.pixel"):
        assert art[name]["black_box"] is True, name
    for name in ("art.pgd", "art.cw-l2", "art.deepfool"):
        assert art[name]["black_box"] is False, name
    assert art["art.pgd"]["norm"] == "Linf" and art["art.pgd-l2"]["norm"] == "L2"
    assert art["art.cw-l0"]["norm"] == "L0" and art["art.elasticnet"]["norm"] == "L1"
    pgd = {p["name"]: p["default"] for p in art["art.pgd"]["parameters"]}
    assert pgd["eps"] == 0.3 and pgd["max_iter"] == 100  # ART's own defaults
    assert not {"norm", "verbose", "batch_size", "targeted", "estimator"} & set(pgd)


def test_listing_imports_neither_torch_nor_art():
    code = "from advkit.cli.main import main; main(['list', 'attacks'])"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                         cwd="/", check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert "art.attacks.evasion.projected_gradient_descent" not in out.stdout
    assert not {"torch", "art"} & imported


def test_from_art_refuses_what_it_cannot_keep(default_model):
    with pytest.raises(advkit.ModelError, match="PyTorchClassifier"):
        advkit.from_art(BlackBoxClassifier(lambda x: np.zeros((len(x), 10)), (1, 8, 8), 10))
    with pytest.raises(advkit.ModelError, match="PyTorchClassifier"):
        advkit.from_art(default_model)
    unbounded = art_estimator(default_model, clip_values=None)
    with pytest.raises(advkit.ModelError, match="bounds="):
        advkit.from_art(unbounded)
    assert advkit.from_art(unbounded, bounds=(0, 255)).bounds == (0.0, 255.0)
    with pytest.raises(advkit.ModelError, match="disagree"):
        advkit.from_art(art_estimator(default_model), bounds=(0, 1))
    from art.defences.preprocessor import SpatialSmoothing

    with pytest.raises(advkit.ModelError, match="SpatialSmoothing"):
        advkit.from_art(art_estimator(default_model, preprocessing_defences=SpatialSmoothing()))
    with pytest.raises(advkit.UsageError, match="input_shape"):
        advkit.to_art(nn.Linear(64, 10))
    with pytest.raises(advkit.UsageError, match="nn.Module"):
        advkit.to_art(lambda x: x, input_shape=(1, 8, 8))


def test_to_art_takes_a_plain_module_with_its_shape_classes_and_bounds(default_model, batch):
    x, y = batch
    net = default_model.net  # the bare network, without advkit's Model around it
    estimator = advkit.to_art(net, input_shape=(1, 8, 8), nb_classes=10, bounds=(0, 1))
    assert isinstance(estimator, PyTorchClassifier)
    assert estimator.input_shape == (1, 8, 8) and estimator.nb_classes == 10
    assert tuple(map(float, estimator.clip_values)) == (0.0, 1.0)
    assert torch.allclose(torch.from_numpy(estimator.predict(x.numpy())), advkit.logits_of(net, x), atol=1e-5)
    attack = ProjectedGradientDescent(estimator, eps=0.2, eps_step=0.05, max_iter=5, verbose=False)
    x_adv = attack.generate(x.numpy())
    assert np.abs(x_adv - x.numpy()).max() <= 0.2 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    fooled = (estimator.predict(x_adv).argmax(1) != y.numpy()).mean()
    assert fooled > (estimator.predict(x.numpy()).argmax(1) != y.numpy()).mean()
    inferred = advkit.to_art(nn.Sequential(nn.Flatten(), nn.Linear(64, 7)), input_shape=(1, 8, 8))
    assert inferred.nb_classes == 7 and tuple(map(float, inferred.clip_values)) == (0.0, 1.0)
    with pytest.raises(advkit.UsageError, match="disagrees"):
        advkit.to_art(default_model, nb_classes=3)
    assert advkit.to_art(default_model, input_shape=(1, 8, 8), nb_classes=10).nb_classes == 10


def test_bad_art_parameters_are_usage_errors(pixel_model, batch):
    x, y = batch[0][:2] * 255, batch[1][:2]
    with pytest.raises(advkit.UsageError, match="valid parameters"):
        advkit.attack("art.pgd", pixel_model, x, y, steps=3)
    with pytest.raises(advkit.UsageError, match="max_iter"):
        advkit.attack("art.pgd", pixel_model, x, y, max_iter=0)
    with pytest.raises(advkit.UsageError, match="art.simba"):
        advkit.attack("art.simba", pixel_model, x, y, attack="nope")
    with pytest.raises(advkit.UsageError, match="no targeted mode"):
        advkit.attack("art.deepfool", pixel_model, x, y, targets="next")
