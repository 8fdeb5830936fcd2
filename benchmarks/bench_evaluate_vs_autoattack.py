"""advkit's default evaluate suite next to the reference AutoAttack standard, on the same samples.

Per model (plain, saturated logits, quantised inputs, PGD-trained) and norm: both worst-case robust
accuracies, their difference, the forward and backward passes each spent (samples through the
network, counted by `advkit.evaluation.watch.ForwardWatch`) and seconds. Table on stdout, JSON with
`--out` (with advkit's per-attack counts: samples attacked, fooled, extended past a trial, passes),
written after every row.

    python benchmarks/bench_evaluate_vs_autoattack.py --data digits --n 200 --models plain,saturated \
        --norms Linf,L2 --out benchmarks/results/bench_evaluate_vs_autoattack.json
"""

from __future__ import annotations

import argparse

import torch

import advkit
from advkit.evaluation.watch import ForwardWatch
from advkit.reporting.files import write_json
from advkit.reporting.provenance import envelope
from advkit.seeding import seed_everything

EPS = {"Linf": 0.1, "L2": 1.0}
QUANTIZED_LEVELS = 8  # the "quantized" model's grey levels


def build(kind: str, data: str, train, seed: int) -> advkit.Model:
    """The model of one row (the same whichever rows run): the default CNN, it with logits times 1000, it on
    quantised inputs, or it PGD-trained."""
    seed_everything(seed)
    if data == "digits" and kind in ("plain", "saturated"):
        model = advkit.default_model()
    else:
        model = advkit.load_model("cnn", input_shape=train.input_shape, num_classes=train.num_classes)
        if kind == "pgd-trained":
            # PGD-10 training; defend's own before/after is FGSM, the rows measure the model
            model, _ = advkit.defend("adversarial-training", model, train, train, progress=False, eval_attack="fgsm",
                                     params={"attack": "pgd", "eps": 0.1, "alpha": 0.0,
                                             "attack_params": "steps=10"})
        else:
            advkit.train(model, train.x, train.y, advkit.TrainConfig(epochs=3, seed=seed), progress=False)
    masked = {"saturated": (model.net, _Times(1000.0)), "quantized": (_Rounded(QUANTIZED_LEVELS), model.net)}
    if kind in masked:
        model = advkit.Model(torch.nn.Sequential(*masked[kind]), model.input_shape, model.num_classes,
                             bounds=model.bounds)
    return model.eval()


class _Times(torch.nn.Module):
    """Logits times `factor`: saturated softmax, vanishing cross-entropy gradients."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, z):
        return self.factor * z


class _Rounded(torch.nn.Module):
    """Inputs rounded to `levels` grey levels: a zero input gradient almost everywhere (masking by quantisation)."""

    def __init__(self, levels: int):
        super().__init__()
        self.levels = levels

    def forward(self, x):
        return torch.round(x * (self.levels - 1)) / (self.levels - 1)


def measure(model, x, y, norm: str, eps: float, seed: int, attacks: str) -> dict:
    """Both runs on `model`, each inside a `ForwardWatch` that counts the samples through the network."""
    from pyautoattack import AutoAttack

    with ForwardWatch(model) as ours:
        evaluation = advkit.evaluate(model, x, y, attacks, [eps], norm=norm, seed=seed, checks=False, progress=False)
    advkit_acc = float(evaluation.worst_case[eps])
    with ForwardWatch(model) as reference:
        runner = AutoAttack(model, eps=eps, version="standard", seed=seed, norm=norm, device=x.device)
        runner.verbose = False
        x_adv, _ = runner.run_standard_evaluation(x, y, batch_size=len(x))
    with torch.no_grad():
        ref_acc = float((model(x_adv).argmax(1) == y).float().mean())
    return {"advkit": advkit_acc, "autoattack": ref_acc, "difference_pt": 100 * (advkit_acc - ref_acc),
            "advkit_forward": ours.forward, "advkit_backward": ours.backward,
            "autoattack_forward": reference.forward, "autoattack_backward": reference.backward,
            "pass_ratio": (reference.forward + reference.backward) / max(1, ours.forward + ours.backward),
            "advkit_s": ours.seconds, "autoattack_s": reference.seconds,
            "advkit_per_attack": {label: {k: v for k, v in runs[eps].items() if k != "seconds"}
                                  for label, runs in evaluation.per_attack.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--models", default="plain,saturated,quantized,pgd-trained")
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
        model = build(kind, args.data, train, args.seed)
        for norm in args.norms.split(","):
            row = {"data": args.data, "model": kind, "norm": norm, "eps": EPS[norm], "n": len(x),
                   **measure(model, x, y, norm, EPS[norm], args.seed, args.attacks)}
            rows.append(row)
            print(f"{row['data']:7} {kind:12} {norm:4} eps={row['eps']:<4g} advkit {row['advkit']:.3f} "
                  f"AA {row['autoattack']:.3f} diff {row['difference_pt']:+.1f} pt | passes fwd+bwd advkit "
                  f"{row['advkit_forward']}+{row['advkit_backward']} AA {row['autoattack_forward']}+"
                  f"{row['autoattack_backward']} ratio {row['pass_ratio']:.2f}x | "
                  f"{row['advkit_s']:.1f} s vs {row['autoattack_s']:.1f} s", flush=True)
            if args.out:  # after every row: a long run stopped part-way keeps the rows it measured
                write_json(args.out, {**envelope(plugins=["torchattacks", "autoattack"], seed=args.seed,
                                                 device=x.device), "suite": args.attacks, "rows": rows})


if __name__ == "__main__":
    main()
