"""The one text-table renderer of every command (and of report.md's markdown tables), and cell formatting."""

from __future__ import annotations


def table(rows, header=None, *, title: str | None = None, align: str = "<", gap: int = 2,
          markdown: bool = False) -> str:
    """Rows of cells as aligned text columns (`gap` spaces apart), or as a markdown table.

    `header`: column names (a first row); `title`: a line above, underlined with dashes (text only).
    `align`: "<" (left) or ">" (right) for every column, or one character per column. Cells are
    written with `str`; trailing spaces are dropped. Two-column rows without header are a
    key/value table: `table([("clean accuracy", "98.05%"), ...])`.
    """
    rows = [[str(c) for c in row] for row in rows]
    header = None if header is None else [str(c) for c in header]
    every = ([header] if header is not None else []) + rows
    if markdown:
        columns = len(every[0]) if every else 0
        lines = [_md(header or [""] * columns), "|" + "---|" * columns] + [_md(r) for r in rows]
        return "\n".join(lines)
    count = max((len(r) for r in every), default=0)
    widths = [max((len(r[i]) for r in every if i < len(r)), default=0) for i in range(count)]
    aligns = align * count if len(align) == 1 else align
    pad = " " * gap
    lines = [title, "-" * len(title)] if title else []
    lines += [pad.join(c.rjust(w) if a == ">" else c.ljust(w) for c, w, a in zip(r, widths, aligns)).rstrip()
              for r in every]
    return "\n".join(lines)


def _md(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def cell(value, missing: str = "-") -> str:
    """A value as a short table cell: floats to 4 significant digits (inside lists too), dicts as
    `k=v, ...`, None as `missing`."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return pairs(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cell(v, missing) for v in value) + "]"
    return str(value)


def pairs(mapping: dict, derived: dict | None = None) -> str:
    """Parameters as one cell: `eps=0.03137, steps=10, loss=None`; a derived one with its rule,
    `alpha=0.025 (2.5*eps/steps)`."""
    derived = derived or {}
    return ", ".join(f"{k}={cell(v, 'None')}" + (f" ({derived[k]})" if k in derived else "")
                     for k, v in mapping.items())
