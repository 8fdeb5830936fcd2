"""Real data sources on small files generated in their published formats: CIFAR-10/100 (binary and
python), ImageNet layouts, lazy image folders of any size, resize/crop, and the checksummed download."""

import hashlib
import io
import json
import os
import pickle
import tarfile

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from advkit import DataError, UsageError, load_data
from advkit.data.dataset import image_size, resolve_source
from advkit.data.sources import cifar
from advkit.data.sources.images import resize_crop

RNG = np.random.default_rng(0)


def _pixels(n):
    return RNG.integers(0, 256, (n, 3072), dtype=np.uint8)


def _expected(row):
    """What a CIFAR sample must read as: the 3,072 bytes as 3 x 32 x 32, divided by 255."""
    return torch.from_numpy(row.reshape(3, 32, 32).astype(np.float32) / np.float32(255))


def make_cifar(root, name, fmt, train_per_file=3, test=4):
    """Write a small CIFAR tree as the tarballs extract it; returns {split: (pixels, labels[, coarse])}."""
    classes = 10 if name == "cifar10" else 100
    folder = root / (cifar.CIFAR10 if name == "cifar10" else cifar.CIFAR100).layout.folder[fmt]
    folder.mkdir(parents=True)
    files = ({"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]} if name == "cifar10"
             else {"train": ["train"], "test": ["test"]})
    truth = {}
    for split, names in files.items():
        per = train_per_file if split == "train" else test
        xs, fine, coarse = [], [], []
        for file in names:
            x, y, c = _pixels(per), RNG.integers(0, classes, per), RNG.integers(0, 20, per)
            xs.append(x), fine.append(y), coarse.append(c)
            if fmt == "binary":
                labels = [y[:, None]] if name == "cifar10" else [c[:, None], y[:, None]]
                (folder / f"{file}.bin").write_bytes(np.hstack([*labels, x]).astype(np.uint8).tobytes())
            else:
                batch = {b"batch_label": b"generated", b"data": x, b"filenames": [b"f.png"] * per}
                if name == "cifar10":
                    batch[b"labels"] = y.tolist()
                else:
                    batch[b"fine_labels"], batch[b"coarse_labels"] = y.tolist(), c.tolist()
                (folder / file).write_bytes(pickle.dumps(batch, protocol=2))
        truth[split] = (np.concatenate(xs), np.concatenate(fine), np.concatenate(coarse))
    fine_names = [f"class{i}" for i in range(classes)]
    coarse_names = [f"super{i}" for i in range(20)]
    if fmt == "binary":
        if name == "cifar10":
            (folder / "batches.meta.txt").write_text("\n".join(fine_names) + "\n\n")
        else:
            (folder / "fine_label_names.txt").write_text("\n".join(fine_names))
            (folder / "coarse_label_names.txt").write_text("\n".join(coarse_names))
    elif name == "cifar10":
        (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [n.encode() for n in fine_names]},
                                                           protocol=2))
    else:
        (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": fine_names,
                                                    "coarse_label_names": coarse_names}))
    return folder, truth


@pytest.mark.parametrize("fmt", ["binary", "python"])
@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_round_trips_pixels_labels_splits_and_names(tmp_path, name, fmt):
    folder, truth = make_cifar(tmp_path, name, fmt)
    for location in (tmp_path, folder):  # the parent or the extracted folder
        train = resolve_source(f"{name}:{location}").load("train")
        assert len(train) == len(truth["train"][0]) and train.meta["format"] == fmt
    test = resolve_source(f"{name}:{tmp_path}").load("test")
    pixels, fine, _ = truth["test"]
    for i in range(len(test)):
        x, y = test[i]
        assert torch.equal(x, _expected(pixels[i])) and y == fine[i]
    assert test.class_names[:2] == ["class0", "class1"] and test.num_classes == (10 if name == "cifar10" else 100)
    assert len(resolve_source(f"{name}:{tmp_path}").load("all")) == len(truth["train"][0]) + len(pixels)
    assert train.input_shape == (3, 32, 32) and torch.equal(train.y, torch.from_numpy(truth["train"][1]))


