"""Output files (only regular files replaced, modes kept, no temp files left, all-or-nothing result sets,
a clear full-disk line) and the default-model cache (checksum, unwritable cache, one training for
concurrent first runs)."""

from __future__ import annotations

import errno
import os
import pathlib
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from advkit.errors import AdvkitError, UsageError
from advkit.reporting import files

REPO = Path(__file__).resolve().parents[1]


def one_line_error(out, code, *fragments):
    assert out.code == code, (out.code, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- output files -----------------------------------------------------------------------------------

def test_special_files_are_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "dir").mkdir()
    (tmp_path / "to-fifo").symlink_to(fifo)
    for target, what in ((fifo, "a FIFO"), (tmp_path / "dir", "a directory"), (tmp_path / "to-fifo", "a FIFO")):
        for write in (lambda p: files.write_text(p, "x"), lambda p: files.write_json(p, {}),
                      lambda p: files.write_npz(p, a=[1])):
            with pytest.raises(UsageError, match=f"it is {what}, not a regular file"):
                write(target)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and (tmp_path / "to-fifo").is_symlink()
    assert (tmp_path / "dir").is_dir() and leftovers(tmp_path) == []


def test_a_symlink_is_written_through_and_modes_are_kept(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    files.write_json(link, {"a": 1})
    assert link.is_symlink() and target.read_text() == '{\n  "a": 1\n}\n'
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    files.write_text(target, "again")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    files.write_text(tmp_path / "new.txt", "x")
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o666 & ~files.UMASK


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "state.pt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("serializer broke")
    with pytest.raises(AdvkitError, match=f"no space left on {tmp_path}"):
        with files.atomic_path(path) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device")
    assert path.read_text() == "old" and leftovers(tmp_path) == []


def test_sigterm_mid_write_removes_the_temp_file(tmp_path):
    path = tmp_path / "m.safetensors.resume.pt"
    path.write_text("epoch 1")
    script = ("import sys, time\nfrom advkit.reporting.files import atomic_path\n"
              "with atomic_path(sys.argv[1]) as tmp:\n"
              "    tmp.write_text('epoch 2, half written')\n"
              "    print('writing', flush=True)\n"
              "    time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "writing"
        assert len(leftovers(tmp_path)) == 1
        child.terminate()
        assert child.wait(timeout=20) == -15  # still dies of SIGTERM
    finally:
        child.kill()
    assert leftovers(tmp_path) == [] and path.read_text() == "epoch 1"


def test_commands_refuse_special_outputs_before_any_work(cli, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.perf_counter()
    one_line_error(cli("train", "--model", "linear", "--epochs", "1", "--out", fifo), 2,
                   str(fifo), "it is a FIFO, not a regular file")
    one_line_error(cli("attack", "--plugin", "fgsm", "--n", "4", "--out", fifo), 2, "it is a FIFO, not a directory")
    one_line_error(cli("evaluate", "--n", "4", "--out", fifo), 2, "it is a FIFO, not a directory")
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "result.json")
    one_line_error(cli("attack", "--plugin", "fgsm", "--n", "4", "--out", out), 2,
                   "result.json: it is a FIFO, not a regular file")
    assert time.perf_counter() - started < 5  # refused before loading or training anything
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISFIFO(os.stat(out / "result.json").st_mode)


def _full_disk_on(monkeypatch, name: str):
    write = pathlib.Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == name or self.name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)


def test_a_full_disk_leaves_the_previous_result_set(monkeypatch, tmp_path):
    from advkit.reporting.figures import pyplot, write_bundle

    out = tmp_path / "out"
    out.mkdir()
    (out / "result.json").write_text("previous run")
    plt = pyplot()
    figures = {"curve": plt.figure(), "examples": plt.figure()}
    _full_disk_on(monkeypatch, "report.md")
    with pytest.raises(AdvkitError) as caught:
        write_bundle(out, {"a": 1}, figures, markdown=lambda summary: "# report\n")
    assert str(caught.value).startswith(f"no space left on {out}")
    assert sorted(os.listdir(out)) == ["result.json"] and (out / "result.json").read_text() == "previous run"
    fresh = tmp_path / "fresh"
    with pytest.raises(AdvkitError, match=f"no space left on {fresh}"):
        write_bundle(fresh, {"a": 1}, {"curve": plt.figure()}, markdown=lambda summary: "# report\n")
    assert not fresh.exists() and leftovers(tmp_path) == []
    assert plt.get_fignums() == []  # the figures are closed either way


def test_a_result_set_is_all_or_nothing_when_a_move_fails(monkeypatch, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.json").write_text("old a")
    replace_file = os.replace

    def failing(src, dst):
        if Path(dst).name == "b.md":
            raise OSError(errno.EIO, "Input/output error")
        return replace_file(src, dst)

    monkeypatch.setattr(files.os, "replace", failing)
    with pytest.raises(AdvkitError, match=f"cannot write into {out}"):
        with files.file_set(out) as stage:
            files.write_text(stage / "a.json", "new a")
            files.write_text(stage / "c.png", "new c")
            (stage / "b.md").write_text("new b")
    assert sorted(os.listdir(out)) == ["a.json"] and (out / "a.json").read_text() == "old a"
    monkeypatch.undo()
    with files.file_set(out) as stage:
        files.write_text(stage / "a.json", "new a")
        files.write_text(stage / "b.md", "new b")
    assert sorted(os.listdir(out)) == ["a.json", "b.md"] and (out / "a.json").read_text() == "new a"


def test_attack_out_on_a_full_disk_is_one_line_and_no_files(cli, monkeypatch, tmp_path):
    import numpy as np

    def savez(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", savez)  # adversarial.npz shards (advkit.reporting.adversarial)
    out = tmp_path / "run"
    one_line_error(cli("attack", "--plugin", "fgsm", "--n", "4", "--out", out), 1, f"no space left on {out}")
    assert not out.exists() and os.listdir(tmp_path) == []


# --- the default-model cache -----------------------------------------------------------------------

@pytest.fixture
def quick_cache(monkeypatch, tmp_path):
    """An empty cache and a one-epoch recipe (the cache logic, not the model, is under test)."""
    from advkit.training import default

    monkeypatch.setenv("ADVKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(default, "RECIPE", replace(default.RECIPE, epochs=1))
    return tmp_path / "cache" / default.FILE


@pytest.mark.parametrize("damage", ["flip", "truncate", "truncate-legacy"])
def test_a_corrupt_cache_is_retrained_with_a_note(quick_cache, capsys, damage):
    from advkit.training.default import default_model

    default_model()
    assert "training the default" in capsys.readouterr().err
    checksum = quick_cache.with_name(quick_cache.name + ".sha256")
    good = quick_cache.read_bytes()
    assert checksum.read_text().split()[0] == __import__("hashlib").sha256(good).hexdigest()
    default_model()
    assert capsys.readouterr().err == ""  # whole: loaded, not retrained
    if damage == "flip":
        quick_cache.write_bytes(good[:-5] + bytes([good[-5] ^ 1]) + good[-4:])
    else:
        quick_cache.write_bytes(good[: len(good) // 2])
        if damage == "truncate-legacy":
            checksum.unlink()  # a cache written before checksums
    model = default_model()
    err = capsys.readouterr().err
    assert "the cached default model" in err and "retraining it" in err and "training the default" in err
    assert model.num_classes == 10 and quick_cache.read_bytes() != good[: len(good) // 2]
    default_model()
    assert capsys.readouterr().err == ""


def test_a_cache_without_checksum_is_adopted(quick_cache, capsys):
    from advkit.training.default import default_model

    default_model()
    checksum = quick_cache.with_name(quick_cache.name + ".sha256")
    checksum.unlink()
    capsys.readouterr()
    default_model()
    assert capsys.readouterr().err == "" and checksum.is_file()


def test_an_unwritable_cache_is_named_and_the_run_finishes(cli, quick_cache, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("ADVKIT_CACHE_DIR", str(blocker / "cache"))
    out = cli("attack", "--plugin", "fgsm", "--n", "8")
    assert out.code == 0, out.stderr
    assert "ADVKIT_CACHE_DIR" in out.stderr and str(blocker / "cache") in out.stderr
    assert "for this run only" in out.stderr and "Traceback" not in out.stderr
    # a cache folder that can be locked but not written to (its file name is taken by a folder)
    monkeypatch.setenv("ADVKIT_CACHE_DIR", str(quick_cache.parent))
    quick_cache.mkdir(parents=True)
    out = cli("attack", "--plugin", "fgsm", "--n", "8")
    assert out.code == 0 and "ADVKIT_CACHE_DIR" in out.stderr, out.stderr


def test_concurrent_first_runs_train_once(tmp_path):
    """Two processes on an empty cache, the real recipe: one trains, the other waits and loads it."""
    env = {**os.environ, "ADVKIT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    script = ("from advkit.training.default import default_model\n"
              "m = default_model()\nprint(sum(float(p.detach().sum()) for p in m.parameters()))\n")
    children = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=REPO, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [child.communicate(timeout=300) for child in children]
    assert [child.returncode for child in children] == [0, 0], results
    errs = "".join(err for _, err in results)
    assert errs.count("training the default") == 1, errs
    assert results[0][0] == results[1][0]  # the same weights
