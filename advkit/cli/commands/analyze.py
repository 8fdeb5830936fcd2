"""`advkit analyze`: run one analysis plugin, print its numbers, write report.json and figures."""

from __future__ import annotations

import functools

import click

from advkit.cli.options import (
    data_options,
    device_option,
    finish,
    json_option,
    model_options,
    params_option,
    parse_params,
    table,
)


@click.command("analyze")
@click.option("--plugin", "analysis_name", required=True, metavar="NAME",
              help="Analysis name: tilt, tilt-sweep, fooling, ... (see `advkit list analyses`).")
@functools.partial(model_options, multiple=True)
@data_options("test")
@params_option
@device_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write report.json and one PNG per figure here.")
@json_option
def analyze_command(analysis_name, model_specs, bounds, mean, std, data_spec, split, n, seed, raw_params,
                    device, out_dir, as_json):
    """Analyse a model (or several: repeat --model) on data and print what the analysis found.

    Analyses that train their own models (tilt-sweep) take no --model. With no --model and
    no --data the embedded default (digits and a small CNN) is used.
    """
    from advkit.errors import UsageError
    from advkit.plugins.registry import instantiate, registry
    from advkit.reporting.provenance import versions
    from advkit.research.analysis import Report
    from advkit.seeding import seed_everything
    from advkit.workflows.inputs import load_for_analysis

    analysis, qualified, effective = instantiate("analyses", analysis_name, seed=seed, **parse_params(raw_params))
    cls, what = type(analysis), f"analysis {qualified!r}"
    model, data, specs = load_for_analysis(cls, what, model_specs, data_spec, split=split, n=n, seed=seed,
                                           device=device, bounds=bounds, mean=mean, std=std)
    seed_everything(seed)
    report = analysis.run(model, data)
    if not isinstance(report, Report):
        raise UsageError(f"{what} returned {type(report).__name__}, expected an advkit.Report")
    summary = {
        "analysis": qualified,
        "params": effective,
        "model": specs if cls.multi_model else (specs[0] if specs else None),
        "data": data.describe(),
        "seed": seed,
        "device": str(_device_of(model, device)),
        "versions": versions([registry().lookup("analyses", qualified).plugin]),
        "numbers": report.numbers,
        "notes": report.notes,
    }
    finish(summary, report.figures, out_dir=out_dir, as_json=as_json, render=render, json_name="report.json")


def _device_of(model, requested: str):
    from advkit.models.inference import resolve_device

    first = model[0] if isinstance(model, list) else model
    return first.device if first is not None else resolve_device(requested)


def render(summary: dict) -> str:
    """The report as readable text: a header, every number (nested keys dotted), row tables, notes."""
    params = ", ".join(f"{k}={_short(v)}" for k, v in summary["params"].items())
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
        scalars.append((key, "[" + ", ".join(_short(v) for v in value) + "]"))
    else:
        scalars.append((key, _short(value)))


def _row_table(title: str, rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    cells = [[_short(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [title, "-" * len(title), "  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return str(value)
