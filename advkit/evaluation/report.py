"""The evaluation report: result.json, report.md with PNG figures, and a self-contained report.html."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from advkit.reporting.figures import image, pyplot
from advkit.reporting.files import file_set, write_bytes, write_json, write_text
from advkit.reporting.text import table

FIGURES = ("robust_accuracy", "perturbation_sizes", "examples")
FILES = ("result.json", "report.md", "report.html", *(f"{name}.png" for name in FIGURES))  # what write_reports writes
CURVE = "robustness_curve"  # the figure written too when the summary has a curve (`evaluate --curve`)


def write_reports(out_dir, evaluation, model, summary: dict, class_names=None) -> list[Path]:
    """Write result.json (`summary`), report.md, report.html and the figures as PNG into `out_dir`, all
    or none of them (`file_set`); returns the paths written."""
    out = Path(out_dir)
    pngs = {name: render(fig) for name, fig in zip(FIGURES, (accuracy_figure(evaluation),
                                                             sizes_figure(evaluation),
                                                             examples_figure(evaluation, model, class_names)))}
    if "curve" in summary:
        pngs[CURVE] = render(curve_figure(evaluation, summary["curve"]))
    with file_set(out) as stage:
        for name, data in pngs.items():
            write_bytes(stage / f"{name}.png", data)
        write_json(stage / "result.json", summary)
        write_text(stage / "report.md", markdown(summary, {name: f"{name}.png" for name in pngs}))
        write_text(stage / "report.html", page(summary, pngs))
    return [out / name for name in (*FILES, *([f"{CURVE}.png"] if CURVE in pngs else []))]


def render(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(fig)
    return buffer.getvalue()


def accuracy_figure(evaluation):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, runs in evaluation.per_attack.items():
        ax.plot(evaluation.eps, [runs[e]["robust_accuracy"] for e in evaluation.eps], marker="o", label=label)
    ax.plot(evaluation.eps, [evaluation.worst_case[e] for e in evaluation.eps], "k-", linewidth=3,
            label="worst case")
    ax.set_xlabel(f"eps ({evaluation.norm})")
    ax.set_ylabel("robust accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("after each attack of the cascade" if evaluation.cascade else "each attack alone")
    ax.legend(fontsize=7)
    return fig


def sizes_figure(evaluation):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    largest = max((max(s) for s in evaluation.sizes.values() if s), default=1.0) or 1.0
    for label, sizes in evaluation.sizes.items():
        if sizes:
            ax.hist(sizes, bins=20, range=(0.0, largest * 1.05), alpha=0.6, label=f"{label} ({len(sizes)})")
    ax.set_xlabel(f"{evaluation.norm} size of successful adversarial examples")
    ax.set_ylabel("count")
    if any(evaluation.sizes.values()):
        ax.legend(fontsize=7)
    else:
        ax.set_title("no attack succeeded")
    return fig


def curve_figure(evaluation, curve: list):
    """Robust accuracy against eps from each sample's smallest perturbation found, with the cascade's points."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step([p["eps"] for p in curve], [p["robust_accuracy"] for p in curve], where="post",
            label="smallest perturbation found")
    ax.plot(evaluation.eps, [evaluation.worst_case[e] for e in evaluation.eps], "ko", label="worst case per eps")
    ax.set_xlabel(f"eps ({evaluation.norm})")
    ax.set_ylabel("robust accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    return fig


def examples_figure(evaluation, model, class_names=None, count: int = 6):
    """Clean | adversarial pairs for the smallest eps at which adversarial examples were found."""
    plt = pyplot()
    names = class_names or [str(i) for i in range(model.num_classes)]
    lo, hi = model.bounds
    eps = min((example[1] for example in evaluation.examples), default=None)
    found = [example for example in evaluation.examples if example[1] == eps][:count]
    labels = dict(zip(evaluation.positions.tolist(), evaluation.y.tolist()))
    fig, axes = plt.subplots(max(1, len(found)), 2, figsize=(4, 2 * max(1, len(found))), squeeze=False,
                             layout="constrained")
    for row, (i, _, x, x_adv, pred, label) in enumerate(found):
        image(axes[row, 0], (x - lo) / (hi - lo), f"clean: {names[labels[i]]}")
        image(axes[row, 1], (x_adv - lo) / (hi - lo), f"{label}: {names[pred]}")
    if not found:
        axes[0, 0].set_axis_off()
        axes[0, 1].set_axis_off()
        axes[0, 0].set_title("no adversarial examples found", fontsize=8)
    else:
        fig.suptitle(f"clean | adversarial at eps = {eps:g}", fontsize=9)
    return fig


def table_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows: eps, robust accuracy per attack, worst case."""
    header = ["eps", *summary["attacks"], "worst case"]
    rows = [[e, *(f"{summary['per_attack'][a][e]['robust_accuracy']:.1%}" for a in summary["attacks"]),
             f"{summary['worst_case'][e]:.1%}"] for e in summary["worst_case"]]
    return header, rows


def cost_lines(summary: dict) -> list[str]:
    cost = summary["cost"]
    m = cost["measured"]
    lines = [f"{cost['mode']}: {m['seconds']:.2f} s, {m['forward']} forward and {m['backward']} backward "
             "sample passes"]
    if eot := summary.get("eot"):
        seen = f"attacks saw the model's output averaged over {eot['draws']} draws" if eot["draws"] else \
            "attacks saw single draws (--eot 0)"
        lines.append(f"EOT: {seen}; a sample counted as fooled only when misclassified by most of {eot['votes']} "
                     "predictions")
    if "skipped_by_early_stop" in cost and not summary.get("early_stop", True):
        lines.append("early stopping off: the model's outputs vary between passes, so attacks run to the end")
    elif "skipped_by_early_stop" in cost:
        k = cost["skipped_by_early_stop"]
        lines.append(f"early stopping skipped {k['forward']} forward and {k['backward']} backward sample passes "
                     "on samples already fooled or stalled")
    for label, runs in summary["per_attack"].items():
        extended = [f"eps={e}: {run['extended']}" for e, run in runs.items() if "extended" in run and run["ran_on"]]
        if extended:
            lines.append(f"{label}: samples given the full budget after the trial {', '.join(extended)} "
                         "(0: the trial fooled none, so the full budget was not spent)")
    if "full_estimate" in cost:
        low, high, saving = cost["full_estimate"]["low"], cost["full_estimate"]["high"], cost["saving"]
        what = ("every attack on every sample (estimated: high if the skipped samples cost what the attacked "
                "ones did, exact for fixed-step attacks; low if one pass each; --full measures it): ")
        if high is None:
            lines.append(f"{what}at least {low['seconds']:.2f} s, {low['forward']} forward, {low['backward']} "
                         f"backward (an attack ran on no sample, so its cost per sample is unknown)")
        else:
            lines.append(f"{what}{_span(low, high, 'seconds', '{:.2f}')} s, {_span(low, high, 'forward')} forward, "
                         f"{_span(low, high, 'backward')} backward; saving "
                         f"{_span(saving['low'], saving['high'], 'forward', '{:.0%}')} forward, "
                         f"{_span(saving['low'], saving['high'], 'backward', '{:.0%}')} backward, "
                         f"{_span(saving['low'], saving['high'], 'seconds', '{:.0%}')} time")
    return lines


def _span(low: dict, high: dict, key: str, form: str = "{}") -> str:
    """`low[key]`, or `low to high` when they differ."""
    a, b = form.format(low[key]), form.format(high[key])
    return a if a == b else f"{a} to {b}"


def checks_verdict(summary: dict) -> str:
    return "All checks passed." if summary.get("sanity_checked") else "Sanity checks were not run."


def markdown(summary: dict, figures: dict) -> str:
    header, rows = table_rows(summary)
    text = [f"# Robustness evaluation: {summary.get('model', 'model')}", "",
            f"{summary['n']} samples, clean accuracy {summary['clean_accuracy']:.1%}, norm {summary['norm']}, "
            f"seed {summary['seed']}, device {summary['device']}.", "", table(rows, header, markdown=True)]
    text += ["", "## Cost", *(f"- {line}" for line in cost_lines(summary)), "", "## Sanity checks", ""]
    text += [f"- **{w['code']}**: {w['meaning']} ({w['detail']}). {w['advice']}" for w in summary["warnings"]] \
        or [checks_verdict(summary)]
    text += ["", "## Figures", *(f"![{name}]({path})" for name, path in figures.items()), ""]
    return "\n".join(text)


def page(summary: dict, pngs: dict) -> str:
    """A self-contained HTML page: tables, sanity section, figures as inline base64 PNG."""
    esc = html.escape
    header, rows = table_rows(summary)
    accuracy = "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows) + "</table>"
    warnings = "".join(f"<li class='warn'><b>{esc(w['code'])}</b>: {esc(w['meaning'])} ({esc(w['detail'])}). "
                       f"{esc(w['advice'])}</li>" for w in summary["warnings"]) or f"<li>{checks_verdict(summary)}</li>"
    figures = "".join(f"<figure><img alt='{name}' src='data:image/png;base64,"
                      f"{base64.b64encode(data).decode()}'><figcaption>{name.replace('_', ' ')}</figcaption>"
                      "</figure>" for name, data in pngs.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>advkit evaluation</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 10px;text-align:right}}.warn{{color:#a00}}
img{{max-width:100%}}</style></head><body>
<h1>Robustness evaluation: {esc(str(summary.get('model', 'model')))}</h1>
<p>{summary['n']} samples, clean accuracy {summary['clean_accuracy']:.1%}, norm {esc(summary['norm'])},
mode {esc(summary['mode'])}, seed {summary['seed']}, device {esc(summary['device'])}.</p>
<h2>Robust accuracy</h2>{accuracy}
<h2>Cost</h2><ul>{''.join(f'<li>{esc(line)}</li>' for line in cost_lines(summary))}</ul>
<h2>Sanity checks</h2><ul id="sanity">{warnings}</ul>
<h2>Figures</h2>{figures}
</body></html>
"""
