"""The boundary-tilting plugin: geometry identities, global vs local tilt, the sweep, the confidence attack."""

from __future__ import annotations

import math

import pytest
import torch
from advkit_tilt import geometry
from advkit_tilt.confidence import ConfidenceAttack, calibrate_temperature
from advkit_tilt.margin import linear_form
from advkit_tilt.sweep import TiltSweep
from advkit_tilt.tilt import Tilt

import advkit


@pytest.fixture(scope="module")
def blobs():
    """Two balanced Gaussian classes in 20 dimensions, a random linear classifier (float64)."""
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(60, 1, 4, 5, generator=g, dtype=torch.float64),
                   torch.randn(60, 1, 4, 5, generator=g, dtype=torch.float64) + 1.5])
    signs = torch.cat([-torch.ones(60), torch.ones(60)]).double()
    w = torch.randn(20, generator=g, dtype=torch.float64)
    return x, signs, w, 0.3


@pytest.fixture(scope="module")
def linear_model():
    """A fresh softmax regression on digits: linear whatever its weights."""
    torch.manual_seed(0)
    return advkit.load_model("linear", input_shape=(1, 8, 8), num_classes=10).eval()


def test_identity_holds_on_balanced_data(blobs):
    x, signs, w, b = blobs
    numbers = geometry.tilt(x, signs, w, b)
    identity = numbers["identity"]
    assert identity["balanced"]
    assert abs(identity["gap"]) < 1e-5
    assert identity["d_adv"] == pytest.approx(float((signs * geometry.signed_distance(x, w, b)).mean()), abs=1e-12)
    assert 0 <= numbers["theta"] <= math.pi
    assert numbers["norm_w"] == pytest.approx(float(w.norm()))


def test_identity_gap_reported_for_unbalanced_data(blobs):
    x, signs, w, b = blobs
    identity = geometry.tilt(x[:90], signs[:90], w, b)["identity"]
    assert not identity["balanced"]
    assert identity["gap"] == pytest.approx(identity["d_adv"] - identity["half_distance_cos_theta"])


def test_mirror_and_projected_images(blobs):
    x, _, w, b = blobs
    d = geometry.signed_distance(x, w, b)
    assert torch.allclose(geometry.signed_distance(geometry.mirror(x, w, b), w, b), -d, atol=1e-5)
    assert geometry.signed_distance(geometry.projected(x, w, b), w, b).abs().max() < 1e-5
    # both move along w only: the distance moved is |d| and 2|d|
    moved = (geometry.mirror(x, w, b) - x).flatten(1).norm(dim=1)
    assert torch.allclose(moved, 2 * d.abs(), atol=1e-5)


def test_centroid_direction_gives_zero_tilt(blobs):
    x, signs, _, _ = blobs
    z = geometry.centroid_direction(x, signs)
    numbers = geometry.tilt(x, signs, z, -float(z @ x.flatten(1).mean(0)))
    assert numbers["theta"] == pytest.approx(0.0, abs=1e-6)
    assert numbers["d_adv"] == pytest.approx(0.5 * numbers["centroid_distance"], abs=1e-5)


def test_linear_form_is_the_class_pair_difference(linear_model, digits):
    w, b = linear_form(linear_model, digits.x[:50], (3, 7))
    weight, bias = linear_model.net.fc.weight.detach(), linear_model.net.fc.bias.detach()
    assert torch.allclose(w.float(), weight[7] - weight[3], atol=1e-5)
    assert b == pytest.approx(float(bias[7] - bias[3]), abs=1e-5)


def test_local_tilt_of_a_linear_model_equals_the_global_tilt(linear_model, digits):
    global_ = Tilt(mode="global").run(linear_model, digits).numbers
    local = Tilt(mode="local").run(linear_model, digits).numbers
    assert global_["mode"] == "global" and local["mode"] == "local"
    for key in ("q10", "median", "q90"):
        assert local["angle"][key] == pytest.approx(global_["theta"], abs=1e-4)
    assert local["d_adv_linearised"] == pytest.approx(global_["d_adv"], abs=1e-4)
    assert local["error_rate"] == pytest.approx(global_["error_rate"])


def test_auto_mode_goes_local_for_a_nonlinear_model(default_model, digits):
    report = Tilt().run(default_model, digits)
    assert report.numbers["mode"] == "local"
    assert 0 <= report.numbers["angle"]["median"] <= math.pi
    assert report.numbers["distance"]["median"] > 0
    assert set(report.figures) == {"local_tilt"}


def test_global_mode_refuses_a_nonlinear_model(default_model, digits):
    with pytest.raises(advkit.UsageError, match="linear"):
        Tilt(mode="global").run(default_model, digits)


@pytest.mark.parametrize("classes", [(3, 10), (4, 4), (1,)])
def test_bad_class_pair(linear_model, digits, classes):
    with pytest.raises(advkit.UsageError, match="class"):
        Tilt(classes=classes).run(linear_model, digits)


def test_bad_tilt_parameters():
    with pytest.raises(advkit.UsageError, match="mode"):
        Tilt(mode="sideways")
    with pytest.raises(advkit.UsageError, match="lambda"):
        TiltSweep(lambda_max=1.0, lambda_min=10.0)
    with pytest.raises(advkit.UsageError, match="loss"):
        TiltSweep(loss="squared")


@pytest.mark.parametrize("loss", ["hinge", "logistic"])
def test_theta_grows_as_regularisation_weakens(loss):
    data = advkit.load_data("digits", split="all")
    report = TiltSweep(loss=loss, lambda_max=1e4, lambda_min=1e-2, steps=4).run(None, data)
    rows = report.numbers["sweep"]
    thetas = [r["theta"] for r in rows]
    d_advs = [r["d_adv"] for r in rows]
    # non-decreasing up to the solver's tolerance (the weak end is the separable, hard-margin solution)
    assert all(later >= earlier - 0.01 for earlier, later in zip(thetas, thetas[1:]))
    assert thetas[-1] > thetas[0] + 0.2
    assert d_advs[-1] < d_advs[0]
    assert all(abs(r["identity_gap"]) < 1e-5 for r in rows)  # the pair is balanced
    assert rows[-1]["norm_w"] > rows[0]["norm_w"]
    assert set(report.figures) == {"tilt_sweep"}


def test_temperature_calibration_sets_the_median_confidence():
    logits = torch.randn(101, 10, generator=torch.Generator().manual_seed(1)) * 5
    t = calibrate_temperature(logits, 0.95)
    assert float(torch.softmax(logits / t, 1).amax(1).median()) == pytest.approx(0.95, abs=1e-4)


def test_confidence_attack_reaches_the_target_confidence(default_model, digits):
    x, y = digits.x[:40], digits.y[:40]
    result = advkit.attack("tilt.confidence", default_model, x, y, targets="next")
    assert result.targets.tolist() == ((y + 1) % 10).tolist()
    assert result.success_rate >= 0.8
    assert result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    with torch.no_grad():
        clean_logits = default_model(x)
        adv_logits = default_model(result.x_adv)
    t = calibrate_temperature(clean_logits, 0.95)
    p_target = torch.softmax(adv_logits / t, 1).gather(1, result.targets[:, None]).squeeze(1)
    assert float((p_target >= 0.95).float().mean()) >= 0.8
    assert float(result.l2[result.success].mean()) > 0


def test_confidence_attack_rejects_bad_parameters(default_model):
    for bad in ({"confidence": 1.5}, {"step": 0}, {"max_steps": 0}, {"temperature": -1.0}):
        with pytest.raises(advkit.UsageError):
            ConfidenceAttack(default_model, **bad)
