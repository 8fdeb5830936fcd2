"""The resumable state of `evaluate`: per-sample results after each batch, saved atomically.

As AutoAttack's `state.py`: the file holds the results of the batches done and the fingerprint of
the run (model, data, suite, eps, norm, seed, batching, advkit version); a resume continues after
the last saved batch and refuses a run whose fingerprint differs, naming what differs. Saved with
`torch.save` and read back with `torch.load(weights_only=True)`: tensors, numbers and strings only.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from advkit.errors import UsageError

FILE = "evaluate_state.pt"  # its name in an `evaluate --out` folder
EVERY = 2  # batches between saves
EXAMPLES = 6  # adversarial examples kept per eps for the report


@dataclass
class State:
    """What the batches done so far found, per sample row (see `Evaluation`), and the summed counters."""

    batches: int
    y: torch.Tensor
    clean_pred: torch.Tensor
    broken: torch.Tensor
    broken_by: torch.Tensor
    sizes_found: torch.Tensor
    counts: dict
    examples: list = field(default_factory=list)
    probe: tuple = ()
    output_change: float = 0.0
    eot: int = 0
    votes: int = 0

    @classmethod
    def fresh(cls, labels: list[str], eps: list[float], n: int) -> State:
        zero = {"ran_on": 0, "fooled": 0, "extended": 0, "seconds": 0.0, "forward": 0, "backward": 0,
                "skipped": {"forward": 0, "backward": 0}}
        return cls(batches=0, y=torch.full((n,), -1, dtype=torch.long), clean_pred=torch.full((n,), -1, dtype=torch.long),
                   broken=torch.full((n,), len(eps), dtype=torch.long), broken_by=torch.full((n,), -1, dtype=torch.long),
                   sizes_found=torch.full((n, len(labels)), float("inf")),
                   counts={label: {e: {**zero, "skipped": dict(zero["skipped"])} for e in eps if e > 0}
                           for label in labels},
                   probe=(torch.empty(0, dtype=torch.long), None, torch.empty(0, dtype=torch.long)))

    def count(self, label: str, eps: float, ran_on: int, fooled: int, cost: dict, extended: int = 0) -> None:
        run = self.counts[label][eps]
        run["ran_on"] += ran_on
        run["fooled"] += fooled
        run["extended"] += extended
        run["seconds"] = round(run["seconds"] + cost["seconds"], 4)
        for key in ("forward", "backward"):
            run[key] += cost[key]
            run["skipped"][key] += cost["skipped"][key]

    def add_probe(self, positions, x, y, limit: int) -> None:
        """Keep the first `limit` correctly classified samples for the sanity checks."""
        have, xs, ys = self.probe
        room = limit - len(have)
        if room <= 0 or not len(positions):
            return
        xs = x[:room] if xs is None else torch.cat([xs, x[:room]])
        self.probe = (torch.cat([have, positions[:room]]), xs, torch.cat([ys, y[:room]]))

    def add_examples(self, eps: float, positions, x, x_adv, pred, label: str) -> None:
        """Keep the first `EXAMPLES` adversarial examples found at `eps` for the report."""
        room = EXAMPLES - sum(1 for example in self.examples if example[1] == eps)
        for i in range(min(room, len(positions))):
            self.examples.append((int(positions[i]), eps, x[i].clone(), x_adv[i].clone(), int(pred[i]), label))


def identity(specs, eps, norm, seed, cascade, batch_size, positions, eot, probe) -> dict:
    """What identifies an evaluation run besides its model and data (given by the caller)."""
    from advkit import __version__

    digest = hashlib.blake2b(positions.numpy().tobytes(), digest_size=8).hexdigest()
    return {"suite": ",".join(f"{s.label}:{sorted(dict(s.params).items())}" for s in specs),
            "eps": ",".join(f"{e:g}" for e in eps), "norm": norm, "seed": str(seed),
            "mode": "cascade" if cascade else "full", "batch_size": str(batch_size),
            "samples": f"{len(positions)} ({digest})", "eot": str(eot), "probe": str(probe),
            "advkit": __version__}


def weights_digest(model) -> str:
    """A digest of a model's parameters and buffers (names, shapes and values)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save(path, state: State, fingerprint: dict) -> None:
    from advkit.reporting.files import atomic_path

    with atomic_path(path) as tmp:
        torch.save({"fingerprint": fingerprint, "state": vars(state)}, tmp)


def load(path, fingerprint: dict) -> State:
    """The state saved at `path`, refused (UsageError) when its run's fingerprint differs from `fingerprint`."""
    path = Path(path) if path is not None else None
    if path is None or not path.is_file():
        raise UsageError(f"--resume: no saved evaluation state {path} to resume from (run without --resume first)")
    try:
        saved = torch.load(path, weights_only=True)
        old, values = saved["fingerprint"], saved["state"]
    except (OSError, RuntimeError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as exc:  # truncated, foreign
        raise UsageError(f"--resume: {path} is not a readable evaluation state ({type(exc).__name__})") from None
    for key in dict.fromkeys([*fingerprint, *old]):
        if old.get(key) != fingerprint.get(key):
            raise UsageError(f"--resume: the saved run differs in {key} (saved {old.get(key)!r}, "
                             f"now {fingerprint.get(key)!r}); run without --resume to start over")
    return State(**values)
