"""`advkit evaluate`: robust accuracy over epsilons, worst case over a cascade of attacks, sanity checks."""

from __future__ import annotations

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
    wrote,
)


@click.command("evaluate")
@model_options
@data_options("test")
@click.option("--attacks", default=None, metavar="SUITE",
              help="Comma-separated attacks with parameters: NAME[:key=value][,key=value...], e.g. "
                   "'pgd:steps=20,alpha=0.01,torchattacks.apgd:loss=dlr' (a bare key=value belongs to the "
                   "attack before it). Default: APGD-CE, APGD-DLR and Square (1000 queries).")
@click.option("--eps", callback=float_list(), default=None, metavar="E1,E2,...",
              help="Budgets in input units (8/255 works). Default Linf 0,0.05,0.1,0.2,0.3; L2 0,0.5,1,2.")
@click.option("--norm", type=click.Choice(["Linf", "L2"]), default="Linf", show_default=True)
@click.option("--full", is_flag=True, help="Run every attack on every sample to the end (the reference the cascade and early stopping save on).")
@click.option("--probe", type=click.IntRange(1), default=64, show_default=True,
              help="Correctly classified samples the sanity checks probe.")
@click.option("--strict", is_flag=True, help="Exit with status 3 when a sanity check warns (for CI).")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True)
@device_option
@progress_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write result.json, report.md, report.html and the figures robust_accuracy.png, "
                   "perturbation_sizes.png, examples.png here.")
@json_option
def evaluate_command(model_spec, bounds, mean, std, data_spec, split, n, seed, attacks, eps, norm, full, probe,
                     strict, batch_size, device, out_dir, as_json):
    """Robust accuracy per attack and eps, the per-example worst case, its cost, and sanity checks.

    Attacks run as a cascade: each only on samples still robust (at this eps and every smaller
    one), and inside an attack a sample stops being computed once it is fooled. Warnings
    (gradient masking, unconverged attacks, ...) follow Carlini et al. 2019.
    """
    from advkit.evaluation.report import FILES
    from advkit.workflows.from_specs import evaluate_from_specs

    evaluation, summary = evaluate_from_specs(model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                                              bounds=bounds, mean=mean, std=std, attacks=attacks, eps=eps,
                                              norm=norm, full=full, probe=probe, batch_size=batch_size,
                                              progress=progress_setting(), out=out_dir)
    if out_dir:
        wrote(out_dir, FILES)
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
