"""`advkit reproduce NAME`: re-run a paper's headline results, print published vs measured, write the report."""

from __future__ import annotations

import click

from advkit.cli.options import device_option, finish, json_option, progress_enabled


@click.command("reproduce")
@click.argument("name")
@click.option("--data", "data_spec", metavar="SPEC", default=None,
              help="digits (default, no download) or mnist:DIR (the full reproductions are sized for MNIST).")
@click.option("--quick", is_flag=True, help="The reduced version (seconds; what the tests run).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random generator.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write result.json, report.md and the figures (PNG) here.")
@device_option
@json_option
def reproduce_command(name, data_spec, quick, seed, out_dir, device, as_json):
    """Reproduce a paper's results at small scale: szegedy, goodfellow, papernot, tanay, xie.

    Prints a table of published vs measured values and whether each direction the paper claims
    holds. See `advkit list reproductions` and docs/REPRODUCTIONS.md.
    """
    from advkit.models.inference import resolve_device
    from advkit.plugins.registry import registry
    from advkit.reporting.provenance import versions
    from advkit.research.reproduction import run_reproduction

    entry = registry().lookup("reproductions", name)
    reproduction = entry.cls()
    reproduction.device = resolve_device(device)
    result, seconds = run_reproduction(reproduction, data_spec, quick, seed, progress_enabled())
    summary = {
        "reproduction": entry.qualified_name, "paper": result.paper, "quick": quick,
        "data": {"spec": data_spec or "digits", **result.data}, "seed": seed, "device": str(reproduction.device),
        "seconds": round(seconds, 1), "reproduced": result.reproduced, "rows": result.rows, "checks": result.checks,
        "tables": result.tables, "notes": result.notes, "versions": versions([entry.plugin]),
    }
    finish(summary, result.figures, out_dir=out_dir, as_json=as_json, render=render_text, markdown=render_markdown)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _published(row: dict) -> str:
    return _cell(row["published"]) + (" (approx.)" if row["approx"] and row["published"] is not None else "")


def _lines(summary: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """Header lines, the published-vs-measured cells, and one line per direction check."""
    data = summary["data"]
    header = [f"{summary['reproduction']}: {summary['paper']}",
              f"data {data.get('spec', '')} ({'quick' if summary['quick'] else 'full'}), seed {summary['seed']}, "
              f"device {summary['device']}, {summary['seconds']} s"]
    cells = [[row["table"], row["setting"], row["quantity"], _published(row), _cell(row["measured"])]
             for row in summary["rows"]]
    checks = [f"[{'holds' if c['holds'] else 'FAILS'}] {c['claim']}" + (f" ({c['detail']})" if c["detail"] else "")
              for c in summary["checks"]]
    return header, cells, checks


COLUMNS = ["table", "setting", "quantity", "published", "measured"]


def render_text(summary: dict) -> str:
    header, cells, checks = _lines(summary)
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(COLUMNS)]
    table = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths))]
    table += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    parts = ["\n".join(header), "\n".join(table), "\n".join(checks)]
    parts += [f"note: {note}" for note in summary["notes"]]
    return "\n\n".join(p for p in parts if p)


def render_markdown(summary: dict) -> str:
    header, cells, checks = _lines(summary)
    lines = [f"# {header[0]}", "", header[1], "", "| " + " | ".join(COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    lines += ["", "## Directions", ""] + [f"- {c}" for c in checks]
    if summary["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in summary["notes"]]
    if summary.get("figures"):
        lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in summary["figures"]]
    return "\n".join(lines) + "\n"
