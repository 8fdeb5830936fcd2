"""`advkit list KIND`: registered attacks, defenses, analyses, models, datasets or activations."""

import click

from advkit.cli.options import emit_json, json_option
from advkit.plugins.registry import KINDS


@click.command("list")
@click.argument("kind", type=click.Choice(KINDS))
@json_option
def list_command(kind, as_json):
    """List registered KIND with plugin, norm, summary and parameters (defaults in brackets)."""
    from advkit.plugins.registry import registry

    entries = [r.describe() for r in sorted(registry().all(kind), key=lambda r: r.qualified_name)]
    if as_json:
        emit_json(entries)
        return
    for e in entries:
        flags = " ".join(filter(None, [e.get("norm") or "", "black-box" if e.get("black_box") else ""]))
        params = ", ".join(f"{p['name']}={p['default']}" if not p["required"] else f"{p['name']} (required)"
                           for p in e["parameters"])
        click.echo(f"{e['name']:<28} {flags:<16} {e['summary']}")
        if params:
            click.echo(f"{'':<28} [{params}]")
