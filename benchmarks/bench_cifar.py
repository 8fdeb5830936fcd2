"""PGD at CIFAR scale: advkit's attack and evaluate next to raw torchattacks, raw ART and the reference AutoAttack.

Two CIFAR-10-shaped networks with random weights (torchvision's ResNet-18, and RobustBench's
WideResNet-28-10), generated 3 x 32 x 32 images labelled by the network's own predictions (clean
accuracy 100%, so robust accuracy measures the attack), the same samples for every method. For each
network and batch size: seconds, the ratio to raw torchattacks, robust accuracy, peak RSS (reset
before each method where Linux allows) and, on CUDA, `max_memory_allocated`.

    python benchmarks/bench_cifar.py --n 16 --batch-sizes 8,16 --steps 5 --aa-attacks apgd-ce --aa-iter 5
    python benchmarks/bench_cifar.py --device cuda --n 1000 --batch-sizes 250,500 --out results.json

Needs torchvision and robustbench (`pip install -e ".[vision,robustbench,autoattack]"`).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch

import advkit
from advkit.reporting.files import write_json
from advkit.reporting.provenance import envelope
from advkit.seeding import seed_everything

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)


def networks(names):
    """name -> (network, mean, std): ResNet-18 normalizes through advkit, RobustBench's WRN takes [0, 1]."""
    out = {}
    if "resnet18" in names:
        from torchvision.models import resnet18

        out["resnet18"] = (resnet18(weights=None, num_classes=10), CIFAR_MEAN, CIFAR_STD)
    if "wrn-28-10" in names:
        from advkit_zoos.robustbench_zoo import _import_robustbench

        _import_robustbench()
        from robustbench.model_zoo.architectures.wide_resnet import WideResNet

        out["wrn-28-10"] = (WideResNet(depth=28, widen_factor=10, num_classes=10), None, None)
    return out


def peak_reset() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; a no-op where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_mb(device) -> dict:
    """Peak RSS since `peak_reset` (VmHWM; ru_maxrss where /proc is missing) and CUDA's max allocated, in MB."""
    try:
        hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
        rss = int(hwm.split()[1]) / 1024
    except (OSError, StopIteration):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cuda = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None
    return {"peak_rss_mb": round(rss, 1), "cuda_max_allocated_mb": None if cuda is None else round(cuda, 1)}


def measure(run, model, x, y, batch_size, device):
    """(seconds, robust accuracy, peak memory) of one call of a method."""
    peak_reset()
    if device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    robust = run(model, x, y, batch_size)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started, robust, peak_mb(device)


def accuracy(model, x, y, batch_size) -> float:
    return float((advkit.predict(model, x, batch_size=batch_size).cpu() == y.cpu()).float().mean())


def methods(args, eps, alpha):
    """name -> function(model, x, y, batch_size) returning robust accuracy; every one runs the same PGD
    (eps, alpha = 2.5 eps / steps, steps, a random start) except AutoAttack, which is its own."""

    def advkit_pgd(model, x, y, b):
        return advkit.attack("torchattacks.pgd", model, x, y, eps=eps, steps=args.steps, alpha=alpha,
                             batch_size=b, seed=args.seed, progress=False).robust_accuracy

    def advkit_evaluate(model, x, y, b):
        result = advkit.evaluate(model, x, y, f"torchattacks.pgd:steps={args.steps},alpha={alpha}", [eps],
                                 batch_size=b, seed=args.seed, checks=False, progress=False)
        return float(next(iter(result.worst_case.values())))

    def torchattacks_pgd(model, x, y, b):
        import torchattacks

        seed_everything(args.seed)
        attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=args.steps, random_start=True)
        adv = torch.cat([attack(x[i:i + b], y[i:i + b]) for i in range(0, len(x), b)])
        return accuracy(model, adv, y, b)

    def art_pgd(model, x, y, b):
        from art.attacks.evasion import ProjectedGradientDescent
        from art.estimators.classification import PyTorchClassifier

        seed_everything(args.seed)
        classifier = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=model.input_shape,
                                       nb_classes=model.num_classes, clip_values=model.bounds,
                                       device_type="gpu" if x.device.type == "cuda" else "cpu")
        attack = ProjectedGradientDescent(classifier, norm="inf", eps=eps, eps_step=alpha, max_iter=args.steps,
                                          num_random_init=1, batch_size=b, verbose=False)
        adv = torch.from_numpy(attack.generate(x.cpu().numpy(), y=y.cpu().numpy())).to(x.device)
        return accuracy(model, adv, y, b)

    def reference_autoattack(model, x, y, b):
        from pyautoattack import AutoAttack

        chosen = args.aa_attacks.split(",") if args.aa_attacks else None
        adversary = AutoAttack(model, eps=eps, norm="Linf", version="custom" if chosen else args.aa_version,
                               seed=args.seed, device=x.device, **({"attacks": chosen} if chosen else {}))
        if args.aa_iter:
            adversary.apgd.n_iter = adversary.apgd_targeted.n_iter = adversary.fab.n_iter = args.aa_iter
        adv, _ = adversary.run_standard_evaluation(x, y, batch_size=b)  # adversarial images, their predictions
        return accuracy(model, adv, y, b)

    return {"advkit pgd": advkit_pgd, "advkit evaluate": advkit_evaluate, "torchattacks pgd": torchattacks_pgd,
            "art pgd": art_pgd, "autoattack (reference)": reference_autoattack}


