"""The one training loop (defenses reuse it): progress bar, a checkpoint per epoch, exact resume.

Every epoch reseeds all generators from (seed, epoch), so a run resumed from its epoch checkpoint
ends with exactly the weights of an uninterrupted run with the same seed.

Under torchrun (`advkit.distributed`) the model is wrapped in DistributedDataParallel and each rank
trains on its part of every epoch (a DistributedSampler seeded with the config's seed, `set_epoch`
each epoch): `batch_size` is per rank, the global batch is world size x batch size, and the learning
rate applies to that global batch's averaged gradient. The loss function gets the wrapped model (one
DDP step per batch); an adversarial loss attacks the unwrapped model it was built on, so no gradient
is all-reduced while attacking. BatchNorm statistics are per rank (DDP broadcasts rank 0's running
statistics). After every epoch the ranks' weights are compared; only rank 0 writes the checkpoint.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from advkit import distributed
from advkit.errors import ModelError, UsageError
from advkit.reporting.files import atomic_path
from advkit.seeding import seed_everything

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run."""

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    seed: int = 0
    optimizer: str = "adam"
    momentum: float = 0.9

    def check(self) -> None:
        if self.epochs < 0:
            raise UsageError(f"--epochs must be >= 0, got {self.epochs}")
        if not 0 < self.lr < math.inf:
            raise UsageError(f"--lr must be finite and > 0, got {self.lr}")
        if not 0 <= self.weight_decay < math.inf:
            raise UsageError(f"--weight-decay must be finite and >= 0, got {self.weight_decay}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.optimizer not in ("adam", "sgd"):
            raise UsageError(f"--optimizer must be adam or sgd, got {self.optimizer!r}")


def cross_entropy(model, x, y):
    """The default loss: cross-entropy on the model's logits."""
    return F.cross_entropy(model(x), y)


def train(model, x, y, config: TrainConfig | None = None, *, loss_fn: LossFn = cross_entropy,
          checkpoint: str | Path | None = None, resume: bool = False, progress=None,
          stop_after: int | None = None, tag: str = "train") -> list[dict]:
    """Train `model` in place on `x, y`; returns per-epoch history (loss, accuracy, seconds).

    With `checkpoint`, the full training state is written atomically after every epoch and
    `resume=True` continues from it, refusing a checkpoint of another configuration, stage (`tag`),
    architecture or training data. `stop_after` ends the run after that many epochs in this call (to
    test interruption). `tag` labels the progress and the checkpoint's config. `progress` (samples
    trained over all epochs, with the loss, on stderr): auto, bar, plain, none, True/False or a running
    `advkit.progress`; None (default) is the ambient mode (`advkit.progress_mode`), auto unless set.
    """
    from advkit.reporting.progress import track

    config = config or TrainConfig()
    config.check()
    optimizer = _optimizer(model, config)
    history: list[dict] = []
    start_epoch = 0
    run = {"tag": tag, "config": asdict(config), "world_size": distributed.world_size(),
           **(fingerprint(model, x, y) if checkpoint is not None else {})}
    if resume:
        start_epoch, history = _restore(checkpoint, model, optimizer, run)
    to_run = max(0, config.epochs - start_epoch)
    to_run = to_run if stop_after is None else min(to_run, max(0, stop_after))
    with track(progress, to_run * len(x), tag) as meter:
        _epochs(model, x, y, config, loss_fn, optimizer, history, start_epoch, stop_after, checkpoint, run, tag, meter)
    model.eval()
    return history


def _epochs(model, x, y, config, loss_fn, optimizer, history, start_epoch, stop_after, checkpoint, run, tag,
            meter) -> None:
    device = next(model.parameters()).device
    net, sampler = _parallel(model, len(x), config.seed)
    epochs_run = 0
    for epoch in range(start_epoch, config.epochs):
        if stop_after is not None and epochs_run >= stop_after:
            break
        seed_everything(config.seed * 100_003 + epoch + 1_000_003 * distributed.rank())
        if sampler is None:
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
        else:
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler), dtype=torch.long)
        model.train()
        started, total, seen = time.perf_counter(), 0.0, 0
        meter.describe(f"{tag} epoch {epoch + 1}/{config.epochs}")
        for start in range(0, len(order), config.batch_size):
            index = order[start:start + config.batch_size]
            xb, yb = x[index].to(device), y[index].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net, xb, yb)
            if not torch.isfinite(loss):
                raise UsageError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); lower --lr")
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            seen += len(index)
            meter.postfix(f"loss {total / seen:.4f}")
            meter.update(len(index) * distributed.world_size())
        model.eval()
        total, seen = _summed(total, seen)
        history.append({"epoch": epoch + 1, "loss": total / max(seen, 1),
                        "seconds": round(time.perf_counter() - started, 3)})
        if epoch == 0 and distributed.is_main():
            warn_if_at_chance(model, x, y, config, tag)
        epochs_run += 1
        _check_ranks_agree(model, epoch + 1)
        if checkpoint is not None and distributed.is_main():
            _save_state(checkpoint, model, optimizer, run, epoch + 1, history)


def training_ranks(config: TrainConfig) -> dict:
    """Under torchrun: the process group, and the global batch (the batch size is per rank); else nothing."""
    group = distributed.describe()
    return {"distributed": {**group, "global_batch_size": config.batch_size * group["world_size"]}} if group else {}


def _parallel(model, n: int, seed: int):
    """Under torchrun: (model in DistributedDataParallel, seeded DistributedSampler over n samples); else (model, None)."""
    if not distributed.active():
        return model, None
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DistributedSampler

    device = next(model.parameters()).device
    net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    sampler = DistributedSampler(range(n), num_replicas=distributed.world_size(), rank=distributed.rank(),
                                 shuffle=True, seed=seed)
    return net, sampler


