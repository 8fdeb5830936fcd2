"""Merging the evaluations of shards (disjoint sample positions, e.g. one per process) into one.

Per-sample results are put back in sample order and counters are summed, never averaged, so the
merged `Evaluation` equals a single run over all samples whenever each batch's attacks depend only on
the batch (`evaluate` seeds them from the batch's first sample position). Sanity checks are not
merged: run them on the merged evaluation (`advkit.evaluation.sanity.run_checks`).
"""

from __future__ import annotations

import torch

from advkit.errors import UsageError

SAME = ("attacks", "params", "norm", "eps", "cascade", "seed", "eot", "votes")  # what every shard must share


def merge(shards) -> object:
    """One `Evaluation` from the evaluations of `shards` (at least one, over disjoint positions)."""
    from advkit.evaluation.cascade import Evaluation
    from advkit.evaluation.state import EXAMPLES

    shards = list(shards)
    if not shards:
        raise UsageError("merge needs at least one shard's evaluation")
    first = shards[0]
    for key in SAME:
        for shard in shards[1:]:
            if getattr(shard, key) != getattr(first, key):
                raise UsageError(f"cannot merge evaluations that differ in {key}: "
                                 f"{getattr(first, key)!r} and {getattr(shard, key)!r}")
    positions = torch.cat([s.positions for s in shards])
    order = positions.argsort()
    positions = positions[order]
    if len(positions) > 1 and (positions[1:] == positions[:-1]).any():
        raise UsageError(f"cannot merge shards that share samples (position {int(positions[1:][positions[1:] == positions[:-1]][0])})")

    def joined(name):
        return torch.cat([getattr(s, name) for s in shards])[order]

    counts = {label: {e: _summed([s.counts[label][e] for s in shards]) for e in first.counts[label]}
              for label in first.counts}
    examples = sorted((example for s in shards for example in s.examples), key=lambda ex: (ex[1], ex[0]))
    kept, per_eps = [], {}
    for example in examples:
        per_eps[example[1]] = per_eps.get(example[1], 0) + 1
        if per_eps[example[1]] <= EXAMPLES:
            kept.append(example)
    return Evaluation(
        attacks=first.attacks, params=first.params, norm=first.norm, eps=first.eps, cascade=first.cascade,
        seed=first.seed, device=first.device, positions=positions, y=joined("y"), clean_pred=joined("clean_pred"),
        broken=joined("broken"), broken_by=joined("broken_by"), sizes_found=joined("sizes_found"), counts=counts,
        examples=kept, probe=_probe([s.probe for s in shards]), eot=first.eot, votes=first.votes,
        output_change=max(s.output_change for s in shards),
    )


def _summed(runs: list) -> dict:
    out = {key: sum(run[key] for run in runs) for key in ("ran_on", "fooled", "extended", "forward", "backward")}
    out["seconds"] = round(sum(run["seconds"] for run in runs), 4)
    out["skipped"] = {key: sum(run["skipped"][key] for run in runs) for key in ("forward", "backward")}
    return out


def _probe(probes: list) -> tuple:
    """The shards' probe samples in sample order, as many as the largest shard's probe."""
    probes = [p for p in probes if p and p[1] is not None]
    if not probes:
        return torch.empty(0, dtype=torch.long), None, torch.empty(0, dtype=torch.long)
    limit = max(len(p[0]) for p in probes)
    positions = torch.cat([p[0] for p in probes])
    order = positions.argsort()[:limit]
    return positions[order], torch.cat([p[1] for p in probes])[order], torch.cat([p[2] for p in probes])[order]
