"""Every bad input gets one clear line on stderr, the right exit code, and no traceback."""

import pickle

import numpy as np
import pytest
import torch


def one_line_error(out, code, *fragments):
    assert out.code == code, (out.code, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_unknown_plugin_suggests(cli):
    one_line_error(cli("attack", "--plugin", "pgf"), 2, "unknown attack 'pgf'", "did you mean", "pgd")


def test_unknown_param_lists_valid(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "-p", "stepz=3"), 2, "no parameter 'stepz'", "steps", "alpha")


def test_mistyped_param_value(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "-p", "steps=many"), 2, "'steps' expects int")


def test_malformed_param(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "-p", "steps"), 2, "KEY=VALUE")


def test_negative_eps(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "--eps", "-0.1"), 2, "eps must be finite and >= 0")
    one_line_error(cli("attack", "--plugin", "pgd", "--eps", "inf"), 2, "eps must be finite and >= 0")


def test_steps_below_one(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "--steps", "0"), 2, "steps must be from 1 to")


def test_steps_for_attack_without_steps(cli):
    one_line_error(cli("attack", "--plugin", "fgsm", "--steps", "3"), 2, "no parameter 'steps'")


def test_missing_model_file(cli, tmp_path):
    one_line_error(cli("attack", "--plugin", "pgd", "--model", tmp_path / "nope.safetensors", "--data", "digits"),
                   1, "not found")


def test_missing_data_file(cli, tmp_path):
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnn", "--data", tmp_path / "nope.npz"), 1, "nope.npz")


def test_corrupt_checkpoint(cli, tmp_path):
    for name in ("bad.safetensors", "bad.pt"):
        path = tmp_path / name
        path.write_bytes(b"\x00garbage" * 100)
        one_line_error(cli("attack", "--plugin", "pgd", "--model", path), 1, "cannot read checkpoint")


class _Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {_Payload.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(cli, tmp_path):
    marker = tmp_path / "pwned"
    _Payload.marker = marker
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"advkit": {}, "state_dict": _Payload()}, f)
    torch.save({"advkit": {}, "state_dict": {"w": _Payload()}}, tmp_path / "evil2.pt")
    one_line_error(cli("attack", "--plugin", "pgd", "--model", path), 1, "not a weights-only torch file")
    one_line_error(cli("attack", "--plugin", "pgd", "--model", tmp_path / "evil2.pt"), 1, "refused to load",
                   "would run code", "system")
    assert not marker.exists()


def test_bare_state_dict_is_explained(cli, tmp_path):
    path = tmp_path / "bare.pt"
    torch.save({"w": torch.zeros(2)}, path)
    one_line_error(cli("attack", "--plugin", "pgd", "--model", path), 1, "not an advkit checkpoint")


def _npz(tmp_path, x, y, name="d.npz"):
    path = tmp_path / name
    np.savez(path, x=x, y=y)
    return path


def test_nan_in_data(cli, tmp_path):
    x = np.random.default_rng(0).random((10, 8, 8)).astype(np.float32)
    x[3, 2, 2] = np.nan
    path = _npz(tmp_path, x, np.arange(10) % 10)
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnn", "--data", path), 1, "NaN")


def test_pixels_outside_bounds(cli, tmp_path):
    path = _npz(tmp_path, np.random.default_rng(0).random((10, 8, 8)).astype(np.float32) * 3, np.arange(10) % 10)
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnn", "--data", path), 1, "outside the model's input bounds")


def test_labels_beyond_model_classes(cli, tmp_path, default_model):
    path = _npz(tmp_path, np.random.default_rng(0).random((10, 8, 8)).astype(np.float32), np.arange(10) + 5)
    ckpt = tmp_path / "m.safetensors"
    from advkit import save_model

    save_model(default_model, ckpt)
    one_line_error(cli("attack", "--plugin", "pgd", "--model", ckpt, "--data", path), 1,
                   "not below the model's 10 classes")


