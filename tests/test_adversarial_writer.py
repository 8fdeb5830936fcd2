"""`AdversarialWriter`: adversarial.npz written shard by shard, merged into the archive np.load reads."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from advkit.errors import DataError, UsageError
from advkit.reporting.adversarial import AdversarialWriter


def whole(n):
    g = torch.Generator().manual_seed(n)
    return {"x_adv": torch.rand(n, 3, 4, 4, generator=g).numpy(), "y": torch.randint(0, 10, (n,), generator=g).numpy(),
            "pred_clean": torch.randint(0, 10, (n,), generator=g).numpy(),
            "pred_adv": torch.randint(0, 10, (n,), generator=g).numpy()}


SAMPLES = whole(12)


def batch(start, stop):
    """(positions, x_adv, y, pred_clean, pred_adv) of SAMPLES[start:stop] as tensors."""
    return (torch.arange(start, stop), *(torch.as_tensor(v[start:stop]) for v in SAMPLES.values()))


def test_batches_merge_into_the_archive_savez_would_write(tmp_path):
    expected = whole(10)
    with AdversarialWriter(tmp_path / "adversarial.npz") as writer:
        for start in (0, 4, 8):
            stop = min(start + 4, 10)
            writer.add(torch.arange(start, stop), *(torch.as_tensor(v[start:stop]) for v in expected.values()))
    with np.load(tmp_path / "adversarial.npz") as arrays:
        assert sorted(arrays.files) == sorted(expected)
        for key, value in expected.items():
            assert arrays[key].dtype == value.dtype
            np.testing.assert_array_equal(arrays[key], value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adversarial.npz"]  # parts folder and temp files gone


def test_batches_added_out_of_order_are_stored_by_position(tmp_path):
    expected = whole(9)
    writer = AdversarialWriter(tmp_path / "a.npz")
    for start in (6, 0, 3):
        rows = np.arange(start, start + 3)[::-1].copy()  # also reversed inside the batch
        writer.add(rows, *(v[rows] for v in expected.values()), targets=rows % 2)
    writer.close()
    with np.load(tmp_path / "a.npz") as arrays:
        np.testing.assert_array_equal(arrays["x_adv"], expected["x_adv"])
        np.testing.assert_array_equal(arrays["targets"], np.arange(9) % 2)


def test_a_reopened_writer_continues_the_shards_on_disk(tmp_path):
    first = AdversarialWriter(tmp_path / "a.npz", keep=True)
    first.add(*batch(0, 4))
    first.add(*batch(4, 6))
    del first  # the process "died" here: shards stay
    (tmp_path / ".a.npz.parts" / ".part-000002.npz.x.tmp").write_bytes(b"half a shard")
    again = AdversarialWriter(tmp_path / "a.npz", keep=True)
    np.testing.assert_array_equal(again.written, np.arange(6))
    assert not list((tmp_path / ".a.npz.parts").glob(".*.tmp"))
    np.testing.assert_array_equal(again.keep_only(np.arange(4)), np.arange(4))  # redo 4, 5 with new batches
    again.add(*batch(4, 6))
    again.add(*batch(6, 8))
    again.close(n=8)
    with np.load(tmp_path / "a.npz") as arrays:
        for key, value in SAMPLES.items():
            np.testing.assert_array_equal(arrays[key], value[:8])


def test_closing_with_positions_missing_or_added_twice_is_refused(tmp_path):
    writer = AdversarialWriter(tmp_path / "a.npz")
    writer.add(*batch(0, 3))
    writer.add(*batch(5, 7))
    with pytest.raises(UsageError, match=r"2 of 7 positions missing \(first \[3, 4\]\)"):
        writer.close()
    with pytest.raises(UsageError, match="added twice"):
        writer.add(*batch(2, 4))
    with pytest.raises(UsageError, match="missing"):
        writer.close(n=10)
    assert not (tmp_path / "a.npz").exists()


def test_a_batch_that_does_not_match_the_shards_is_refused(tmp_path):
    writer = AdversarialWriter(tmp_path / "a.npz")
    writer.add(*batch(0, 2))
    index, x, y, pc, pa = batch(2, 4)
    with pytest.raises(DataError, match="does not match"):
        writer.add(index, x[:, :1], y, pc, pa)
    with pytest.raises(DataError, match="does not match"):
        writer.add(index, x, y, pc, pa, targets=y)
    with pytest.raises(UsageError, match="1 rows for 2 positions"):
        writer.add(index, x, y[:1], pc, pa)


def test_an_error_inside_the_block_removes_the_shards_unless_kept(tmp_path):
    with pytest.raises(RuntimeError), AdversarialWriter(tmp_path / "a.npz") as writer:
        writer.add(*batch(0, 2))
        raise RuntimeError("attack failed")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError), AdversarialWriter(tmp_path / "b.npz", keep=True) as writer:
        writer.add(*batch(0, 2))
        raise RuntimeError("attack failed")
    assert len(list((tmp_path / ".b.npz.parts").glob("part-*.npz"))) == 1


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_removes_the_shards_of_a_writer_that_does_not_keep_them(tmp_path):
    script = textwrap.dedent(f"""
        import os, signal, sys, numpy as np
        from advkit.reporting.adversarial import AdversarialWriter
        kept = AdversarialWriter({str(tmp_path / "kept.npz")!r}, keep=True)
        gone = AdversarialWriter({str(tmp_path / "gone.npz")!r})
        for w in (kept, gone):
            w.add(np.arange(2), np.zeros((2, 1, 2, 2), np.float32), np.zeros(2, np.int64), np.zeros(2, np.int64),
                  np.zeros(2, np.int64))
        os.kill(os.getpid(), signal.SIGTERM)
    """)
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kept.npz.parts"]
