"""Szegedy et al. 2014, Table 1 at CPU scale: L-BFGS success and distortion on MNIST models.

Trains FC100-100-10 and FC10 (softmax regression) at weight decay 1e-4 / 1e-2 / 1 on the 8,000-image
training split of the MNIST test set, attacks `--n` test images with szegedy.lbfgs toward random
wrong classes, and prints test error, attack success and mean distortion sqrt(mean(r^2)).

    python benchmarks/bench_szegedy.py --mnist ../shared/data/mnist --n 100 --out szegedy.json
"""

from __future__ import annotations

import argparse
import time

import advkit
from advkit.reporting.files import write_json
from advkit.reporting.provenance import versions

MODELS = [("FC100-100-10", "mlp:hidden=100-100", 0.0), ("FC10(1e-4)", "linear", 1e-4),
          ("FC10(1e-2)", "linear", 1e-2), ("FC10(1)", "linear", 1.0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/data/mnist", help="folder with the MNIST IDX files")
    parser.add_argument("--n", type=int, default=100, help="test images attacked per model")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()

    spec = f"mnist:{args.mnist}"
    train, test = advkit.load_data(spec, split="train"), advkit.load_data(spec, split="test")
    attacked = test.subset(slice(0, args.n))
    rows = []
    for label, architecture, weight_decay in MODELS:
        model = advkit.load_model(architecture, input_shape=train.input_shape, num_classes=train.num_classes)
        config = advkit.TrainConfig(epochs=args.epochs, weight_decay=weight_decay, seed=args.seed)
        advkit.train(model, train.x, train.y, config, progress=False, tag=label)
        test_error = float((advkit.predict(model, test.x) != test.y).float().mean())
        started = time.perf_counter()
        result = advkit.attack("szegedy.lbfgs", model, attacked.x, attacked.y, targets="random", seed=args.seed)
        summary = result.summary()
        rows.append({"model": label, "weight_decay": weight_decay, "test_error": test_error,
                     "success_rate": summary["success_rate"], "distortion": summary["perturbation"]["rms_mean"],
                     "seconds": round(time.perf_counter() - started, 1)})
        print(f"{label:14s} wd={weight_decay:<7g} test error {test_error:6.2%}  success {rows[-1]['success_rate']:6.1%}"
              f"  distortion {rows[-1]['distortion']:.4f}  ({rows[-1]['seconds']} s)", flush=True)
    if args.out:
        write_json(args.out, {"benchmark": "szegedy table 1", "n": args.n, "epochs": args.epochs, "seed": args.seed,
                              "attack": "szegedy.lbfgs (defaults, random targets)", "rows": rows,
                              "versions": versions(["szegedy"])})


if __name__ == "__main__":
    main()
