"""`advkit plugins`: installed plugins, their versions, hooks, registrations and load errors."""

import click

from advkit.cli.options import emit_json, json_option


@click.command("plugins")
@json_option
def plugins_command(as_json):
    """List installed plugins with version, hooks, what they registered and any load error."""
    from advkit.plugins.registry import registry

    reg = registry()
    rows = []
    for name, plugin in sorted(reg.infos.items()):
        rows.append({"name": name, "module": plugin.module, "version": plugin.version, "hooks": plugin.hooks,
                     "registered": reg.registered_by(name), "error": plugin.error})
    if as_json:
        emit_json(rows)
        return
    from advkit.reporting.text import table

    lines = []
    for row in rows:
        counts = ", ".join(f"{len(v)} {k}" for k, v in row["registered"].items()) or "nothing registered"
        lines.append((row["name"], row["version"] or "-", f"ERROR: {row['error']}" if row["error"] else counts))
    if lines:
        click.echo(table(lines))