@pytest.mark.parametrize("fmt", ["binary", "python"])
def test_cifar100_coarse_labels(tmp_path, fmt):
    _, truth = make_cifar(tmp_path, "cifar100", fmt)
    test = resolve_source(f"cifar100:{tmp_path}:label=coarse").load("test")
    assert [test[i][1] for i in range(len(test))] == truth["test"][2].tolist()
    assert test.class_names[0] == "super0" and test.num_classes == 20 and test.meta["label"] == "coarse"
    with pytest.raises(UsageError, match="fine or coarse"):
        resolve_source(f"cifar100:{tmp_path}:label=medium")


def test_cifar_binary_reads_each_image_from_the_file(tmp_path):
    folder, truth = make_cifar(tmp_path, "cifar10", "binary")
    test = resolve_source(f"cifar10:{tmp_path}").load("test")
    before = test[1][0]
    with open(folder / "test_batch.bin", "r+b") as f:  # rewrite image 1 after loading
        f.seek(3073 + 1)
        f.write(bytes(3072))
    assert torch.equal(before, _expected(truth["test"][0][1])) and float(test[1][0].abs().sum()) == 0.0


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    folder, _ = make_cifar(tmp_path, "cifar10", "python")
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    evil = pickle.dumps({"data": Payload(), "labels": [0]}, protocol=2)
    (folder / "test_batch").write_bytes(evil)
    with pytest.raises(DataError, match=r"refused .*test_batch: refused global (posix|os)\.system"):
        resolve_source(f"cifar10:{tmp_path}").load("test")
    assert not marker.exists()
    pickle.loads(evil)  # the same bytes through the ordinary unpickler do run the payload
    assert marker.exists()


def test_truncated_and_corrupt_cifar_files(tmp_path):
    folder, _ = make_cifar(tmp_path / "bin", "cifar10", "binary")
    path = folder / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        resolve_source(f"cifar10:{folder}").load("test")
    path.write_bytes(bytes([12]) + bytes(3072))  # label 12 in a 10-class file
    with pytest.raises(DataError, match="not below 10 classes"):
        resolve_source(f"cifar10:{folder}").load("test")
    folder, _ = make_cifar(tmp_path / "py", "cifar10", "python")
    path = folder / "test_batch"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="truncated or corrupt pickle"):
        resolve_source(f"cifar10:{folder}").load("test")
    with pytest.raises(DataError, match="holds no cifar10 files"):
        resolve_source(f"cifar10:{tmp_path}").load("test")


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_is_lazy_and_takes_mixed_sizes_with_resize_and_crop(tmp_path):
    sizes = [(10, 14), (12, 12), (9, 20)]
    arrays = {}
    for c in ("cat", "dog"):
        for i, (h, w) in enumerate(sizes):
            arrays[c, i] = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
            _png(tmp_path / c / f"{i}.png", arrays[c, i])
    plain = resolve_source(str(tmp_path)).load("all")
    x, y = plain[0]
    assert y == 0
    assert torch.equal(x, torch.from_numpy(arrays["cat", 0].transpose(2, 0, 1).astype(np.float32) / np.float32(255)))
    with pytest.raises(DataError, match=r"1.png is 12x12 pixels, the others 14x10 .*crop=N"):
        plain[1]
    data = load_data(f"imagefolder:{tmp_path}:resize=8:crop=8", split="all")
    assert data.input_shape == (3, 8, 8) and data.class_names == ["cat", "dog"] and data.y.tolist() == [0] * 3 + [1] * 3
    assert data.meta["resize"] == "8" and data.meta["crop"] == "8"
    lazy = resolve_source(f"{tmp_path}:crop=9").load("all")
    _png(tmp_path / "dog" / "2.png", np.zeros((9, 20, 3), dtype=np.uint8))  # changed after loading
    assert float(lazy[5][0].sum()) == 0.0 and float(lazy[0][0].sum()) > 0


def test_resize_and_crop_shapes_and_values():
    x = torch.rand(3, 30, 40)
    assert resize_crop(x, (15,), None).shape == (3, 15, 20)  # the shorter side, aspect kept
    assert resize_crop(x, (20, 10), None).shape == (3, 20, 10)
    assert resize_crop(x, (30,), (8, 6)).shape == (3, 8, 6)
    assert torch.equal(resize_crop(x, (30,), (10,)), x[:, 10:20, 15:25])  # no-op resize, centre crop
    flat = torch.full((3, 30, 40), 0.25)
    assert torch.allclose(resize_crop(flat, (7,), None), torch.full((3, 7, 9), 0.25))
    with pytest.raises(DataError, match="smaller than the crop"):
        resize_crop(x, None, (31,))


