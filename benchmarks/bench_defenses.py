"""Reproduce the defense results of PAPERS.md sections 3 and 5 at CPU scale; print tables, write JSON.

1. Defensive distillation at T = 1, 10, 100 (plus the undistilled model): clean accuracy, FGSM and
   JSMA success (both fooled by the masked gradients) and C&W-L2 success on the logits (not fooled).
2. Smooth adversarial training: the same PGD-1 training with ReLU, SiLU and parametric softplus
   (and the smooth-backward ReLU), clean and PGD-20 robust accuracy over several seeds.

    python benchmarks/bench_defenses.py --data mnist:../shared/data/mnist --out runs/bench_defenses.json
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import advkit
from advkit.reporting.files import write_json
from advkit.reporting.provenance import versions
from advkit.training.loop import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits", help="digits or mnist:DIR")
    parser.add_argument("--arch", default="cnn:width=16")
    parser.add_argument("--n-train", type=int, default=None, help="training samples (default: the whole split)")
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (T = 100 needs about 1e-2)")
    parser.add_argument("--fgsm-eps", type=float, default=0.3)
    parser.add_argument("--pgd-eps", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the smooth-activation comparison")
    parser.add_argument("--out", default="runs/bench_defenses.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train = advkit.load_data(args.data, split="train", n=args.n_train, seed=0)
    test = advkit.load_data(args.data, split="test", n=args.n_test, seed=0)
    results = {"args": vars(args), "versions": versions(), "device": "cpu",
               "distillation": distillation(args, train, test), "sat": smooth_training(args, train, test)}
    write_json(args.out, results)
    print(f"wrote {args.out}")


def fresh(args, data, seed: int):
    torch.manual_seed(seed)
    return advkit.load_model(args.arch, input_shape=data.input_shape, num_classes=data.num_classes)


def distillation(args, train, test) -> list[dict]:
    config = TrainConfig(epochs=args.epochs, lr=args.lr, seed=0)
    baseline = fresh(args, train, 0)
    advkit.train(baseline, train.x, train.y, config, progress=False)
    models = [("undistilled", baseline)]
    for temperature in (1, 10, 100):
        model, _ = advkit.defend("distillation", fresh(args, train, 0), train, test, config=config,
                                 params={"temperature": temperature}, eval_attack="fgsm",
                                 eval_params={"eps": args.fgsm_eps})
        models.append((f"T={temperature}", model))
    rows = []
    print(f"\nDefensive distillation ({args.data}, {args.arch}, n_test={len(test)}, FGSM eps={args.fgsm_eps})")
    print(f"{'model':<12} {'clean':>7} {'FGSM':>7} {'JSMA':>7} {'C&W-L2':>7} {'C&W L2':>7} {'|z|_1':>9} "
          f"{'zero grad':>9}")
    from advkit.training.defend import gradient_statistics

    for label, model in models:
        started = time.perf_counter()
        fgsm = advkit.attack("fgsm", model, test.x, test.y, eps=args.fgsm_eps)
        jsma = advkit.attack("torchattacks.jsma", model, test.x, test.y)
        cw = advkit.attack("torchattacks.cw", model, test.x, test.y, c=1.0, steps=100, lr=0.05)
        stats = gradient_statistics(model, test.x, test.y)
        row = {"model": label, "clean_accuracy": fgsm.clean_accuracy, "fgsm_success": fgsm.success_rate,
               "jsma_success": jsma.success_rate, "cw_success": cw.success_rate,
               "cw_l2_mean": cw.summary()["perturbation"]["l2_mean"], **stats,
               "attack_params": {"fgsm": fgsm.params, "jsma": jsma.params, "cw": cw.params},
               "seconds": round(time.perf_counter() - started, 1)}
        rows.append(row)
        print(f"{label:<12} {row['clean_accuracy']:>7.2%} {row['fgsm_success']:>7.2%} {row['jsma_success']:>7.2%} "
              f"{row['cw_success']:>7.2%} {row['cw_l2_mean']:>7.3f} {row['logit_l1_mean']:>9.1f} "
              f"{row['zero_gradient_share']:>9.2%}")
    return rows


def smooth_training(args, train, test) -> list[dict]:
    eps = args.pgd_eps
    evaluation = {"eps": eps, "alpha": 2.5 * eps / 20, "steps": 20, "random_start": True}
    variants = [("relu", "both"), ("silu", "both"), ("psoftplus", "both"),
                ("sbrelu", "attacker"), ("sbrelu", "optimizer"), ("sbrelu", "both")]
    rows = []
    print(f"\nSmooth adversarial training: PGD-1 training (eps={eps}, step={eps}, random start), "
          f"PGD-20 evaluation, {args.seeds} seeds (mean +- stdev)")
    print(f"{'activation':<22} {'clean':>16} {'PGD-20 robust':>16} {'seconds':>8}")
    for activation, smooth_for in variants:
        clean, robust, seconds = [], [], []
        for seed in range(args.seeds):
            config = TrainConfig(epochs=args.epochs, lr=1e-3, seed=seed)
            started = time.perf_counter()
            _, summary = advkit.defend("sat", fresh(args, train, seed), train, test, config=config,
                                       params={"activation": activation, "eps": eps, "step_size": eps,
                                               "smooth_for": smooth_for}, eval_params=evaluation)
            clean.append(summary["after"]["clean_accuracy"])
            robust.append(summary["after"]["robust_accuracy"])
            seconds.append(time.perf_counter() - started)
        label = activation if activation != "sbrelu" else f"sbrelu ({smooth_for})"
        row = {"activation": label, "clean": clean, "robust": robust, "seconds": [round(s, 1) for s in seconds],
               "eval": evaluation}
        rows.append(row)
        print(f"{label:<22} {_spread(clean):>16} {_spread(robust):>16} {statistics.mean(seconds):>8.1f}")
    return rows


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2%}"
    return f"{statistics.mean(values):.2%} +- {statistics.stdev(values):.2%}"


if __name__ == "__main__":
    main()
