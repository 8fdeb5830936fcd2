"""Scale-out under torchrun: `evaluate` and PGD adversarial training with 1 and N ranks on the same work.

    python benchmarks/bench_distributed.py [--ranks 2] [--n 359] [--epochs 3] [--out bench_distributed.json]

Each job runs as `torchrun --standalone --nproc_per_node=K -m advkit ...` (gloo on CPU, NCCL on CUDA; with
one thread per rank on CPU), so process start-up is in every measurement. Prints wall time, samples/s,
scaling efficiency (T1 / (K x TK)) and whether the K-rank result equals the 1-rank one: evaluate's
summary without wall-clock fields (it must), training's robust accuracy (a K-rank run has a K x larger
global batch, so its weights differ from one rank's by design; its ranks' weights agree, checked by
the training loop after every epoch).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE, EPS = "fgsm,pgd:random_start=false,steps=10", "0.05,0.1,0.2"


def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items()
                if k not in ("seconds", "started", "samples_per_second", "distributed", "device")}
    return [untimed(v) for v in value] if isinstance(value, list) else value


def torchrun(ranks: int, *args) -> tuple[float, dict]:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
               "-m", "advkit", *map(str, args), "--progress", "none", "--json"]
    started = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if run.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{run.stderr[-3000:]}")
    return seconds, json.loads(run.stdout)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, default=max(2, torch.cuda.device_count()))
    parser.add_argument("--n", type=int, default=359)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="bench_distributed.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        evaluate = ("evaluate", "--attacks", SUITE, "--eps", EPS, "-n", args.n)
        defend = ("defend", "--plugin", "pgd-training", "--model", "cnn", "--epochs", args.epochs, "--eval-n", 200,
                  "-p", "eps=0.1", "--eval-param", "steps=10")
        for job, command, samples in (("evaluate", evaluate, args.n), ("pgd-training", defend, 1438 * args.epochs)):
            results = {}
            for k in (1, args.ranks):
                extra = ("--out", Path(tmp) / f"{job}-{k}" / ("m.safetensors" if job != "evaluate" else ""))
                results[k] = torchrun(k, *command, *extra)
            t1, tk = results[1][0], results[args.ranks][0]
            if job == "evaluate":
                same = untimed(results[1][1]) == untimed(results[args.ranks][1])
                check = "summary identical" if same else "SUMMARY DIFFERS"
            else:
                r1, rk = (results[k][1]["after"]["robust_accuracy"] for k in (1, args.ranks))
                check = f"robust acc {r1:.3f} (1 rank) vs {rk:.3f} ({args.ranks} ranks)"
            rows.append({"job": job, "samples": samples, "seconds_1": round(t1, 2), f"seconds_{args.ranks}": round(tk, 2),
                         "samples_per_s_1": round(samples / t1, 1), f"samples_per_s_{args.ranks}": round(samples / tk, 1),
                         "efficiency": round(t1 / (args.ranks * tk), 3), "check": check})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"| job | samples | 1 rank s | {args.ranks} ranks s | samples/s 1 | samples/s {args.ranks} | efficiency | check |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['job']} | {r['samples']} | {r['seconds_1']} | {r[f'seconds_{args.ranks}']} | {r['samples_per_s_1']} | "
              f"{r[f'samples_per_s_{args.ranks}']} | {r['efficiency']} | {r['check']} |")
    from advkit.reporting.files import write_json
    from advkit.reporting.provenance import envelope

    write_json(args.out, {**envelope(plugins=["torchattacks", "advtrain"], seed=0, device=device,
                                     params={"ranks": args.ranks, "n": args.n, "epochs": args.epochs,
                                             "suite": SUITE, "eps": EPS}),
                          "cpus": os.cpu_count(), "rows": rows})


if __name__ == "__main__":
    main()
