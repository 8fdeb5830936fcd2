"""`advkit reproduce NAME`: re-run a paper's headline results, print published vs measured, write the report."""

from __future__ import annotations

import click

from advkit.cli.options import SEED, device_option, json_option, progress_option, progress_setting, show, wrote


@click.command("reproduce")
@click.argument("name")
@click.option("--data", "data_spec", metavar="SPEC", default=None,
              help="digits (default, no download) or mnist:DIR (the full reproductions are sized for MNIST).")
@click.option("--quick", is_flag=True, help="The reduced version (seconds; what the tests run).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for every random generator.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write result.json, report.md and the figures (PNG) here.")
@device_option
@progress_option
@json_option
def reproduce_command(name, data_spec, quick, seed, out_dir, device, as_json):
    """Reproduce a paper's results at small scale: szegedy, goodfellow, papernot, tanay, xie.

    Prints a table of published vs measured values and whether each direction the paper claims
    holds. See `advkit list reproductions` and docs/REPRODUCTIONS.md.
    """
    from advkit.workflows.from_specs import REPRODUCE_FILES, reproduce_from_specs

    _, summary = reproduce_from_specs(name, data_spec, quick=quick, seed=seed, device=device,
                                      progress=progress_setting(), out=out_dir)
    if out_dir:
        wrote(out_dir, [*REPRODUCE_FILES, *summary["figures"]])
    show(summary, as_json=as_json, render=render_text)


def render_text(summary: dict) -> str:
    from advkit.reporting.text import table
    from advkit.research.reproduction import COLUMNS, report_lines

    header, cells, checks = report_lines(summary)
    parts = ["\n".join(header), table(cells, COLUMNS), "\n".join(checks)]
    parts += [f"note: {note}" for note in summary["notes"]]
    return "\n\n".join(p for p in parts if p)
