"""Data specs: digits, mnist (IDX, gz or not, and the checksummed downloader), npz, image folders."""

import gzip
import hashlib

import numpy as np
import pytest
import torch

from advkit import DataError, UsageError, load_data
from advkit.data.sources import mnist


def test_digits_splits_are_disjoint_and_scaled():
    train, test = load_data("digits", split="train"), load_data("digits", split="test")
    assert len(train) + len(test) == 1797 and train.input_shape == (1, 8, 8)
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    train_rows = {tuple(r.tolist()) for r in train.x.flatten(1)}
    overlap = sum(tuple(r.tolist()) in train_rows for r in test.x.flatten(1))
    assert overlap < 10  # identical 8x8 images occur in sklearn's digits; the indices are disjoint


def test_n_takes_a_seeded_sample():
    a, b = load_data("digits", n=20, seed=1), load_data("digits", n=20, seed=1)
    c = load_data("digits", n=20, seed=2)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_files(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, (30, 28, 28))
    y = np.arange(30) % 10
    for prefix, images, labels in (("train", x, y), ("t10k", x[:10], y[:10])):
        for name, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            data = _idx(arr)
            (tmp_path / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    train = load_data(f"mnist:{tmp_path}", split="train")
    assert train.input_shape == (1, 28, 28) and len(train) == 30
    assert torch.allclose(train.x[0, 0], torch.tensor(x[0] / 255.0, dtype=torch.float32))
    assert len(load_data(f"mnist:{tmp_path}", split="test")) == 10


def test_mnist_truncated_file(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(_idx(np.zeros((5, 28, 28)))[:-10])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(np.zeros(5)))
    with pytest.raises(DataError, match="truncated"):
        load_data(f"mnist:{tmp_path}")


def test_shared_mnist_test_set(mnist_dir):
    train = load_data(f"mnist:{mnist_dir}", split="train")
    test = load_data(f"mnist:{mnist_dir}", split="test")
    assert (len(train), len(test)) == (8000, 2000)
    assert "split_note" in test.meta


def test_download_checks_checksums(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    payload = gzip.compress(_idx(np.arange(10)))
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(payload)
    files = {"t10k-labels-idx1-ubyte.gz": hashlib.md5(payload).hexdigest()}
    target = tmp_path / "data"
    done = mnist.download(target, mirrors=(mirror.as_uri() + "/",), files=files)
    assert done == [target / "t10k-labels-idx1-ubyte.gz"]
    assert (target / "t10k-labels-idx1-ubyte.gz").read_bytes() == payload
    with pytest.raises(DataError, match="checksum mismatch"):
        mnist.download(tmp_path / "other", mirrors=(mirror.as_uri() + "/",),
                       files={"t10k-labels-idx1-ubyte.gz": "0" * 32})
    assert not (tmp_path / "other" / "t10k-labels-idx1-ubyte.gz").exists()


@pytest.mark.parametrize("layout", ["nhw_uint8", "nchw_float"])
def test_npz(tmp_path, layout):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 6, 6)).astype(np.uint8) if layout == "nhw_uint8" else rng.random((12, 3, 6, 6))
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(12) % 3)
    data = load_data(str(tmp_path / "d.npz"))
    assert data.input_shape == ((1, 6, 6) if layout == "nhw_uint8" else (3, 6, 6))
    assert float(data.x.max()) <= 1.0 and data.num_classes == 3


def test_npz_missing_arrays(tmp_path):
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4)))
    with pytest.raises(DataError, match="'x' and 'y'"):
        load_data(str(tmp_path / "d.npz"))


def test_image_folder(tmp_path):
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((5, 5), 40 * i, dtype=np.uint8)).save(tmp_path / label / f"{i}.png")
    data = load_data(str(tmp_path))
    assert data.class_names == ["cat", "dog"] and data.input_shape == (1, 5, 5)
    assert data.y.tolist().count(1) == 3


def test_bad_specs():
    with pytest.raises(UsageError, match="did you mean"):
        load_data("digitz")
    with pytest.raises(UsageError, match="--split"):
        load_data("digits", split="validation")
    with pytest.raises(DataError):
        load_data("mnist:/nonexistent/dir")