def test_resize_crop_options_from_the_api_and_the_cli(tmp_path):
    for c in ("a", "b"):
        _png(tmp_path / c / "0.png", RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    assert load_data(str(tmp_path), split="all", resize=6).input_shape == (3, 6, 8)
    with image_size(resize="6", crop="4x5"):
        assert load_data(str(tmp_path), split="all").input_shape == (3, 4, 5)
    with pytest.raises(UsageError, match="contradicts resize="):
        load_data(f"imagefolder:{tmp_path}:resize=5", split="all", resize=6)
    with pytest.raises(UsageError, match="apply to image sources"):
        load_data("digits", resize=16)
    with pytest.raises(UsageError, match="positive size"):
        load_data(str(tmp_path), split="all", crop="0")
    with pytest.raises(UsageError, match="no parameter 'size'"):
        load_data(f"imagefolder:{tmp_path}:size=5")

    from advkit.cli.options import data_options

    @click.command()
    @data_options()
    def probe(data_spec, split, n, seed):
        click.echo(list(load_data(data_spec, split="all").input_shape))

    result = CliRunner().invoke(probe, ["--data", str(tmp_path), "--resize", "6", "--crop", "4"])
    assert result.output.strip() == "[3, 4, 4]", result.output


def _imagenet_images(root, wnids, per=2):
    """PNG files (exact pixels) named as the validation set names them; returns {filename: array}."""
    out = {}
    for k, wnid in enumerate(wnids):
        for j in range(per):
            name = f"ILSVRC2012_val_{k * per + j + 1:08d}.png"
            out[name] = (wnid, RNG.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    return out


WNIDS = ["n01440364", "n01443537", "n01484850"]


def test_imagenet_by_class_with_class_index(tmp_path):
    images = _imagenet_images(tmp_path, WNIDS[1:])
    for name, (wnid, array) in images.items():
        _png(tmp_path / "val" / wnid / name, array)
    from PIL import Image

    Image.fromarray(RNG.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(
        tmp_path / "val" / WNIDS[1] / "ILSVRC2012_val_00000099.JPEG", format="JPEG")
    index = {str(i): [w, f"name{i}"] for i, w in enumerate(WNIDS)}
    (tmp_path / "imagenet_class_index.json").write_text(json.dumps(index))
    data = resolve_source(f"imagenet:{tmp_path / 'val'}").load("all")
    assert data.class_names == ["name0", "name1", "name2"] and data.input_shape == (3, 224, 224)
    assert [data[i][1] for i in range(len(data))] == [1, 1, 1, 2, 2]  # the class index's order, not folder order
    exact = resolve_source(f"imagenet:{tmp_path / 'val'}:resize=24x24:crop=16").load("all")
    name, (wnid, array) = next(iter(images.items()))
    resized = torch.nn.functional.interpolate(torch.from_numpy(array.transpose(2, 0, 1) / np.float32(255))[None],
                                              size=(24, 24), mode="bilinear", antialias=True)[0]
    assert torch.allclose(exact[0][0], resized[:, 4:20, 4:20], atol=1e-6)


@pytest.mark.parametrize("style", ["val.txt", "labels.csv", "one-per-line", "devkit"])
def test_imagenet_flat_with_labels_file(tmp_path, style):
    images = _imagenet_images(tmp_path, WNIDS)
    flat = tmp_path / "val"
    for name, (_, array) in images.items():
        _png(flat / name, array)
    names = sorted(images)
    if style == "val.txt":
        (tmp_path / "val.txt").write_text("".join(f"{n} {WNIDS.index(images[n][0])}\n" for n in names))
        (tmp_path / "LOC_synset_mapping.txt").write_text("".join(f"{w} {w}, other name\n" for w in WNIDS))
    elif style == "labels.csv":
        (flat / "labels.csv").write_text("ImageId,PredictionString\n" + "".join(
            f"{n[:-4]},{images[n][0]} 1 2 3 4\n" for n in reversed(names)))
    elif style == "one-per-line":
        (flat / "labels.txt").write_text("".join(f"{images[n][0]}\n" for n in names))
    else:
        from scipy.io import savemat

        ids = {w: 3 - i for i, w in enumerate(WNIDS)}  # devkit IDs are not the sorted-wnid order
        synsets = np.array([(ids[w], w, f"words {w}", 0) for w in WNIDS],
                           dtype=[("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")])
        savemat(tmp_path / "meta.mat", {"synsets": synsets})
        (tmp_path / "ILSVRC2012_validation_ground_truth.txt").write_text(
            "".join(f"{ids[images[n][0]]}\n" for n in names))
    data = resolve_source(f"imagenet:{flat}:resize=none:crop=none").load("all")
    assert [data[i][1] for i in range(len(data))] == [WNIDS.index(images[n][0]) for n in names]
    assert data.class_names == WNIDS
    x, _ = data[0]
    assert torch.equal(x, torch.from_numpy(images[names[0]][1].transpose(2, 0, 1) / np.float32(255)))


def test_imagenet_errors(tmp_path):
    flat = tmp_path / "val"
    _png(flat / "a.png", np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(DataError, match="need a labels file"):
        resolve_source(f"imagenet:{flat}").load("all")
    (flat / "labels.txt").write_text("0\n1\n")
    with pytest.raises(DataError, match="2 labels .* for 1 images"):
        resolve_source(f"imagenet:{flat}").load("all")
    (flat / "labels.txt").unlink()
    (tmp_path / "ILSVRC2012_validation_ground_truth.txt").write_text("1\n")
    with pytest.raises(DataError, match="need the devkit's meta.mat"):
        resolve_source(f"imagenet:{flat}").load("all")


def _tarball(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar_download_checks_md5_and_extracts_safely(tmp_path, monkeypatch):
    source, _ = make_cifar(tmp_path / "made", "cifar10", "binary")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    members = {f"cifar-10-batches-bin/{p.name}": p.read_bytes() for p in source.iterdir()}
    checksum = _tarball(mirror / "cifar-10-binary.tar.gz", members)
    monkeypatch.setitem(cifar.ARCHIVES, ("cifar10", "binary"), ("cifar-10-binary.tar.gz", checksum))
    folder = cifar.download("cifar10", tmp_path / "data", "binary", mirrors=(mirror.as_uri(),))
    assert folder == tmp_path / "data" / "cifar-10-batches-bin"
    assert len(resolve_source(f"cifar10:{tmp_path / 'data'}").load("test")) == 4

    monkeypatch.setitem(cifar.ARCHIVES, ("cifar10", "binary"), ("cifar-10-binary.tar.gz", "0" * 32))
    with pytest.raises(DataError, match="checksum mismatch"):
        cifar.download("cifar10", tmp_path / "bad", "binary", mirrors=(mirror.as_uri(),))
    assert not (tmp_path / "bad").exists() or list((tmp_path / "bad").iterdir()) == []

    checksum = _tarball(mirror / "cifar-10-binary.tar.gz", {"../escaped.txt": b"x"})
    monkeypatch.setitem(cifar.ARCHIVES, ("cifar10", "binary"), ("cifar-10-binary.tar.gz", checksum))
    with pytest.raises(DataError, match="unsafe member"):
        cifar.download("cifar10", tmp_path / "evil", "binary", mirrors=(mirror.as_uri(),))
    assert not (tmp_path / "escaped.txt").exists()


def test_list_and_download_commands_know_the_sources():
    from advkit.cli.main import cli

    listing = CliRunner().invoke(cli, ["list", "datasets"])
    for name in ("cifar10", "cifar100", "imagenet", "imagefolder"):
        assert f"advkit.{name}" in listing.output
    assert "cifar-10-batches-bin" in CliRunner().invoke(cli, ["list", "datasets", "cifar10"]).output
    help_text = CliRunner().invoke(cli, ["download", "--help"]).output
    assert "cifar100" in help_text and "--format" in help_text


def test_python2_pickles_as_the_published_batches_are_read(tmp_path):
    """The published batches are Python 2 pickles: `numpy.core` names and raw pixels as a py2 str."""
    from advkit.data.sources import safe_pickle

    pixels = RNG.integers(0, 256, (2, 6), dtype=np.uint8)
    raw = pixels.tobytes()
    py2 = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85U\x01b\x87Rq\x02"
           b"(K\x01K\x02K\x06\x86cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff"
           b"\xff\xffK\x00tb\x89U" + bytes([len(raw)]) + raw + b"tb.")
    (tmp_path / "batch").write_bytes(py2)
    loaded = safe_pickle.load(tmp_path / "batch")
    assert loaded.dtype == np.uint8 and np.array_equal(loaded, pixels)
