"""`advkit list KIND [NAME]`: registered attacks, defenses, analyses, models, datasets or activations."""

import shutil
import textwrap

import click

from advkit.cli.options import emit_json, json_option, out
from advkit.plugins.registry import KINDS
from advkit.reporting.text import table


@click.command("list")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name", required=False)
@json_option
def list_command(kind, name, as_json):
    """List registered KIND with plugin, norm, summary and parameters (defaults in brackets).

    With NAME (`plugin.name` or a short name), show that one in full: its description and each
    parameter's type, default and description. `--json` has the full descriptions either way:
    one object, `{KIND: [entries]}` (with NAME, the entry itself).
    """
    from advkit.plugins.registry import registry

    if name is not None:
        entry = registry().lookup(kind, name).describe()
        if as_json:
            emit_json(entry)
        else:
            out(_detail(entry))
        return
    entries = [r.describe() for r in sorted(registry().all(kind), key=lambda r: r.qualified_name)]
    if as_json:
        emit_json({kind: entries})  # one object, as every --json: {"attacks": [...]}
        return
    rows = []
    for e in entries:
        flags = " ".join(filter(None, [e.get("norm") or "", "black-box" if e.get("black_box") else ""]))
        params = ", ".join(f"{p['name']}={_default(p)}" if not p["required"] else f"{p['name']} (required)"
                           for p in e["parameters"])
        rows.append([e["name"], flags, e["summary"]])
        if params:
            rows.append(["", "", f"[{params}]"])
    used = max((len(r[0]) for r in rows), default=0) + max((len(r[1]) for r in rows), default=0) + 4
    room = max(shutil.get_terminal_size((120, 24)).columns - used, 40)
    if rows:
        out(table([[name, flags, _shorten(text, room)] for name, flags, text in rows]))


def _default(param: dict) -> str:
    """A default as written in the source (`8/255`) where known, else its value."""
    return param.get("default_text") or str(param["default"])


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3].rstrip() + "..."


def _detail(e: dict) -> str:
    """One registration in full: name, flags, description, then each parameter with its description."""
    width = max(min(shutil.get_terminal_size((100, 24)).columns, 100), 60)
    flags = [f"plugin {e['plugin']}", e.get("norm") or "",
             "black-box" if e.get("black_box") else "", "targeted" if e.get("targeted") else ""]
    lines = [f"{e['name']} ({', '.join(filter(None, flags))})"]
    if e.get("description"):
        lines += textwrap.wrap(e["description"], width, initial_indent="  ", subsequent_indent="  ")
    if e["parameters"]:
        lines += ["", "parameters:"]
    for p in e["parameters"]:
        facts = [p["type"], "required" if p["required"] else f"default {_default(p)}"]
        lines.append(f"  {p['name']} ({', '.join(facts)})")
        if p.get("description"):
            lines += textwrap.wrap(p["description"], width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)
