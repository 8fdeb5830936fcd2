"""`advkit evaluate`: robust accuracy over epsilons, worst case over a cascade of attacks, sanity checks."""

from __future__ import annotations

from pathlib import Path

import click

from advkit.cli.options import (
    data_options,
    device_option,
    float_list,
    info,
    json_option,
    model_label,
    model_options,
    progress_option,
    progress_setting,
    show,
    workers_option,
    wrote,
)


@click.command("evaluate")
@model_options
@data_options("test")
@click.option("--attacks", default=None, metavar="SUITE",
              help="Comma-separated attacks with parameters: NAME[:key=value][,key=value...], e.g. "
                   "'pgd:steps=20,alpha=0.01,torchattacks.apgd:loss=dlr' (a bare key=value belongs to the "
                   "attack before it), or a suite name. Default: the `default` suite.")
@click.option("--suite", type=click.Choice(["default", "standard", "fast"]), default=None,
              help="default: AutoAttack standard's attacks (APGD-CE 100 steps, APGD-T on the top 3 classes, "
                   "FAB-T and Square run short, in full only where that fools a sample), as strong as "
                   "AutoAttack at >= 5x fewer passes on the models benchmarked. standard: AutoAttack's full "
                   "budgets. fast: WEAKER, cheaper (APGD-CE/DLR 10 steps, Square 1,000); it overstates robust "
                   "accuracy. Same as --attacks NAME.")
@click.option("--eps", callback=float_list(), default=None, metavar="E1,E2,...",
              help="Budgets in input units (8/255 works). Default Linf 0,0.05,0.1,0.2,0.3; L2 0,0.5,1,2.")
@click.option("--norm", type=click.Choice(["Linf", "L2"]), default="Linf", show_default=True)
@click.option("--full", is_flag=True, help="Run every attack on every sample to the end (the reference the cascade and early stopping save on).")
@click.option("--probe", type=click.IntRange(1), default=64, show_default=True,
              help="Correctly classified samples the sanity checks probe.")
@click.option("--strict", is_flag=True, help="Exit with status 3 when a sanity check warns (for CI).")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True)
@workers_option
@device_option
@progress_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write result.json, report.md, report.html and the figures robust_accuracy.png, "
                   "perturbation_sizes.png, examples.png here, and the run's state every few batches.")
@click.option("--resume", is_flag=True,
              help="Continue the run whose state is in --out after it was stopped; the result is the same as "
                   "an uninterrupted run. Refused when model, data, suite, eps or seed differ.")
@click.option("--curve", is_flag=True,
              help="Add the robustness curve (robust accuracy at every eps from each sample's smallest "
                   "adversarial perturbation found) to result.json and robustness_curve.png.")
@click.option("--eot", type=click.IntRange(0), default=None, metavar="N",
              help="Attack the model's output averaged over N draws, a sample fooled only when most of N "
                   "predictions misclassify it (default: 10 when the outputs vary between passes; 0: off).")
@click.option("--format", "formats", type=click.Choice(["robustbench"]), multiple=True,
              help="Also write robustbench.json in --out: the RobustBench leaderboard's model_info fields "
                   "(clean and AutoAttack accuracy, eps, threat model, dataset, model, n).")
@json_option
def evaluate_command(model_spec, bounds, mean, std, data_spec, split, n, seed, attacks, suite, eps, norm, full, probe,
                     strict, batch_size, workers, device, out_dir, resume, curve, eot, formats, as_json):
    """Robust accuracy per attack and eps, the per-example worst case, its cost, and sanity checks.

    Attacks run as a cascade: each only on samples still robust (at this eps and every smaller
    one), and inside an attack a sample stops being computed once it is fooled. Warnings
    (gradient masking, unconverged attacks, ...) follow Carlini et al. 2019.
    """
    from advkit.data.stream import fix_mmap_threshold
    from advkit.evaluation import leaderboard, state
    from advkit.evaluation.report import CURVE, FILES
    from advkit.workflows.from_specs import evaluate_from_specs

    if suite and attacks is not None:
        raise click.UsageError("give --suite or --attacks, not both")
    attacks = suite or attacks
    fix_mmap_threshold()  # a flat peak RSS however many batches stream
    if formats and not out_dir:
        raise click.UsageError("--format robustbench needs --out (the directory robustbench.json is written to)")
    if formats and len([e for e in eps or () if e > 0]) != 1:
        raise click.UsageError("--format robustbench needs one --eps > 0, the leaderboard's (e.g. --eps 8/255)")

    evaluation, summary = evaluate_from_specs(model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                                              bounds=bounds, mean=mean, std=std, attacks=attacks, eps=eps,
                                              norm=norm, full=full, probe=probe, batch_size=batch_size,
                                              progress=progress_setting(), out=out_dir, resume=resume,
                                              curve=curve, eot=eot, workers=workers)
    if out_dir:
        if formats:
            leaderboard.write_robustbench(Path(out_dir) / leaderboard.FILE, summary)
        wrote(out_dir, (*FILES, *([f"{CURVE}.png"] if curve else []), *([leaderboard.FILE] if formats else []),
                        state.FILE))
    show(summary, as_json=as_json, render=render)
    if strict and evaluation.warnings:
        info(f"--strict: {len(evaluation.warnings)} sanity warning(s): "
             + ", ".join(w.code for w in evaluation.warnings))
        return 3
    return 0


def render(summary: dict) -> str:
    from advkit.evaluation.report import checks_verdict, cost_lines, table_rows
    from advkit.reporting.text import table

    header, rows = table_rows(summary)
    model = model_label(summary["model"], summary.get("model_source"))
    attacks = ", ".join(f"{label}: {src['name']}" for label, src in summary.get("attack_sources", {}).items())
    lines = [(f"{model} on {summary['data']['name']}: n={summary['n']}, clean accuracy "
              f"{summary['clean_accuracy']:.1%}, norm {summary['norm']}, {summary['mode']}")]
    lines += [f"attacks: {attacks}", ""] if attacks else [""]
    lines += [table(rows, header, align=">")]
    lines += ["", *cost_lines(summary), ""]
    lines += [f"warning {w['code']}: {w['meaning']} ({w['detail']}). {w['advice']}" for w in summary["warnings"]] \
        or [f"sanity checks: {checks_verdict(summary)}"]
    return "\n".join(lines)
