"""Watching the forward passes an attack makes: counting them, and stopping early on fooled samples.

While installed (`with ForwardWatch(model) as watch:`), the watch stands in for the model's
`forward` and counts the samples the model really computes, forward and backward. With `record`, inside
`watch.batch(x, y, eps, norm, bounds)` it also remembers, for each sample of that batch, the first
point the attack evaluated that lies in the eps ball and the input bounds and that the model
misclassifies: an adversarial example found, which later steps cannot take back (`Batch.merge`
puts it into the attack's output). With `freeze=True` the watch then stops computing that sample:
its logits are replayed, constant, from the pass that fooled it, so its gradient is zero and the
model never sees it again, while the samples still being attacked run exactly as before. The same
happens to a sample the attack has left at exactly the same point for `STALL_PASSES` passes in a row
(a zero gradient, or a fixed point of its steps): it is stalled, its logits are those of that point,
and it is computed again as soon as the attack moves it (a restart). Calls that do not line up with
the watched batch (another batch size or input shape) pass through untouched.
"""

from __future__ import annotations

import contextlib
import time
from functools import partial

import torch

from advkit.attacks import norms

STALL_PASSES = 10  # passes at an unchanged point after which a sample is stalled (no longer computed)


class Batch:
    """The samples one attack call works on, and the first adversarial example found for each."""

    def __init__(self, x, y, eps: float, norm: str, bounds: tuple[float, float]):
        self.x, self.y = x.detach(), y.detach()
        self.eps, self.norm, self.bounds = float(eps), norm, bounds
        self.found = self.x.clone()
        self.fooled = torch.zeros(len(y), dtype=torch.bool, device=y.device)
        self.logits = None  # each sample's logits at its last computed pass: replayed while it is frozen
        self.point = torch.full_like(self.x, float("nan"))  # the point each sample was last evaluated at
        self.unchanged = torch.zeros(len(y), dtype=torch.long, device=y.device)  # passes in a row at that point

    def stalled(self, x) -> torch.Tensor:
        """Count the passes each sample has stayed at its point; True where it has for `STALL_PASSES`."""
        same = (x.detach() == self.point).flatten(1).all(1)
        self.unchanged = torch.where(same, self.unchanged + 1, torch.zeros_like(self.unchanged))
        self.point = x.detach().clone()
        return self.unchanged >= STALL_PASSES

    def remember(self, logits, rows) -> None:
        """Keep the logits just computed for `rows`."""
        if self.logits is None:
            self.logits = logits.new_zeros(len(self.y), logits.shape[1])
        self.logits[rows] = logits.detach().to(self.logits.dtype)

    def observe(self, x, logits, rows) -> None:
        """Record the samples `rows` that `x` (their current points, with `logits`) newly fools."""
        with torch.no_grad():
            new = (logits.argmax(1) != self.y[rows]) & ~self.fooled[rows]
            if not new.any():
                return
            new[new.clone()] = torch.isfinite(logits[new]).all(1) & self._admissible(x[new], rows[new])
            if not new.any():
                return
            index = rows[new]
            self.found[index] = x[new].detach().to(self.found.dtype)
            self.fooled[index] = True

    def _admissible(self, x, rows):
        """Points that are finite, inside the input bounds and inside the eps ball of their sample."""
        lo, hi = self.bounds
        flat = x.detach().flatten(1)
        delta = (flat - self.x[rows].flatten(1)).float()
        inside = (flat >= lo).all(1) & (flat <= hi).all(1) & torch.isfinite(flat).all(1)
        return inside & norms.within(norms.size(delta, self.norm), self.eps)

    def merge(self, x_adv):
        """The attack's output with each fooled sample replaced by the first adversarial example found."""
        mask = self.fooled.view(-1, *[1] * (x_adv.ndim - 1)).to(x_adv.device)
        return torch.where(mask, self.found.to(x_adv.device, x_adv.dtype), x_adv)


