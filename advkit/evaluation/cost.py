"""The cost of an evaluation: measured passes and seconds, and what every attack on every sample would cost."""

from __future__ import annotations


def _cost(runs: list, n: int, cascade: bool) -> dict:
    """Measured cost, and what every attack on every sample costs: measured in full mode.

    In cascade mode it is estimated as a range over the (attack, eps, sample) runs the cascade
    skipped: `high` charges each what the attack spent per sample it did run on (early-stopped
    passes added back, seconds scaled by the passes), exact for attacks that spend the same on every
    sample (fixed steps); `low` charges each the one pass that predicts an attack's output, the least
    any attack costs. Attacks that stop on a sample once they fool it (Square, DeepFool) spend
    less on the easier samples the cascade skipped, so the truth lies in between.
    An attack that ran on no sample (all fooled before it) has no cost per sample: `high` is None.
    """
    keys = ("seconds", "forward", "backward")
    measured = _total([cost for _, _, cost in runs])
    if not cascade or not runs:
        return {"mode": "cascade" if cascade else "full", "measured": measured}
    low, high = [], []
    for label in dict.fromkeys(label for label, _, _ in runs):
        mine = [(ran_on, _without_early_stop(cost)) for name, ran_on, cost in runs if name == label]
        ran, samples = _total([cost for _, cost in mine]), sum(ran_on for ran_on, _ in mine)
        skipped = n * len(mine) - samples
        per_sample = {key: ran[key] / samples if samples else 0.0 for key in keys}
        high.append({key: ran[key] + per_sample[key] * skipped for key in keys} if samples or not skipped else None)
        passes = ran["forward"] + ran["backward"]
        low.append({"seconds": ran["seconds"] * (passes + skipped) / passes if passes else 0.0,
                    "forward": ran["forward"] + skipped, "backward": ran["backward"]})
    estimate = {"low": _total(low), "high": None if None in high else _total(high)}
    saving = {end: full and {key: round(1 - measured[key] / full[key], 4) if full[key] else 0.0 for key in keys}
              for end, full in estimate.items()}
    skipped = {key: sum(cost["skipped"][key] for _, _, cost in runs) for key in ("forward", "backward")}
    return {"mode": "cascade", "measured": measured, "skipped_by_early_stop": skipped,
            "full_estimate": estimate, "saving": saving}


def _total(costs: list) -> dict:
    return {"seconds": round(sum(c["seconds"] for c in costs), 4),
            "forward": int(round(sum(c["forward"] for c in costs))),
            "backward": int(round(sum(c["backward"] for c in costs)))}


def _without_early_stop(cost: dict) -> dict:
    """One run's cost had early stopping computed every sample to the end."""
    skipped = cost["skipped"]
    passes = cost["forward"] + cost["backward"]
    would = passes + skipped["forward"] + skipped["backward"]
    return {"seconds": cost["seconds"] * would / passes if passes else cost["seconds"],
            "forward": cost["forward"] + skipped["forward"], "backward": cost["backward"] + skipped["backward"]}
