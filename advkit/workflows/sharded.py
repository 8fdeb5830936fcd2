"""Jobs split over torchrun ranks: each attacks its contiguous shard of the samples, results merge by position."""

from __future__ import annotations

from advkit import distributed

PER_SAMPLE = ("x", "x_adv", "y", "pred_clean", "pred_adv", "success", "linf", "l2")  # AttackResult's tensors


def sharded_attack(name: str, model, x, y, *, targets=None, batch_size: int = 256, seed: int = 0, progress=None,
                   **params):
    """`advkit.attack` over `x, y`; under torchrun each rank attacks its shard (`distributed.shard`) and every
    rank returns the merged result, samples in their original order, `seconds` the wall time of the slowest.

    A target mode is resolved over all samples first, so `random` draws the targets one process would. An
    attack whose result on a sample does not depend on the rest of its batch gives the single-process
    result; random starts are drawn per rank (the same seed on every rank), equally valid, different draws.
    """
    import time
    from dataclasses import replace

    import torch

    from advkit.attacks.runner import attack

    if not distributed.active():
        return attack(name, model, x, y, targets=targets, batch_size=batch_size, seed=seed, progress=progress,
                      **params)
    if targets is not None and not isinstance(targets, torch.Tensor):
        from advkit.attacks.targets import choose_targets
        from advkit.models.inference import logits_of

        logits = logits_of(model, x, batch_size)
        targets = choose_targets(targets, logits, torch.as_tensor(y), torch.Generator().manual_seed(seed))
    part = distributed.shard(len(x))
    here = slice(part.start, part.stop)
    started = time.perf_counter()
    local = attack(name, model, x[here], y[here], targets=None if targets is None else targets[here],
                   batch_size=batch_size, seed=seed, progress=progress, **params)
    merged = {field: distributed.gather_rows(getattr(local, field)) for field in PER_SAMPLE}
    if local.targets is not None:
        merged["targets"] = distributed.gather_rows(local.targets)
    seconds = max(distributed.gather_json(time.perf_counter() - started))
    return replace(local, **merged, seconds=seconds,
                   extra={**local.extra, "distributed": distributed.describe()})


def sharded_evaluate(model, samples, *, attacks=None, checks: bool = True, probe: int = 64, batch_size: int = 256,
                     state=None, **options):
    """`advkit.evaluate` over the `SampleSet` `samples`; under torchrun each rank evaluates its shard (its
    state file, when `state` is given, gets a `.rankR` suffix), the shards are merged by sample position
    (`advkit.evaluation.merge`: counts summed) on every rank and the sanity checks run on the merged result."""
    from pathlib import Path

    import torch

    from advkit.evaluation.cascade import evaluate

    if not distributed.active():
        return evaluate(model, samples, None, attacks, checks=checks, probe=probe, batch_size=batch_size,
                        state=state, **options)
    from advkit.evaluation.merge import merge
    from advkit.evaluation.sanity import run_checks
    from advkit.evaluation.suite import as_specs

    part = distributed.shard(len(samples))
    if state is not None and not distributed.is_main():
        state = Path(state).with_suffix(f".rank{distributed.rank()}{Path(state).suffix}")
    local = evaluate(model, samples, None, attacks, checks=False, probe=probe, batch_size=batch_size, state=state,
                     positions=torch.arange(part.start, part.stop), **options)
    shards = _gathered(local)
    merged = merge(shards)
    merged.probe = _first(probe, [s.probe for s in shards])
    if checks:
        merged.checked = True
        merged.warnings, merged.sanity_cost = run_checks(model, merged, as_specs(attacks), probe=probe,
                                                         batch_size=batch_size)
    return merged


SHARD_TENSORS = ("positions", "y", "clean_pred", "broken", "broken_by", "sizes_found")  # Evaluation's per-sample rows


def _gathered(local) -> list:
    """Every rank's shard `Evaluation` (tensors gathered, counters and examples as JSON), in rank order."""
    from dataclasses import replace

    lengths = distributed.gather_json(len(local.positions))
    rows = {name: _split(distributed.gather_rows(getattr(local, name)), lengths) for name in SHARD_TENSORS}
    keys = {f"{e!r}": e for e in local.eps}
    counts = [{label: {keys[k]: run for k, run in per.items()} for label, per in c.items()}
              for c in distributed.gather_json({label: {f"{e!r}": run for e, run in per.items()}
                                                for label, per in local.counts.items()})]
    examples = _gathered_examples(local.examples)
    probes = _gathered_probes(local.probe)
    changes = distributed.gather_json(local.output_change)
    return [replace(local, **{name: rows[name][r] for name in SHARD_TENSORS}, counts=counts[r],
                    examples=examples[r], probe=probes[r], output_change=changes[r])
            for r in range(distributed.world_size())]


def _first(limit: int, probes: list[tuple]) -> tuple:
    """The first `limit` probe samples over all shards by position: the probe one process would keep."""
    import torch

    probes = [p for p in probes if p[1] is not None]
    if not probes:
        return (torch.empty(0, dtype=torch.long), None, torch.empty(0, dtype=torch.long))
    positions = torch.cat([p[0] for p in probes])
    order = positions.argsort()[:limit]
    return positions[order], torch.cat([p[1] for p in probes])[order], torch.cat([p[2] for p in probes])[order]


def _split(t, lengths: list[int]) -> list:
    return list(t.split(lengths))


def _gathered_examples(examples: list) -> list[list]:
    """The report's examples (position, eps, x, x_adv, pred, label) of every rank."""
    import torch

    facts = distributed.gather_json([[int(p), e, int(pred), label] for p, e, _, _, pred, label in examples])
    lengths = [len(f) for f in facts]
    shape = examples[0][2].shape if examples else None
    shapes = [s for s in distributed.gather_json(list(shape) if shape is not None else None) if s is not None]
    if not shapes:
        return [[] for _ in facts]
    empty = torch.empty((0, *shapes[0]))
    images = [torch.stack([ex[k] for ex in examples]).float() if examples else empty for k in (2, 3)]
    x, x_adv = (_split(distributed.gather_rows(t), lengths) for t in images)
    return [[(p, e, x[r][i], x_adv[r][i], pred, label) for i, (p, e, pred, label) in enumerate(facts[r])]
            for r in range(len(facts))]


def _gathered_probes(probe: tuple) -> list[tuple]:
    """The sanity checks' probe (positions, x, y) of every rank (x None where a rank found none)."""
    import torch

    positions, x, y = probe
    lengths = distributed.gather_json(0 if x is None else len(positions))
    shapes = [s for s in distributed.gather_json(None if x is None else list(x.shape[1:])) if s is not None]
    if not shapes:
        return [probe for _ in lengths]
    x = torch.empty((0, *shapes[0])) if x is None else x.float()
    none = torch.empty(0, dtype=torch.long)
    parts = [_split(distributed.gather_rows(t), lengths)
             for t in (none if probe[1] is None else positions, x, none if probe[1] is None else y)]
    return [(parts[0][r], parts[1][r], parts[2][r]) if lengths[r] else (none, None, none) for r in range(len(lengths))]