def _summed(total: float, seen: int) -> tuple[float, int]:
    """An epoch's loss sum and sample count over every rank (the history is the same on all of them)."""
    if not distributed.active():
        return total, seen
    rows = distributed.gather_rows(torch.tensor([[total, float(seen)]], dtype=torch.float64))
    return float(rows[:, 0].sum()), int(rows[:, 1].sum())


def weights_digest(model) -> str:
    """A digest of `model`'s state dict: names, shapes and exact values."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}:{tuple(tensor.shape)};".encode())
        digest.update(_bytes(tensor))
    return digest.hexdigest()


def _check_ranks_agree(model, epoch: int) -> None:
    """Under torchrun: every rank holds the same weights after `epoch` (else a ModelError naming the ranks)."""
    if not distributed.active():
        return
    digests = distributed.gather_json(weights_digest(model))
    differ = [r for r, d in enumerate(digests) if d != digests[0]]
    if differ:
        raise ModelError(f"after epoch {epoch} the weights of rank(s) {differ} differ from rank 0's "
                         "(a layer outside DDP's reach, or nondeterministic kernels)")


CHECK_SAMPLES = 2048  # training samples whose accuracy after epoch 1 is checked against chance


def chance_level(y) -> float:
    """The accuracy of always answering the most common class of labels `y`."""
    if len(y) == 0:
        return 0.0
    return float(torch.bincount(y.long().flatten().cpu()).max()) / len(y)


def warn_if_at_chance(model, x, y, config: TrainConfig, tag: str) -> float | None:
    """After epoch 1: warn on stderr when the training accuracy (first `CHECK_SAMPLES` samples) is still
    at chance, i.e. below min(1.5 x, + 5 points) the most common class's share; returns the accuracy."""
    import sys

    from advkit.models.inference import predict

    y = torch.as_tensor(y)
    if len(x) == 0 or CHECK_SAMPLES < 1 or y.ndim != 1 or y.is_floating_point():  # class indices only
        return None
    xs, ys = x[:CHECK_SAMPLES], y[:CHECK_SAMPLES]
    chance = chance_level(ys)
    accuracy = float((predict(model, xs) == ys.cpu()).float().mean())
    if accuracy < min(1.5 * chance, chance + 0.05):
        print(f"advkit: warning: {tag}: training accuracy after epoch 1 is {accuracy:.1%}, at chance "
              f"({chance:.1%}, always the most common class): this run may not learn; try another --lr "
              f"(now {config.lr:g})", file=sys.stderr)
    return accuracy


def _optimizer(model, config: TrainConfig):
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def fingerprint(model, x, y) -> dict:
    """Digests of the architecture (module types, parameter shapes) and of the training data.

    Float labels (a teacher's soft labels) count by shape only: recomputed on a GPU they may differ
    in the last bit.
    """
    arch = hashlib.blake2b(digest_size=16)
    for name, module in model.named_modules():
        arch.update(f"{name}:{type(module).__qualname__};".encode())
    for name, tensor in model.state_dict().items():
        arch.update(f"{name}:{tuple(tensor.shape)};".encode())
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    data = hashlib.blake2b(digest_size=16)
    data.update(f"{tuple(x.shape)}{x.dtype}{tuple(y.shape)}{y.dtype}".encode())
    data.update(_bytes(x))
    if not y.is_floating_point():
        data.update(_bytes(y))
    return {"architecture": arch.hexdigest(), "data": data.hexdigest()}


def _bytes(t: torch.Tensor) -> memoryview:
    """The raw bytes of a tensor of any dtype, without copying a contiguous CPU tensor."""
    return memoryview(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())


def _save_state(path, model, optimizer, run: dict, epoch: int, history) -> None:
    state = {**run, "epoch": epoch, "history": history, "model": model.state_dict(),
             "optimizer": optimizer.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _restore(path, model, optimizer, run: dict) -> tuple[int, list[dict]]:
    if path is None or not Path(path).is_file():
        raise UsageError(f"nothing to resume: no checkpoint at {path}")
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot resume from {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    saved, current = dict(state.get("config", {})), run["config"]
    changed = [f"{k}: {saved.get(k)!r} -> {value!r}" for k, value in current.items()
               if k != "epochs" and saved.get(k) != value]
    if state.get("tag") != run["tag"]:
        changed.insert(0, f"stage {state.get('tag')!r} -> {run['tag']!r}")
    if state.get("world_size", 1) != run["world_size"]:
        changed.append(f"world size {state.get('world_size', 1)} -> {run['world_size']} (torchrun ranks)")
    if "data" not in state:
        changed.append("it has no fingerprint of the architecture and data: written by an older advkit")
    else:
        changed += [f"the {k} differs" for k in ("architecture", "data") if state.get(k) != run[k]]
    if changed:
        raise UsageError(f"checkpoint {path} belongs to a different run ({', '.join(changed)}); "
                         "drop --resume to start over")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[-1].strip()[:200]
        raise UsageError(f"cannot resume from {path}: its weights do not fit this model ({detail}); "
                         "drop --resume to start over") from None
    return int(state["epoch"]), list(state.get("history", []))


def evaluate_accuracy(model, x, y, batch_size: int = 512) -> float:
    """Clean accuracy of `model` on `x, y`."""
    from advkit.models.inference import predict

    if len(x) == 0:
        return 0.0
    return float((predict(model, x, batch_size) == y.cpu()).float().mean())