def test_shape_mismatch(cli, tmp_path, default_model):
    path = _npz(tmp_path, np.random.default_rng(0).random((10, 12, 12)).astype(np.float32), np.arange(10) % 10)
    ckpt = tmp_path / "m.safetensors"
    from advkit import save_model

    save_model(default_model, ckpt)
    one_line_error(cli("attack", "--plugin", "pgd", "--model", ckpt, "--data", path), 1, "shape")


def test_n_larger_than_data(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "--n", "100000"), 2, "larger than the data")


def test_unknown_model_and_dataset(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnnn", "--data", "digits"), 2, "did you mean", "cnn")
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnn", "--data", "digitz"), 2, "did you mean", "digits")


def test_bad_model_parameter(cli):
    one_line_error(cli("train", "--model", "cnn:widht=8", "--out", "x.safetensors"), 2, "no parameter 'widht'")
    one_line_error(cli("train", "--model", "mlp:activation=sine", "--out", "x.safetensors"), 2,
                   "unknown activation 'sine'")


def test_click_usage_errors_are_one_line(cli):
    one_line_error(cli("attack"), 2, "--plugin")
    one_line_error(cli("attack", "--plugin", "pgd", "--n", "ten"), 2, "ten")


def test_cuda_unavailable(cli):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    one_line_error(cli("attack", "--plugin", "pgd", "--device", "cuda"), 2, "CUDA is not available")


def test_debug_shows_traceback(cli, monkeypatch):
    from advkit.errors import UsageError

    monkeypatch.setenv("ADVKIT_DEBUG", "1")
    with pytest.raises(UsageError):
        cli("attack", "--plugin", "pgf")


def test_failing_model_factory(cli, tmp_path):
    (tmp_path / "boom.py").write_text("def build():\n    raise RuntimeError('no weights here')\n")
    one_line_error(cli("attack", "--plugin", "pgd", "--model", f"{tmp_path / 'boom.py'}:build", "--data", "digits"),
                   1, "build() failed", "no weights here")
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "json:dumps", "--data", "digits"), 1, "dumps() failed")


def test_unwritable_output(cli, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    one_line_error(cli("attack", "--plugin", "fgsm", "--n", "4", "--out", blocker / "sub"), 1, "cannot write")


def test_bad_numbers_in_lists(cli):
    one_line_error(cli("attack", "--plugin", "pgd", "--model", "cnn", "--bounds", "0,1/0"), 2, "--bounds")


def test_train_needs_an_epoch(cli, tmp_path):
    one_line_error(cli("train", "--model", "linear", "--epochs", "0", "--out", tmp_path / "m.safetensors"), 2,
                   "--epochs must be >= 1")


def _huge_npy_member(tmp_path):
    """An .npz whose x.npy header declares 292 GiB (78,383,153,152 float32 values) over 64 bytes."""
    import io
    import struct
    import zipfile

    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (78383153152,), }"
    header += " " * (117 - len(header)) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64
    labels = io.BytesIO()
    np.save(labels, np.arange(10))
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", npy)
        archive.writestr("y.npy", labels.getvalue())
    return path


def _bad_npz(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "zero-bytes":
        path.write_bytes(b"")
    elif kind == "no-arrays":
        np.savez(path)
    elif kind == "truncated":
        _npz(tmp_path, np.zeros((10, 8, 8), np.float32), np.arange(10), "whole.npz")
        data = (tmp_path / "whole.npz").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "292-GiB-header":
        path = _huge_npy_member(tmp_path)
    return path


@pytest.mark.parametrize(("kind", "message"), [
    ("zero-bytes", "the file is empty (0 bytes)"),
    ("no-arrays", "must hold arrays 'x' and 'y'"),
    ("truncated", "not an .npz archive"),
    ("292-GiB-header", "declares shape [78383153152] (292.0 GiB) but the archive holds 64 bytes"),
])
def test_broken_npz_files(cli, tmp_path, kind, message):
    path = _bad_npz(tmp_path, kind)
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "cnn", "--data", path), 1, message)


