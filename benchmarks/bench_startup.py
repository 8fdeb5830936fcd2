"""Start-up time of the torch-free commands next to `python -c pass` (median of repeats).

    python benchmarks/bench_startup.py [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "advkit --help": [sys.executable, "-m", "advkit", "--help"],
    "advkit plugins": [sys.executable, "-m", "advkit", "plugins"],
    "advkit list attacks": [sys.executable, "-m", "advkit", "list", "attacks"],
}


def wall(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args()
    results = {name: wall(cmd, args.repeats) for name, cmd in COMMANDS.items()}
    base = results["python -c pass"]
    print(f"{'command':<28} {'median s':>9} {'x python':>9}")
    for name, seconds in results.items():
        print(f"{name:<28} {seconds:>9.3f} {seconds / base:>9.1f}")
    if args.json_path:
        from advkit.reporting.files import write_json
        from advkit.reporting.provenance import versions

        write_json(args.json_path, {"median_seconds": results, "repeats": args.repeats, "versions": versions()})


if __name__ == "__main__":
    main()
