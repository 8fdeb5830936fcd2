"""`advkit evaluate`: robust accuracy over epsilons, worst case over a cascade of attacks, sanity checks."""

from __future__ import annotations

import time

import click

from advkit.cli.options import (
    data_options,
    device_option,
    emit_json,
    float_list,
    info,
    json_option,
    model_options,
    progress_enabled,
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
    from advkit.evaluation.cascade import evaluate
    from advkit.reporting.provenance import versions
    from advkit.workflows.inputs import load_inputs

    inputs = load_inputs(model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                         bounds=bounds, mean=mean, std=std)
    data = inputs.data
    started = time.time()
    evaluation = evaluate(inputs.model, data.x, data.y, attacks, eps, norm=norm, cascade=not full,
                          batch_size=batch_size, seed=seed, probe=probe, progress=progress_enabled())
    summary = {"model": inputs.model_spec, "data": data.describe(), **evaluation.summary(),
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
               "seconds": round(time.time() - started, 3), "versions": versions()}
    if out_dir:
        from advkit.evaluation.report import write_reports

        written = write_reports(out_dir, evaluation, inputs.model, summary, data.class_names)
        info(f"wrote {out_dir}: " + ", ".join(path.name for path in written))
    if as_json:
        emit_json(summary)
    else:
        click.echo(render(summary))
    if strict and evaluation.warnings:
        info(f"--strict: {len(evaluation.warnings)} sanity warning(s): "
             + ", ".join(w.code for w in evaluation.warnings))
        return 3
    return 0


def render(summary: dict) -> str:
    from advkit.evaluation.report import checks_verdict, cost_lines, table_rows

    header, rows = table_rows(summary)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    lines = [f"{summary['model']} on {summary['data']['name']}: n={summary['n']}, clean accuracy "
             f"{summary['clean_accuracy']:.1%}, norm {summary['norm']}, {summary['mode']}", ""]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(row, widths)) for row in [header, *rows]]
    lines += ["", *cost_lines(summary), ""]
    lines += [f"warning {w['code']}: {w['meaning']} ({w['detail']}). {w['advice']}" for w in summary["warnings"]] \
        or [f"sanity checks: {checks_verdict(summary)}"]
    return "\n".join(lines)
