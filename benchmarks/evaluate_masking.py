"""`advkit evaluate` on a plain CNN, the same CNN with saturated logits (x1000) and a PGD-trained CNN.

Prints the worst-case tables and the sanity warnings, measures the saving of the cascade (with early
stopping inside attacks) against running every attack on every sample, and writes each report (result.json, report.md, report.html) plus
a summary JSON under runs/evaluate/ (or --out).

    python benchmarks/evaluate_masking.py [--n 200] [--out runs/evaluate] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F

import advkit
from advkit.evaluation.report import write_reports
from advkit.reporting.files import write_json
from advkit.reporting.provenance import envelope
from advkit.training.default import default_model

PGD_EPS, PGD_STEPS = 0.2, 7
# The user's route to a custom model: a file.py:func spec (logits x 1000, softmax saturated).
SATURATED = f"{Path(__file__).resolve().parents[1] / 'tests' / 'masked.py'}:saturated"


def pgd_loss(model, x, y):
    """Madry et al.'s PGD training loss: cross-entropy at a PGD-7 point of the Linf ball."""
    delta = torch.empty_like(x).uniform_(-PGD_EPS, PGD_EPS)
    for _ in range(PGD_STEPS):
        delta.requires_grad_(True)
        grad, = torch.autograd.grad(F.cross_entropy(model((x + delta).clamp(0, 1)), y), delta)
        delta = (delta + 2.5 * PGD_EPS / PGD_STEPS * grad.sign()).clamp(-PGD_EPS, PGD_EPS).detach()
    return F.cross_entropy(model((x + delta).clamp(0, 1)), y)


def pgd_trained(out: Path):
    path = out / "pgd-cnn-digits.safetensors"
    if not path.exists():
        data = advkit.load_data("digits", split="train")
        model = advkit.load_model("cnn", input_shape=data.input_shape, num_classes=data.num_classes)
        advkit.train(model, data.x, data.y, advkit.TrainConfig(epochs=30, lr=2e-3, seed=0), loss_fn=pgd_loss,
                     checkpoint=out / "pgd-cnn.ckpt", resume=(out / "pgd-cnn.ckpt").exists(), progress=False)
        advkit.save_model(model, path)
    return advkit.load_model(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("runs/evaluate"))
    parser.add_argument("--repeats", type=int, default=3, help="cascade and full runs, interleaved, for the times")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = advkit.load_data("digits", split="test", n=args.n, seed=0)
    plain = default_model()
    models = {"plain": plain,
              "saturated": advkit.load_model(SATURATED, input_shape=plain.input_shape, num_classes=10),
              "pgd-trained": pgd_trained(args.out)}
    results = {}
    for name, model in models.items():
        evaluation = advkit.evaluate(model, data.x, data.y, seed=0)
        summary = {"model": name, **evaluation.summary(),
                   **envelope(seed=evaluation.seed, device=evaluation.device, params=evaluation.params)}
        write_reports(args.out / name, evaluation, model, summary, data.class_names)
        full = advkit.evaluate(model, data.x, data.y, seed=0, cascade=False, checks=False)
        seconds = {"cascade": [], "full": []}  # passes repeat exactly; times are the median of interleaved runs
        for _ in range(args.repeats):
            for mode, cascade in (("cascade", True), ("full", False)):
                run = advkit.evaluate(model, data.x, data.y, seed=0, cascade=cascade, checks=False)
                seconds[mode].append(run.cost["measured"]["seconds"])
        seconds = {mode: statistics.median(times) for mode, times in seconds.items()}
        results[name] = {"worst_case": summary["worst_case"], "per_attack": summary["per_attack"],
                         "clean_accuracy": summary["clean_accuracy"],
                         "warnings": [w.code for w in evaluation.warnings],
                         "cascade_cost": evaluation.cost, "full_cost": full.cost["measured"],
                         "median_seconds": seconds,
                         "full_worst_case": full.summary()["worst_case"]}
        print(f"\n{name}: clean {evaluation.clean_accuracy:.1%}, warnings: "
              f"{', '.join(results[name]['warnings']) or 'none'}")
        print("eps      " + "  ".join(f"{a[:28]:>28}" for a in evaluation.attacks) + "  worst   full-run worst")
        for e in evaluation.eps:
            row = "  ".join(f"{evaluation.per_attack[a][e]['robust_accuracy']:>28.1%}" for a in evaluation.attacks)
            print(f"{e:<8g} {row}  {evaluation.worst_case[e]:>5.1%}   {full.worst_case[e]:>5.1%}")
        m, f = evaluation.cost["measured"], full.cost["measured"]
        print(f"cost cascade: {seconds['cascade']:.1f} s, {m['forward']} fwd, {m['backward']} bwd | every attack on "
              f"every sample: {seconds['full']:.1f} s, {f['forward']} fwd, {f['backward']} bwd | saving "
              f"{1 - m['forward'] / f['forward']:.0%} fwd, {1 - m['backward'] / f['backward']:.0%} bwd, "
              f"{1 - seconds['cascade'] / seconds['full']:.0%} time (median of {args.repeats})")
        k, low, high = (evaluation.cost["skipped_by_early_stop"], evaluation.cost["full_estimate"]["low"],
                        evaluation.cost["full_estimate"]["high"] or {"forward": "?", "backward": "?"})
        print(f"of which early stopping inside attacks skipped {k['forward']} fwd, {k['backward']} bwd; the "
              f"cascade's own estimate of every attack on every sample: {low['forward']} to {high['forward']} "
              f"fwd, {low['backward']} to {high['backward']} bwd")
    write_json(args.out / "summary.json", results)
    print(f"\nwrote {args.out}/summary.json and a report per model under {args.out}/")


if __name__ == "__main__":
    main()
