"""advkit's default evaluate suite next to the reference AutoAttack standard, on the same samples.

Per model (plain, saturated logits, PGD-trained) and norm: both worst-case robust accuracies, their
difference, the forward and backward passes each spent (samples through the network, counted by a
wrapper around it) and seconds. Table on stdout, JSON with `--out`.

    python benchmarks/bench_evaluate_vs_autoattack.py --data digits --n 200 --models plain,saturated \
        --norms Linf,L2 --out benchmarks/results/bench_evaluate_vs_autoattack.json
"""

from __future__ import annotations

import argparse
import time

import torch

import advkit
from advkit.reporting.files import write_json
from advkit.reporting.provenance import envelope
from advkit.seeding import seed_everything

EPS = {"Linf": 0.1, "L2": 1.0}


class Counted(torch.nn.Module):
    """`net` that counts the samples of each forward pass and of each backward pass through its output."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.forward_passes = self.backward_passes = 0

    def forward(self, x):
        out = self.net(x)
        self.forward_passes += len(x)
        if out.requires_grad:
            out.register_hook(lambda grad: self._backward(len(x)))
        return out

    def _backward(self, n: int) -> None:
        self.backward_passes += n


def counted(model: advkit.Model) -> tuple[advkit.Model, Counted]:
    counter = Counted(model.net)
    return advkit.Model(counter, model.input_shape, model.num_classes, bounds=model.bounds), counter


def build(kind: str, data: str, train) -> advkit.Model:
    """The model of one row: the default CNN, it with logits times 1000, or it PGD-trained."""
    if data == "digits" and kind in ("plain", "saturated"):
        model = advkit.default_model()
    else:
        torch.manual_seed(0)
        model = advkit.load_model("cnn", input_shape=train.input_shape, num_classes=train.num_classes)
        if kind == "pgd-trained":
            model, _ = advkit.defend("adversarial-training", model, train, train, progress=False,
                                     params={"attack": "pgd", "eps": 0.1, "alpha": 0.0})
        else:
            advkit.train(model, train.x, train.y, advkit.TrainConfig(epochs=3, seed=0), progress=False)
    if kind == "saturated":
        net = model.net
        model = advkit.Model(torch.nn.Sequential(net, _Times(1000.0)), model.input_shape, model.num_classes,
                             bounds=model.bounds)
    return model.eval()


class _Times(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, z):
        return self.factor * z


def measure(model, x, y, norm: str, eps: float, seed: int, attacks: str) -> dict:
    from pyautoattack import AutoAttack

    ours, count = counted(model)
    start = time.perf_counter()
    evaluation = advkit.evaluate(ours, x, y, attacks, [eps], norm=norm, seed=seed, checks=False, progress=False)
    advkit_s = time.perf_counter() - start
    advkit_acc = float(evaluation.worst_case[eps])
    passes = (count.forward_passes, count.backward_passes)

    ref, ref_count = counted(model)
    start = time.perf_counter()
    runner = AutoAttack(ref, eps=eps, version="standard", seed=seed, norm=norm, device=x.device)
    runner.verbose = False
    x_adv, _ = runner.run_standard_evaluation(x, y, batch_size=len(x))
    ref_s = time.perf_counter() - start
    with torch.no_grad():
        ref_acc = float((model(x_adv).argmax(1) == y).float().mean())
    return {"advkit": advkit_acc, "autoattack": ref_acc, "difference_pt": 100 * (advkit_acc - ref_acc),
            "advkit_forward": passes[0], "advkit_backward": passes[1],
            "autoattack_forward": ref_count.forward_passes, "autoattack_backward": ref_count.backward_passes,
            "pass_ratio": (ref_count.forward_passes + ref_count.backward_passes) / max(1, sum(passes)),
            "advkit_s": advkit_s, "autoattack_s": ref_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--models", default="plain,saturated,pgd-trained")
    parser.add_argument("--norms", default="Linf,L2")
    parser.add_argument("--attacks", default="default", help="the advkit suite (a suite name or attack list)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    seed_everything(args.seed)
    train = advkit.load_data(args.data, split="train")
    test = advkit.load_data(args.data, split="test")
    x, y = test.x[:args.n], test.y[:args.n]
    rows = []
    for kind in args.models.split(","):
        model = build(kind, args.data, train)
        for norm in args.norms.split(","):
            row = {"data": args.data, "model": kind, "norm": norm, "eps": EPS[norm], "n": len(x),
                   **measure(model, x, y, norm, EPS[norm], args.seed, args.attacks)}
            rows.append(row)
            print(f"{row['data']:7} {kind:12} {norm:4} eps={row['eps']:<4g} advkit {row['advkit']:.3f} "
                  f"AA {row['autoattack']:.3f} diff {row['difference_pt']:+.1f} pt | passes fwd+bwd advkit "
                  f"{row['advkit_forward']}+{row['advkit_backward']} AA {row['autoattack_forward']}+"
                  f"{row['autoattack_backward']} ratio {row['pass_ratio']:.2f}x | "
                  f"{row['advkit_s']:.1f} s vs {row['autoattack_s']:.1f} s", flush=True)
    if args.out:
        write_json(args.out, {**envelope(plugins=["torchattacks", "autoattack"], seed=args.seed, device=x.device),
                              "rows": rows})


if __name__ == "__main__":
    main()