def _png(path, size=(8, 8)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size[::-1], np.uint8)).save(path)
    return path


def test_a_decompression_bomb_png_is_refused_by_name(cli, tmp_path):
    import struct
    import zlib

    _png(tmp_path / "pics" / "a" / "ok.png")
    bomb = _png(tmp_path / "pics" / "b" / "bomb.png")
    data = bytearray(bomb.read_bytes())  # claim 100000 x 100000 pixels in the IHDR chunk (a 70-byte file)
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb.write_bytes(bytes(data))
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "cnn", "--data", tmp_path / "pics"), 1,
                   f"refused image {bomb}", "decompression bomb")


def test_the_odd_sized_image_is_named(cli, tmp_path):
    for i in range(3):
        _png(tmp_path / "pics" / "a" / f"{i}.png")
        _png(tmp_path / "pics" / "b" / f"{i}.png")
    odd = _png(tmp_path / "pics" / "b" / "odd.png", size=(9, 8))
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", "cnn", "--data", tmp_path / "pics"), 1,
                   f"image {odd} is 9x8 pixels, the others 8x8")


@pytest.mark.parametrize(("args", "message"), [
    (("--eps", "1e300"), "eps 1e+300 is too large"),
    (("--seed", str(2**70)), "--seed"),
    (("--device", "meta"), "--device 'meta' cannot run models"),
    (("-p", "seed=5"), "-p seed: 'seed' is advkit's own argument, not a parameter of the attack; use --seed"),
    (("-p", "batch_size=8"), "use --batch-size"),
    (("-p", "targets=1"), "use --targeted"),
    (("-p", "model=cnn"), "use --model"),
    (("-p", "x=1"), "use --data"),
    (("-p", "progress=1"), "-p progress: 'progress' is advkit's own argument"),
    (("-p", "eps=0.1", "--eps", "0.2"), "eps given twice"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_options_and_colliding_params(cli, args, message):
    one_line_error(cli("attack", "--plugin", "pgd", "--n", "4", *args), 2, message)


def test_colliding_params_of_other_commands(cli, tmp_path):
    one_line_error(cli("defend", "--plugin", "pgd-at", "--model", "linear", "--epochs", "1", "--out", tmp_path / "d",
                       "--eval-param", "seed=3"), 2, "-p seed", "use --seed")
    one_line_error(cli("defend", "--plugin", "pgd-at", "--model", "linear", "--epochs", "1", "--out", tmp_path / "d",
                       "-p", "kind=x"), 2, "-p kind: 'kind' is advkit's own argument, not a parameter of the defense")


def test_a_torchscript_model_failing_at_run_time(cli, tmp_path):
    class Picky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 10)

        def forward(self, x):
            if x.shape[0] > 2:
                raise RuntimeError("batches over 2 are not supported")
            return self.fc(x.flatten(1))

    path = tmp_path / "picky.ts"
    torch.jit.save(torch.jit.script(Picky()), str(path))
    out = cli("attack", "--plugin", "fgsm", "--model", path, "--n", "8")
    one_line_error(out, 1, "TorchScript model failed", "batches over 2 are not supported")
    assert "Traceback of TorchScript" not in out.stderr and "File " not in out.stderr


@pytest.mark.parametrize("where", ["on import", "in the factory"])
def test_a_factory_that_calls_sys_exit(cli, tmp_path, where):
    body = ("import sys\nsys.exit(3)\n" if where == "on import" else "") + "def build():\n    raise SystemExit(0)\n"
    (tmp_path / "quits.py").write_text(body)
    spec = f"{tmp_path / 'quits.py'}:build"
    one_line_error(cli("attack", "--plugin", "fgsm", "--model", spec, "--n", "4"), 1,
                   "called sys.exit(3)" if where == "on import" else "build() called sys.exit(0)")


def test_an_eof_inside_a_command_is_not_reported_as_interrupted(cli, monkeypatch):
    from advkit.data import dataset

    def eof(*args, **kwargs):
        raise EOFError("No data left in file")

    monkeypatch.setattr(dataset, "load_data", eof)
    one_line_error(cli("attack", "--plugin", "fgsm", "--n", "4"), 1, "unexpected end of input", "No data left")


@pytest.mark.parametrize("args, code, fragment", [
    (("attack", "--plugin", "pgd", "-n", "4", "--steps", "99999999999999999999"), 2, "steps must be from 1 to"),
    (("attack", "--plugin", "pgd", "-n", "4", "-p", "steps=2", "-p", "steps=3"), 2, "steps given twice"),
    (("attack", "--plugin", "pgd", "-n", "4", "--eps", "8/255/2"), 2, "expects float, got '8/255/2'"),
    (("evaluate", "--attacks", "fgsm", "-n", "4", "--eps", "0.1,,0.2"), 2, "expects comma-separated numbers"),
    (("evaluate", "--attacks", "", "-n", "4"), 2, "--attacks is empty"),
    (("train", "--model", "linear", "--epochs", "1", "-n", "16", "--lr", "inf", "--out", "OUT/m.safetensors"), 2,
     "--lr must be finite"),
])
def test_typos_in_numbers_and_parameters_are_refused(cli, tmp_path, args, code, fragment):
    args = [a.replace("OUT", str(tmp_path)) for a in args]
    one_line_error(cli(*args), code, fragment)
    assert not (tmp_path / "m.safetensors").exists()


def test_empty_data_and_a_fifo_model_are_refused(cli, tmp_path, default_model):
    import os

    np.savez(tmp_path / "empty.npz", x=np.zeros((0, 8, 8), np.float32), y=np.zeros(0, np.int64))
    one_line_error(cli("attack", "--plugin", "fgsm", "--data", tmp_path / "empty.npz", "--model", "cnn"), 1,
                   "has no samples")
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block forever
    one_line_error(cli("attack", "--plugin", "fgsm", "-n", "8", "--model", tmp_path / "fifo"), 1,
                   "is not a regular file")


def test_zero_classes_is_refused_before_building(digits):
    import advkit

    with pytest.raises(advkit.UsageError, match="num_classes must be a whole number >= 1"):
        advkit.load_model("linear", num_classes=0, input_shape=(1, 8, 8))


def test_an_attack_calling_sys_exit_is_its_error(default_model, digits):
    import advkit

    class Quitter(advkit.Attack):
        name, norm = "quitter", "Linf"

        def perturb(self, x, y):
            raise SystemExit(0)

    with pytest.raises(advkit.AttackContractError, match=r"called sys.exit\(0\)"):
        Quitter(default_model)(digits.x[:4], digits.y[:4])


def test_a_spec_ending_in_a_colon_and_a_missing_choice_are_one_line(cli):
    one_line_error(cli("attack", "--plugin", "fgsm", "-n", "4", "--model", "mlp:"), 2, "ends with ':'")
    one_line_error(cli("list"), 2, "Missing argument", "Choose from: attacks, defenses")


def test_integer_weights_are_refused_not_rounded(cli, tmp_path):
    import advkit
    from safetensors.torch import load_file, save_file

    model = advkit.load_model("linear", input_shape=(1, 8, 8), num_classes=10)
    advkit.save_model(model, tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        metadata = f.metadata()
    state = {k: v.to(torch.int32) for k, v in load_file(str(tmp_path / "m.safetensors")).items()}
    save_file(state, str(tmp_path / "int.safetensors"), metadata=metadata)
    one_line_error(cli("attack", "--plugin", "fgsm", "-n", "4", "--model", tmp_path / "int.safetensors"), 1,
                   "is int32, the network's weights are floating point")
