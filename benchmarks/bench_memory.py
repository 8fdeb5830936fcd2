"""Peak memory (RSS) of streamed commands on generated CIFAR-10 files at two sizes: growth must be per-sample results only.

    python benchmarks/bench_memory.py [--n 1000 10000] [--out benchmarks/results/memory.json]

Writes `cifar-10-batches-bin/test_batch.bin` (random pixels, the real binary format) with the
largest n, saves a small `cnn` with random weights, then runs each case in a fresh process per n
and reads that process's peak RSS (VmHWM). The children fix glibc's mmap threshold as the `attack`
and `evaluate` commands do (`advkit.data.stream.fix_mmap_threshold`); `--unfixed` leaves glibc's
default, to see the fragmentation that avoids. A case is a
function `case_NAME(data_spec, model_path, n, out_dir)` run in the child; add one to measure
another command (`CASES`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def make_cifar(root: Path, n: int, seed: int = 0) -> str:
    """A `cifar10:` folder holding a test batch of `n` random images in the binary format."""
    import numpy as np

    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    records = np.empty((n, 1 + 3 * 32 * 32), dtype=np.uint8)
    records[:, 0] = rng.integers(0, 10, n)
    records[:, 1:] = rng.integers(0, 256, (n, 3 * 32 * 32))
    (folder / "test_batch.bin").write_bytes(records.tobytes())
    (folder / "batches.meta.txt").write_text("\n".join(NAMES) + "\n")
    return f"cifar10:{root}"


def make_model(path: Path) -> str:
    import advkit
    from advkit.models import checkpoints

    checkpoints.save(advkit.load_model("cnn", input_shape=(3, 32, 32), num_classes=10), path)
    return str(path)


def case_attack(data_spec: str, model_path: str, n: int, out_dir: Path) -> dict:
    """`advkit attack --plugin fgsm` with --out (adversarial.npz written batch by batch)."""
    from advkit.workflows.from_specs import attack_from_specs

    _, summary = attack_from_specs("fgsm", model_path, data_spec, n=n, params={"eps": "8/255"}, batch_size=256,
                                   progress="none", out=out_dir, device="cpu")
    return {"robust_accuracy": summary["robust_accuracy"], "seconds": summary["seconds"]}


def case_evaluate(data_spec: str, model_path: str, n: int, out_dir: Path) -> dict:
    """`advkit evaluate` with a small suite (FGSM, 2-step PGD at 0 and 8/255) and --out (state and reports)."""
    from advkit.workflows.from_specs import evaluate_from_specs

    _, summary = evaluate_from_specs(model_path, data_spec, n=n, attacks="fgsm,pgd:steps=2", eps=[0.0, 8 / 255],
                                     batch_size=256, probe=16, progress="none", out=out_dir, device="cpu")
    return {"robust_accuracy": summary["worst_case"][f"{8 / 255:g}"], "seconds": summary["seconds"]}


CASES = {"attack": case_attack, "evaluate": case_evaluate}


def peak_rss_mib() -> float:
    """This process's peak resident set size: VmHWM (reset by exec, unlike ru_maxrss, which a child
    inherits from the parent it was forked from), else ru_maxrss."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def child(case: str, data_spec: str, model_path: str, n: int, out_dir: str, fixed: bool) -> None:
    """Run one case in this process and print its peak RSS (MiB) and outcome as JSON."""
    import torch  # noqa: F401 (the baseline every case shares)

    from advkit.data.stream import fix_mmap_threshold

    if fixed:
        fix_mmap_threshold()

    before = peak_rss_mib()
    outcome = CASES[case](data_spec, model_path, n, Path(out_dir))
    print(json.dumps({"case": case, "n": n, "peak_rss_mib": peak_rss_mib(), "rss_after_import_mib": before,
                      **outcome}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "memory.json"))
    parser.add_argument("--unfixed", action="store_true",
                        help="leave glibc's dynamic mmap threshold as it is (the commands fix it)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data_spec = make_cifar(tmp / "cifar", max(args.n))
        model_path = make_model(tmp / "cnn.safetensors")
        for case in args.cases:
            for n in args.n:
                code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_memory; "
                        f"bench_memory.child({case!r}, {data_spec!r}, {model_path!r}, {n}, {str(tmp / f'{case}-{n}')!r}, "
                        f"{not args.unfixed})")
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
                if done.returncode:
                    sys.exit(f"{case} n={n} failed:\n{done.stderr[-2000:]}")
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"{case:8s} n={n:6d}  peak RSS {rows[-1]['peak_rss_mib']:8.1f} MiB  "
                      f"({rows[-1]['seconds']:.1f} s)", flush=True)
    from advkit.reporting.files import write_json
    from advkit.reporting.provenance import envelope

    write_json(args.out, {**envelope(plugins=["torchattacks"], seed=0, device="cpu"), "rows": rows,
                          "mmap_threshold": "glibc default" if args.unfixed else "fixed (as the commands do)",
                          "note": "peak RSS (VmHWM) of a fresh process per row; cifar10 binary test batch, "
                                  "random pixels, cnn with random weights, CPU"})


if __name__ == "__main__":
    main()
