"""`attack` streams a lazy data set: never materialised, checked batch by batch, adversarial.npz written by shards."""

import numpy as np
import pytest
import torch

import advkit
from advkit.data import dataset
from advkit.data.dataset import DataSource, LazySet
from advkit.errors import DataError


class Counted(LazySet):
    """CIFAR-shaped samples made on demand; counts the images read."""

    def __init__(self, n=40, bad=None):
        self.n, self.bad, self.reads = n, bad, 0
        self.name, self.class_names, self.meta = "counted", [f"c{i}" for i in range(10)], {}

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.reads += 1
        x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(i))
        if i == self.bad:
            x[0, 0, 0] = float("nan")
        return x, i % 10


@pytest.fixture
def lazy(monkeypatch):
    made = Counted()

    class Source(DataSource):
        name = "counted"

        def load(self, split):
            return made

    monkeypatch.setattr(dataset, "resolve_source", lambda spec: Source())
    return made


def test_load_data_picks_n_without_reading_the_images(lazy):
    data = dataset.load_data("counted", n=10, seed=3)
    assert len(data) == 10 and data.num_classes == 10
    assert lazy.reads == 0
    assert data.input_shape == (3, 32, 32) and lazy.reads == 1  # one sample tells the shape


def test_streamed_attack_matches_the_attack_on_tensors(lazy):
    model = advkit.load_model("cnn", input_shape=(3, 32, 32), num_classes=10)
    whole = advkit.attack("fgsm", model, lazy.x, lazy.y, eps=0.03, batch_size=16)
    lazy.reads = 0
    streamed = advkit.attack("fgsm", model, lazy, eps=0.03, batch_size=16, keep=5)
    assert lazy.reads == len(lazy) + 1  # each image once, and one for the input shape
    assert streamed.x_adv.shape == (5, 3, 32, 32)
    torch.testing.assert_close(streamed.x_adv, whole.x_adv[:5])
    for field in ("y", "pred_clean", "pred_adv", "success", "linf", "l2"):
        assert torch.equal(getattr(streamed, field), getattr(whole, field)), field
    assert streamed.summary()["robust_accuracy"] == whole.summary()["robust_accuracy"]


def test_a_bad_sample_is_caught_in_its_batch(monkeypatch):
    bad = Counted(n=40, bad=5)
    model = advkit.load_model("cnn", input_shape=(3, 32, 32), num_classes=10)
    with pytest.raises(DataError, match="1 sample\\(s\\) contain NaN"):
        advkit.attack("fgsm", model, bad, eps=0.03, batch_size=16)
    assert bad.reads == 16 + 1  # found in the first batch, the rest never read (one read for the input shape)


def test_attack_from_specs_writes_the_npz_batch_by_batch(lazy, tmp_path):
    from advkit.workflows.from_specs import EXAMPLES_KEPT, attack_from_specs

    lazy.n = EXAMPLES_KEPT + 6
    result, summary = attack_from_specs("fgsm", "cnn", "counted", n=EXAMPLES_KEPT + 3, params={"eps": "0.03"},
                                        batch_size=16, targets="next", progress="none", out=tmp_path)
    assert summary["n"] == EXAMPLES_KEPT + 3 and len(result.x_adv) == EXAMPLES_KEPT
    with np.load(tmp_path / "adversarial.npz") as arrays:
        assert set(arrays.files) == {"x_adv", "y", "pred_clean", "pred_adv", "targets"}
        assert arrays["x_adv"].shape == (EXAMPLES_KEPT + 3, 3, 32, 32)
        np.testing.assert_array_equal(arrays["x_adv"][:EXAMPLES_KEPT], result.x_adv.numpy())
        np.testing.assert_array_equal(arrays["pred_adv"], result.pred_adv.numpy())
        np.testing.assert_array_equal(arrays["targets"], (arrays["y"] + 1) % 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adversarial.npz", "examples.png", "result.json"]


def test_workers_read_the_same_batches(cli):
    import json

    runs = [cli("attack", "--plugin", "fgsm", "--eps", "0.1", "--n", "40", "--batch-size", "16", "--workers", w,
                "--json") for w in ("0", "2")]
    assert all(r.code == 0 for r in runs), runs[-1].stderr
    one, two = (json.loads(r.stdout) for r in runs)
    assert one["robust_accuracy"] == two["robust_accuracy"] and one["perturbation"] == two["perturbation"]
    bad = cli("attack", "--plugin", "fgsm", "--workers", "-1")
    assert bad.code != 0 and "--workers" in bad.stderr
