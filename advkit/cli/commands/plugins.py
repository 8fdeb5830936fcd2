"""`advkit plugins`: installed plugins, their versions, hooks, registrations, commands, import times, load
errors, and the entry points refused (with the reason)."""

import click

from advkit.cli.options import emit_json, json_option, out


@click.command("plugins")
@json_option
def plugins_command(as_json):
    """List installed plugins with version, hooks, what they registered and any load error or refusal."""
    from advkit.plugins.registry import registry

    reg = registry()
    rows = []
    for name, plugin in sorted(reg.infos.items()):
        rows.append(_row(plugin, reg.registered_by(name)))
    rows.extend(_row(plugin, {}) for plugin in reg.refused)
    if as_json:
        emit_json({"plugins": rows})  # one object, as every --json
        return
    from advkit.reporting.text import table

    lines = []
    for row in rows:
        counts = ", ".join(f"{len(v)} {k}" for k, v in row["registered"].items()) or "nothing registered"
        if row["commands"]:
            counts += f", commands: {', '.join(row['commands'])}"
        if row["refused"]:
            state = f"REFUSED: {row['refused']}"
        else:
            state = f"ERROR: {row['error']}" if row["error"] else counts
        seconds = row["import_seconds"]
        lines.append((row["name"], row["version"] or "-", "-" if seconds is None else f"{seconds:.2f}s", state))
    if lines:
        out(table(lines))


def _row(plugin, registered: dict) -> dict:
    seconds = plugin.import_seconds
    return {"name": plugin.name, "module": plugin.module, "version": plugin.version,
            "distribution": plugin.distribution, "hooks": plugin.hooks, "registered": registered,
            "commands": sorted(plugin.commands), "import_seconds": None if seconds is None else round(seconds, 3),
            "error": plugin.error, "refused": plugin.refused}
