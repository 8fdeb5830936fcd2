"""RobustBench-compatible output: an evaluate summary as the fields of a RobustBench `model_info` JSON.

RobustBench keeps one file per model, `model_info/<dataset>/<threat_model>/<model>.json`, with
`clean_acc` and `autoattack_acc` as percentages written as strings ("53.42"), `eps` as written
("8/255") and the descriptive fields (`link`, `name`, `authors`, `venue`, `architecture`, ...) that
`robustbench.eval.benchmark(..., to_disk=True)` leaves for the author to fill (None here too).
`autoattack_acc` is the robust accuracy under `autoattack.standard` when the suite ran it alone or
first (or every attack ran on every sample); otherwise the suite's worst case, and the `advkit`
block says so, since only the former is a leaderboard number.
"""

from __future__ import annotations

from fractions import Fraction

from advkit.errors import UsageError

REFERENCE = "autoattack.standard"
FILE = "robustbench.json"


def robustbench_entry(summary: dict, *, eps: float | None = None, name: str | None = None,
                      dataset: str | None = None) -> dict:
    """The RobustBench model_info fields of an evaluate summary (`evaluate_from_specs`' or
    `Evaluation.summary()`), at `eps` (default: the one nonzero eps evaluated)."""
    value = _eps(summary, eps)
    key = f"{value:g}"  # the summary's keys
    label, source = _reference(summary)
    if label is not None:
        accuracy = summary["per_attack"][label][key]["robust_accuracy"]
    else:
        accuracy = summary["worst_case"][key]
        source = (f"worst case of {', '.join(summary['attacks'])} ({summary['mode']} mode): "
                  f"not the AutoAttack standard evaluation the leaderboard uses")
    data = summary.get("data") or {}
    return {
        "link": None, "name": name or summary.get("model"), "authors": None, "additional_data": None,
        "number_forward_passes": None, "dataset": dataset or data.get("name"), "venue": None, "architecture": None,
        "eps": eps_text(value), "clean_acc": _percent(summary["clean_accuracy"]), "reported": None,
        "autoattack_acc": _percent(accuracy),
        "threat_model": summary["norm"], "n_examples": summary["n"],
        "advkit": {"autoattack_acc_from": source, "worst_case": summary["worst_case"][key],
                   "attacks": summary["attacks"], "mode": summary["mode"], "seed": summary["seed"]},
    }


def write_robustbench(path, summary: dict, **options):
    """Write `robustbench_entry(summary, **options)` to `path` as JSON, atomically; returns the path."""
    from advkit.reporting.files import write_json

    return write_json(path, robustbench_entry(summary, **options))


def eps_text(eps: float) -> str:
    """An eps as RobustBench writes it: `8/255` for whole grey levels of 255, else the number (`0.5`)."""
    levels = Fraction(eps).limit_denominator(255)
    if levels.denominator == 255 and abs(float(levels) - eps) < 1e-9:
        return f"{levels.numerator}/255"
    return f"{eps:g}"


def _percent(share: float) -> str:
    return f"{100 * share:.2f}"


def _eps(summary: dict, eps) -> float:
    evaluated = [e for e in summary["eps"] if e > 0]
    if eps is None:
        if len(evaluated) != 1:
            raise UsageError(f"RobustBench output needs one eps; this evaluation ran {', '.join(map(eps_text, evaluated))}"
                             " (choose one)" if evaluated else "RobustBench output needs an evaluation at an eps > 0")
        eps = evaluated[0]
    match = [e for e in evaluated if abs(e - float(eps)) <= 1e-9 * max(1.0, abs(e))]
    if not match:
        raise UsageError(f"RobustBench output at eps {float(eps):g}: the evaluation ran "
                         f"{', '.join(map(eps_text, evaluated)) or 'no eps > 0'}")
    return match[0]


def _reference(summary: dict) -> tuple[str | None, str]:
    """The label of `autoattack.standard` in the suite when its own robust accuracy is in the summary."""
    sources = summary.get("attack_sources") or {}
    for position, label in enumerate(summary["attacks"]):
        qualified = sources.get(label, {}).get("name") or _qualified(label)
        if qualified == REFERENCE and (position == 0 or summary["mode"] == "full"):
            return label, f"{REFERENCE} (the reference AutoAttack, version standard)"
    return None, ""


def _qualified(label: str) -> str | None:
    from advkit.plugins.registry import registry

    try:
        return registry().lookup("attacks", label.partition("(")[0]).qualified_name
    except UsageError:
        return None
