"""`advkit analyze`: run one analysis plugin, print its numbers, write report.json and figures."""

from __future__ import annotations

import functools

import click

from advkit.cli.options import (
    data_options,
    device_option,
    json_option,
    model_options,
    params_option,
    parse_params,
    progress_option,
    progress_setting,
    show,
    wrote,
)


@click.command("analyze")
@click.option("--plugin", "analysis_name", required=True, metavar="NAME",
              help="Analysis name: tilt, tilt-sweep, fooling, ... (see `advkit list analyses`).")
@functools.partial(model_options, multiple=True)
@data_options("test")
@params_option
@device_option
@progress_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write report.json and one PNG per figure here.")
@json_option
def analyze_command(analysis_name, model_specs, bounds, mean, std, data_spec, split, n, seed, raw_params,
                    device, out_dir, as_json):
    """Analyse a model (or several: repeat --model) on data and print what the analysis found.

    Analyses that train their own models (tilt-sweep) take no --model. With no --model and
    no --data the embedded default (digits and a small CNN) is used.
    """
    from advkit.workflows.from_specs import ANALYZE_FILES, analyze_from_specs

    _, summary = analyze_from_specs(analysis_name, model_specs, data_spec, split=split, n=n, seed=seed,
                                    device=device, bounds=bounds, mean=mean, std=std,
                                    params=parse_params(raw_params), progress=progress_setting(), out=out_dir)
    if out_dir:
        wrote(out_dir, [*ANALYZE_FILES, *summary["figures"]])
    show(summary, as_json=as_json, render=render)


def render(summary: dict) -> str:
    """The report as readable text: a header, every number (nested keys dotted), row tables, notes."""
    from advkit.reporting.text import pairs, table

    params = pairs(summary["params"])
    models = summary["model"]
    header = [
        ("analysis", f"{summary['analysis']} ({params})" if params else summary["analysis"]),
        ("model", ", ".join(models) if isinstance(models, list) else str(models)),
        ("data", f"{summary['data']['name']} {summary['data'].get('split', '')}, n={summary['data']['n']}"),
        ("seed / device", f"{summary['seed']} / {summary['device']}"),
    ]
    scalars, tables = [], []
    _flatten(summary["numbers"], "", scalars, tables)
    parts = [table(header + scalars)]
    parts += [_row_table(title, rows) for title, rows in tables]
    parts += [f"note: {note}" for note in summary["notes"]]
    if summary.get("figures"):
        parts.append("figures: " + ", ".join(summary["figures"]))
    return "\n\n".join(parts)


def _flatten(value, key: str, scalars: list, tables: list) -> None:
    """Split nested numbers into (dotted key, text) rows and (title, list of dicts) tables."""
    from advkit.reporting.text import cell

    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{key}.{k}" if key else str(k), scalars, tables)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
        tables.append((key, value))
    elif isinstance(value, (list, tuple)) and len(value) > 12:
        numbers = [v for v in value if isinstance(v, (int, float))]
        span = f", {min(numbers):.4g} .. {max(numbers):.4g}" if numbers else ""
        scalars.append((key, f"[{len(value)} values{span}] (see --json)"))
    elif isinstance(value, (list, tuple)):
        scalars.append((key, "[" + ", ".join(cell(v) for v in value) + "]"))
    else:
        scalars.append((key, cell(value)))


def _row_table(title: str, rows: list[dict]) -> str:
    from advkit.reporting.text import cell, table

    columns = list(dict.fromkeys(k for row in rows for k in row))
    return table([[cell(row.get(c, "")) for c in columns] for row in rows], columns, title=title, align=">")