class ForwardWatch:
    """Counts a model's forward and backward samples and, per watched batch, stops early on fooled ones."""

    def __init__(self, model, *, record: bool = True, freeze: bool = False):
        self.model = model
        self.record = record or freeze
        self.freeze = freeze
        self.forward = self.backward = 0
        self.skipped_forward = self.skipped_backward = 0
        self.seconds = 0.0
        self._batch: Batch | None = None

    def __enter__(self):
        self._shadowed = vars(self.model).get("forward")  # another watch's, when watches nest
        self._inner = self.model.forward
        self.model.forward = self._forward  # an instance attribute shadows the class's forward
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._started
        if self._shadowed is None:
            del self.model.forward
            return
        self.model.forward = self._shadowed
        outer = getattr(self._shadowed, "__self__", None)
        if isinstance(outer, ForwardWatch):  # what this watch skipped, the outer one never saw
            outer.skipped_forward += self.skipped_forward
            outer.skipped_backward += self.skipped_backward

    @contextlib.contextmanager
    def batch(self, x, y, eps: float, norm: str, bounds: tuple[float, float]):
        """Watch the attack's passes over `x, y` (on the model's device) for adversarial examples."""
        self._batch = Batch(x, y, eps, norm, bounds)
        try:
            yield self._batch
        finally:
            self._batch = None

    def cost(self) -> dict:
        """Seconds and samples computed, and the samples early stopping skipped."""
        return {"seconds": round(self.seconds, 4), "forward": self.forward, "backward": self.backward,
                "skipped": {"forward": self.skipped_forward, "backward": self.skipped_backward}}

    def _forward(self, x):
        batch = self._batch
        if batch is None or not self.record or x.shape != batch.x.shape:
            return self._computed(x)
        frozen = batch.fooled | batch.stalled(x) if self.freeze else torch.zeros_like(batch.fooled)
        if not frozen.any():
            out = self._computed(x)
            every = torch.arange(len(x), device=batch.fooled.device)
            batch.remember(out, every)
            batch.observe(x, out, every)
            return out
        rows = (~frozen).nonzero().flatten()
        skipped = len(x) - len(rows)
        self.skipped_forward += skipped
        out = batch.logits.clone()
        if len(rows):
            live = self._computed(x[rows])
            out = out.to(live.dtype)
            out[rows] = live
            batch.remember(live, rows)
            batch.observe(x[rows], live, rows)
        elif x.requires_grad and torch.is_grad_enabled():
            out = out + 0 * x.flatten(1)[:, :1].nan_to_num()  # all frozen: the attack still gets a zero gradient
        if out.requires_grad:
            out.register_hook(partial(self._count, "skipped_backward", skipped))
        return out

    def _computed(self, x):
        out = self._inner(x)
        count = int(out.shape[0])
        self.forward += count
        if out.requires_grad:
            out.register_hook(partial(self._count, "backward", count))
        return out

    def _count(self, attribute: str, count: int, grad) -> None:
        setattr(self, attribute, getattr(self, attribute) + count)


def run_watched(attack, model, x, y, eps: float, norm: str, *, batch_size: int, seed: int, record: bool = True,
                early_stop: bool = False, progress=False, desc: str = ""):
    """Adversarial examples and their predictions for one attack, and the watch that counted its passes.

    With `record`, a sample counts as fooled when any point the attack evaluated inside the eps ball
    was misclassified (`advkit.watch`) and a fresh prediction confirms it; otherwise the attack's own
    output stands. `early_stop` also stops computing fooled samples for the rest of the attack.
    `progress` (a mode, True/False or a running `Progress` to advance) counts the samples attacked.
    """
    import torch

    from advkit.evaluation.watch import ForwardWatch
    from advkit.models.inference import predict
    from advkit.reporting.progress import track
    from advkit.seeding import seed_everything

    seed_everything(seed)
    own, found = [], []
    device = model.device
    with ForwardWatch(model, record=record, freeze=early_stop) as watch, track(progress, len(x), desc) as meter:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            with watch.batch(xb, yb, eps, norm, model.bounds) as batch:
                x_adv = attack(xb, yb)
            own.append(x_adv.cpu())
            found.append(batch.merge(x_adv).cpu())
            meter.update(len(xb))
        if not len(x):
            return x.clone(), y.clone(), watch
        x_own, x_adv = torch.cat(own), torch.cat(found)
        pred = predict(model, x_adv, batch_size)
        unconfirmed = (pred == y) & (x_adv != x_own).flatten(1).any(1)
        if unconfirmed.any():  # misclassified in the attack's pass but not in this one (random or GPU-numeric)
            x_adv[unconfirmed] = x_own[unconfirmed]
            pred[unconfirmed] = predict(model, x_own[unconfirmed], batch_size)
    return x_adv, pred, watch