def main(argv=None) -> dict:
    from advkit.plugins.schema import parse_number

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="samples (generated, CIFAR-shaped)")
    parser.add_argument("--batch-sizes", default="8,16", help="comma-separated batch sizes")
    parser.add_argument("--models", default="resnet18,wrn-28-10")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--eps", default="8/255")
    parser.add_argument("--steps", type=int, default=10, help="PGD iterations")
    parser.add_argument("--aa-version", default="standard", help="AutoAttack version when --aa-attacks is not given")
    parser.add_argument("--aa-attacks", default="", help="AutoAttack's attacks to run (version custom), e.g. apgd-ce")
    parser.add_argument("--aa-iter", type=int, default=0, help="iterations of AutoAttack's attacks (0: its own 100)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each method, in turns; the median is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    eps = parse_number(args.eps)
    alpha = advkit.madry_step(eps, args.steps)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    generator = torch.Generator().manual_seed(args.seed)
    x_cpu = torch.rand((args.n, 3, 32, 32), generator=generator)
    rows = []
    print(f"{'model':10s} {'batch':>5s} {'method':24s} {'seconds':>8s} {'ratio':>6s} {'robust':>7s} "
          f"{'peak RSS MB':>11s} {'CUDA MB':>8s}", flush=True)
    for name, (net, mean, std) in networks(args.models.split(",")).items():
        seed_everything(args.seed)
        model = advkit.Model(net, (3, 32, 32), 10, mean=mean, std=std).to(device).eval()
        x = x_cpu.to(device)
        y = advkit.predict(model, x, batch_size=max(sizes)).to(device)  # labels: the network's own predictions
        for run in methods(args, eps, alpha).values():  # untimed warm-up: imports, kernels, thread pools
            run(model, x[:2], y[:2], 2)
        for b in sizes:
            runs = {label: [] for label in methods(args, eps, alpha)}
            for _ in range(args.repeats):  # methods in turns: load from other processes falls on each alike
                for label, run in methods(args, eps, alpha).items():
                    runs[label].append(measure(run, model, x, y, b, device))
            base = statistics.median(s for s, _, _ in runs["torchattacks pgd"])
            for label, measured in runs.items():
                seconds = statistics.median(s for s, _, _ in measured)
                peak = {k: max((m[k] for _, _, m in measured), key=lambda v: v or 0) for k in measured[0][2]}
                row = {"model": name, "batch_size": b, "method": label, "seconds": round(seconds, 3),
                       "ratio_to_torchattacks": round(seconds / base, 3), "robust_accuracy": measured[-1][1], **peak}
                rows.append(row)
                cuda = row["cuda_max_allocated_mb"]
                print(f"{name:10s} {b:5d} {label:24s} {seconds:8.2f} {row['ratio_to_torchattacks']:6.2f} "
                      f"{row['robust_accuracy']:7.3f} {row['peak_rss_mb']:11.0f} "
                      f"{'-' if cuda is None else f'{cuda:.0f}':>8s}", flush=True)
    report = {"benchmark": "bench_cifar", "n": args.n, "repeats": args.repeats, "eps": eps, "alpha": alpha, "steps": args.steps,
              "autoattack": {"version": "custom" if args.aa_attacks else args.aa_version,
                             "attacks": args.aa_attacks or None, "iterations": args.aa_iter or 100},
              "labels": "the network's own predictions (clean accuracy 1.0)", "rows": rows,
              **envelope(seed=args.seed, device=str(device))}
    if args.out:
        write_json(args.out, report)
        print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
