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
    one_line_error(cli("attack", "--plugin", "pgd", "--steps", "0"), 2, "steps must be >= 1")


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
