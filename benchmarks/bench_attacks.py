"""FGSM, PGD, C&W-L2 and DeepFool through advkit next to raw torchattacks and raw ART.

One model, one batch, one run. For each attack and library: robust accuracy through advkit and
through the library itself (same parameters, same seed), whether the adversarial images are
identical, the median wall time of `--repeats` runs and the ratio advkit / library. Both sides do
the same work: the attack plus the clean and adversarial predictions behind robust accuracy.

    python benchmarks/bench_attacks.py --n 256 --repeats 5 --out benchmarks/results/bench_attacks.json
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import time

import numpy as np
import torch

import advkit
from advkit.plugins.registry import registry
from advkit.reporting.files import write_json
from advkit.reporting.provenance import envelope
from advkit.seeding import seed_everything

# name: (torchattacks class and parameters, ART class and parameters, ART plugin name)
ATTACKS = {
    "fgsm": (("FGSM", {"eps": 0.1}),
             ("FastGradientMethod", {"norm": "inf", "eps": 0.1}), "art.fgsm"),
    "pgd": (("PGD", {"eps": 0.1, "alpha": 0.01, "steps": 20, "random_start": False}),
            ("ProjectedGradientDescent", {"norm": "inf", "eps": 0.1, "eps_step": 0.01, "max_iter": 20}), "art.pgd"),
    "cw": (("CW", {"c": 1.0, "kappa": 0.0, "steps": 50, "lr": 0.01}),
           ("CarliniL2Method", {"confidence": 0.0, "learning_rate": 0.01, "binary_search_steps": 1,
                                "max_iter": 50, "initial_const": 1.0}), "art.cw-l2"),
    "deepfool": (("DeepFool", {"steps": 50, "overshoot": 0.02}),
                 ("DeepFool", {"max_iter": 50, "epsilon": 0.02, "nb_grads": 10}), "art.deepfool"),
}


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def timed(fns, repeats: int):
    """For each function: its last result and the median seconds of `repeats` calls, run in turns
    so that load from other processes falls on every function alike."""
    seconds, outs = [[] for _ in fns], [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            outs[i] = fn()
            seconds[i].append(time.perf_counter() - started)
    return [(out, statistics.median(s)) for out, s in zip(outs, seconds)]


def raw_torchattacks(model, x, y, cls, params, seed):
    import torchattacks

    seed_everything(seed)
    x_adv = getattr(torchattacks, cls)(model, **params)(x, y)
    accuracy(model, x, y)
    return x_adv, accuracy(model, x_adv, y)


def raw_art(classifier, model, x, y, cls, params, seed):
    import art.attacks.evasion as evasion

    seed_everything(seed)
    art_cls = getattr(evasion, cls)
    quiet = {"verbose": False} if "verbose" in inspect.signature(art_cls.__init__).parameters else {}
    params = {k: (np.inf if v == "inf" else v) for k, v in params.items()}
    attack = art_cls(classifier, batch_size=len(x), **quiet, **params)
    labels = np.eye(classifier.nb_classes, dtype=np.float32)[y.numpy()]
    x_adv = torch.from_numpy(attack.generate(x.numpy(), y=labels))
    accuracy(model, x, y)
    return x_adv, accuracy(model, x_adv, y)


def through_advkit(name, model, x, y, params, seed):
    result = advkit.attack(name, model, x, y, seed=seed, batch_size=len(x), **params)
    return result.x_adv, result.robust_accuracy


def art_classifier(model):
    from art.estimators.classification import PyTorchClassifier

    lo, hi = model.bounds
    return PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=model.input_shape,
                             nb_classes=model.num_classes, clip_values=(lo, hi))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256, help="batch size (samples of the digits test split)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/bench_attacks.json")
    args = parser.parse_args(argv)

    from advkit.training.default import default_model

    model = default_model().eval()
    data = advkit.load_data("digits", split="test", n=args.n, seed=args.seed)
    x, y = data.x, data.y
    have_art_plugin = any(r.plugin == "art" for r in registry().all("attacks"))
    classifier = art_classifier(model)
    rows = []
    for short, ((ta_cls, ta_params), (art_cls, art_params), art_name) in ATTACKS.items():
        sides = [("torchattacks", f"torchattacks.{short}", ta_params,
                  lambda: raw_torchattacks(model, x, y, ta_cls, ta_params, args.seed))]
        sides.append(("art", art_name if have_art_plugin else None,
                      {k: v for k, v in art_params.items() if k != "norm"},
                      lambda: raw_art(classifier, model, x, y, art_cls, art_params, args.seed)))
        for library, name, params, raw in sides:
            ours = [] if name is None else [lambda: through_advkit(name, model, x, y, params, args.seed)]
            ((raw_adv, raw_acc), raw_s), *mine = timed([raw, *ours], args.repeats)
            row = {"attack": short, "library": library, "raw_robust_accuracy": raw_acc, "raw_seconds": raw_s}
            if mine:
                (adv, acc), s = mine[0]
                row.update(advkit_name=name, advkit_robust_accuracy=acc, advkit_seconds=s, ratio=s / raw_s,
                           identical=bool(torch.equal(adv, raw_adv)),
                           max_abs_difference=float((adv - raw_adv).abs().max()))
            rows.append(row)
            print(_line(row), flush=True)
    report = {"benchmark": "bench_attacks", "n": len(x), "repeats": args.repeats,
              "model": "advkit default digits CNN", "clean_accuracy": accuracy(model, x, y),
              "parameters": {k: {"torchattacks": v[0], "art": v[1]} for k, v in ATTACKS.items()},
              "rows": rows, **envelope(seed=args.seed, device="cpu")}
    write_json(args.out, report)
    print(f"clean accuracy {report['clean_accuracy']:.4f}; wrote {args.out}")
    return report


def _line(row) -> str:
    if "advkit_seconds" not in row:
        return (f"{row['attack']:9s} {row['library']:12s} raw acc {row['raw_robust_accuracy']:.4f} "
                f"{row['raw_seconds']:.3f}s (no advkit plugin)")
    return (f"{row['attack']:9s} {row['library']:12s} acc advkit {row['advkit_robust_accuracy']:.4f} "
            f"raw {row['raw_robust_accuracy']:.4f} identical {str(row['identical']):5s} "
            f"time advkit {row['advkit_seconds']:.3f}s raw {row['raw_seconds']:.3f}s ratio {row['ratio']:.3f}")


if __name__ == "__main__":
    main()
