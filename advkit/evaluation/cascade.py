"""Robust accuracy over epsilons: a cascade of attacks, the per-example worst case, and its cost.

A sample counts as robust at eps only if it is classified correctly and no attack found an
adversarial example for it at eps or at any smaller eps (a smaller ball lies inside the larger
one). An attack finds one when any point it evaluates inside the ball is misclassified, whether or
not its final output still is (`advkit.watch`). The cascade therefore runs each attack, eps by eps in
ascending order, only on the samples still robust, and stops computing a sample inside an attack
once it is fooled; `cascade=False` runs every attack on every sample to the end, as the reference.

The data stream batch by batch (`advkit.data.stream.batches`): each batch gets its clean
predictions, then the whole cascade. Only per-sample results are kept (clean prediction, the first
eps and attack that broke each sample, its smallest perturbation per attack) with summed counters,
so memory grows with n by a few numbers a sample; the attacks of a batch are seeded from (seed,
the batch's first sample position), so a batch gives the same result in a resumed run
(`advkit.evaluation.state`) or in a shard (`advkit.evaluation.merge`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch

from advkit.attacks import norms
from advkit.errors import UsageError
from advkit.evaluation.cost import _cost
from advkit.evaluation.suite import ALPHA_RULE, DEFAULT_EPS, EVAL_NORMS, TRIAL, AttackSpec, as_specs, instantiate
from advkit.evaluation.watch import run_watched
from advkit.reporting.progress import Progress

CURVE_POINTS = 51  # eps grid of the robustness curve, besides the evaluated eps
EOT_DRAWS = 10  # draws averaged (and predictions voted) when a randomised model is attacked without --eot


@dataclass
class Evaluation:
    """Per-sample results of `evaluate` and its summed counters; `summary()` is the JSON form.

    Per sample (row r, the sample at `positions[r]`): `y`, `clean_pred`, `broken` (index into `eps`
    of the first eps an attack fooled it at; `len(eps)`: never), `broken_by` (that attack's index in
    `attacks`, -1: never) and `sizes_found` (rows x attacks: the smallest successful perturbation
    each attack found, at any eps; inf: none). `counts[label][eps]`: ran_on, fooled and the watch's
    cost, summed over batches. `examples` and `probe` are small (the report's and the sanity checks').
    """

    attacks: list[str]
    params: dict
    norm: str
    eps: list[float]
    cascade: bool
    seed: int
    device: str
    positions: torch.Tensor
    y: torch.Tensor
    clean_pred: torch.Tensor
    broken: torch.Tensor
    broken_by: torch.Tensor
    sizes_found: torch.Tensor
    counts: dict
    examples: list = field(default_factory=list)  # (position, eps, x, x_adv, pred, attack label)
    probe: tuple = (None, None, None)  # (positions, x, y) of the first correctly classified samples (x None: none)
    eot: int = 0  # draws averaged by the attacks (0: no EOT)
    votes: int = 0  # predictions a sample's success is voted over (0: one, for a deterministic model)
    warnings: list = field(default_factory=list)
    sanity_cost: dict = field(default_factory=dict)
    checked: bool = False
    output_change: float = 0.0  # largest logit change between two identical passes (0: deterministic model)

    @property
    def any_point(self) -> bool:
        """Samples count as fooled by any evaluated point (not for a model whose outputs vary)."""
        return not self.output_change

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def correct(self) -> torch.Tensor:
        return self.clean_pred == self.y

    @property
    def clean_accuracy(self) -> float:
        return _share(int(self.correct.sum()), self.n)

    @property
    def worst_case(self) -> dict:
        """Robust accuracy at each eps: correct and not fooled at this or a smaller eps."""
        return {e: _share(int((self.correct & (self.broken > j)).sum()), self.n) for j, e in enumerate(self.eps)}

    @property
    def per_attack(self) -> dict:
        """Per attack and eps: samples attacked, fooled, robust accuracy after it (cumulative in the
        cascade, of this attack alone in full mode), its cost and, for an escalating attack (`trial.`
        parameters), the samples its full budget ran on after the trial."""
        robust = int(self.correct.sum())
        out = {label: {} for label in self.attacks}
        for e in self.eps:
            for label in self.attacks:
                if e == 0:
                    out[label][e] = {"ran_on": 0, "fooled": 0, "robust_accuracy": self.clean_accuracy}
                    continue
                run = self.counts[label][e]
                after = robust - run["fooled"] if self.cascade else int(self.correct.sum()) - run["fooled"]
                robust = after if self.cascade else robust
                out[label][e] = {"ran_on": run["ran_on"], "fooled": run["fooled"],
                                 "robust_accuracy": _share(after, self.n), **_watch_cost(run),
                                 **({"extended": run["extended"]} if TRIAL in label else {})}
        return out

    @property
    def cost(self) -> dict:
        runs = [(label, self.counts[label][e]["ran_on"], _watch_cost(self.counts[label][e]))
                for e in self.eps if e > 0 for label in self.attacks]
        return _cost(runs, self.n, self.cascade)

    @property
    def sizes(self) -> dict:
        """Per attack: the smallest successful perturbation it found of each sample it fooled."""
        return {label: self.sizes_found[:, a][torch.isfinite(self.sizes_found[:, a])].tolist()
                for a, label in enumerate(self.attacks)}

    @property
    def smallest(self) -> torch.Tensor:
        """Per sample: the smallest successful perturbation over the suite (inf: none found)."""
        if not self.sizes_found.shape[1]:
            return torch.full((self.n,), float("inf"))
        return self.sizes_found.min(1).values

    def curve(self) -> list[tuple[float, float]]:
        """(eps, robust accuracy) on a grid up to the largest eps and at every evaluated eps: a sample
        counts as robust at eps while correct and without a successful perturbation of size <= eps."""
        top = max(self.eps) if self.eps else 0.0
        grid = sorted({*self.eps, *torch.linspace(0, top, CURVE_POINTS, dtype=torch.float64).tolist()})
        smallest, correct = self.smallest, self.correct
        return [(float(t), _share(int((correct & ~norms.within(smallest, t)).sum()), self.n)) for t in grid]

    def summary(self, curve: bool = False) -> dict:
        out = {
            "n": self.n, "norm": self.norm, "eps": self.eps,
            "mode": "cascade" if self.cascade else "full",
            "fooled_by_any_evaluated_point": self.any_point, "early_stop": self.cascade and self.any_point,
            "eot": {"draws": self.eot, "votes": self.votes} if self.votes else None,
            "attacks": self.attacks, "params": self.params,
            "clean_accuracy": self.clean_accuracy,
            "worst_case": {_key(e): a for e, a in self.worst_case.items()},
            "per_attack": {a: {_key(e): r for e, r in runs.items()} for a, runs in self.per_attack.items()},
            "cost": self.cost,
            "sanity_checked": self.checked,
            "warnings": [w.to_dict() for w in self.warnings],
            "sanity_cost": self.sanity_cost,
            "seed": self.seed, "device": self.device,
        }
        if curve:
            out["curve"] = [{"eps": e, "robust_accuracy": a} for e, a in self.curve()]
        return out


def _key(eps: float) -> str:
    return f"{eps:g}"


def evaluate(model, x, y=None, attacks=None, eps=None, *, norm: str = "Linf", cascade: bool = True,
             batch_size: int = 256, seed: int = 0, checks: bool = True, probe: int = 64, progress=None,
             positions=None, workers: int = 0, eot: int | None = None, state=None, resume: bool = False,
             fingerprint: dict | None = None) -> Evaluation:
    """Robust accuracy of `model` on `x, y` (tensors) or on a `SampleSet` `x` (with `y=None`), per
    attack and per eps, and the per-example worst case.

    `attacks`: a suite string (`"pgd:steps=20,apgd:loss=dlr"`), a list of names, `AttackSpec`s or
    `(name, params)` pairs; None runs the default suite (`DEFAULT_SUITE`). `eps`: a list of budgets
    in input units (default `DEFAULT_EPS[norm]`); eps = 0 gives the clean accuracy without attacking.
    `cascade=False` runs every attack on every sample (the reference the cascade's saving is measured
    against). `checks` runs the sanity checks of `advkit.sanity` on `probe` samples. `progress` (on
    stderr; see `advkit.attack`) counts the samples still to attack over every (attack, eps).
    `positions`: the sample indices this process evaluates (a shard; default all). `workers`: data
    loading processes. `eot`: draws the attacks average the model's outputs over (None: `EOT_DRAWS`
    when the model's outputs vary between passes, else off; 0: off); a sample's success is voted over
    that many predictions, at least `EOT_DRAWS` for a model whose outputs vary. `state`: a file the per-sample state is saved to every few batches, continued from
    with `resume` (`fingerprint`: what identifies the run besides the suite, eps and seed).
    """
    from advkit.data.dataset import Dataset, check_batch
    from advkit.data.stream import batches
    from advkit.evaluation import state as saved
    from advkit.evaluation.sanity import varying_outputs
    from advkit.models.inference import logits_of
    from advkit.models.model import as_model
    from advkit.seeding import seed_everything

    if norm not in EVAL_NORMS:
        raise UsageError(f"--norm must be one of {', '.join(EVAL_NORMS)}, got {norm!r}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    if eot is not None and eot < 0:
        raise UsageError(f"--eot must be 0 or more draws, got {eot}")
    if y is not None or isinstance(x, torch.Tensor):
        if y is None:
            raise UsageError("evaluate(model, x, y, ...): tensors x need their labels y (or pass a SampleSet as x)")
        x = torch.as_tensor(x, dtype=torch.float32).cpu()
        y = torch.as_tensor(y).long().cpu()
        check_batch(as_model(model, input_shape=tuple(x.shape[1:])), x, y)
        x = Dataset(x, y, "tensors")
    samples = x
    model = as_model(model, input_shape=samples.input_shape)
    eps = sorted({float(e) for e in (DEFAULT_EPS[norm] if eps is None else eps)})
    if not eps or eps[0] < 0:
        raise UsageError(f"--eps needs one or more values >= 0, got {eps}")
    specs = as_specs(attacks)
    labels = [s.label for s in specs]
    nonzero = [e for e in eps if e > 0]
    positions = torch.arange(len(samples)) if positions is None else torch.as_tensor(positions, dtype=torch.long)
    run = saved.State.fresh(labels, eps, len(positions))
    identity = {**(fingerprint or {}), **saved.identity(specs, eps, norm, seed, cascade, batch_size, positions,
                                                         eot, probe)}
    if resume:
        run = saved.load(state, identity)
    done = run.batches * batch_size
    with Progress(len(positions) * len(nonzero) * len(specs), "evaluate", progress=progress) as meter:
        if done:  # a resumed run starts where the saved one stopped
            meter.update(done * len(nonzero) * len(specs))
        for b, (pos, xb, yb) in enumerate(batches(samples, batch_size, workers=workers, positions=positions[done:]),
                                          start=run.batches):
            check_batch(model, xb, yb)
            bseed = batch_seed(seed, int(pos[0]))
            seed_everything(bseed)  # a randomised model draws the same noise in any run, shard or resume
            rows = torch.arange(b * batch_size, b * batch_size + len(pos))
            logits = logits_of(model, xb, batch_size)
            clean = logits.argmax(1)
            if b == 0:  # a randomised model's single misclassified pass proves nothing: keep attacks' own outputs
                run.output_change = varying_outputs(model, xb, logits, batch_size)
                run.eot = (EOT_DRAWS if run.output_change else 0) if eot is None else eot
                run.votes = max(run.eot, EOT_DRAWS) if run.output_change else run.eot
            attacked = _attacked(model, run.eot)
            run.clean_pred[rows] = clean
            run.y[rows] = yb
            correct = clean == yb
            run.add_probe(pos[correct], xb[correct], yb[correct], probe)
            robust = correct.clone()
            for j, e in enumerate(eps):
                for a, s in enumerate(specs):
                    if e == 0:
                        continue
                    index = robust.nonzero().flatten() if cascade else torch.arange(len(pos))
                    meter.describe(f"evaluate {s.label} eps={e:g}")
                    meter.update(len(pos) - len(index))
                    ran_on = len(index)
                    # an escalating attack runs its trial first, its own budget only if the trial fooled
                    escalating = cascade and bool(s.trial)
                    for trial, overrides in ((True, s.trial), (False, {})) if escalating else ((False, {}),):
                        attack = instantiate(s, attacked, e, norm, seed, **overrides)[0]
                        x_adv, pred, watch = run_watched(attack, model, xb[index], yb[index], e, norm,
                                                         batch_size=batch_size, seed=bseed,
                                                         record=not run.output_change,
                                                         early_stop=cascade and not run.output_change,
                                                         progress=meter if trial or not escalating else False,
                                                         desc=f"{s.label} eps={e:g}")
                        success = correct[index] & (pred != yb[index])
                        if run.votes:
                            from advkit.attacks.expectation import fooled_by_majority

                            success &= fooled_by_majority(model, x_adv, yb[index], run.votes, batch_size)
                        size = norms.size(x_adv - xb[index], norm)
                        found = torch.where(success, size, torch.full_like(size, float("inf")))
                        column = run.sizes_found[rows[index], a]
                        run.sizes_found[rows[index], a] = torch.minimum(column, found)
                        fooled = success & norms.within(size, e)  # a min-norm attack may go beyond eps
                        extended = len(index) if escalating and not trial else 0
                        run.count(s.label, e, ran_on, int(fooled.sum()), watch.cost(), extended=extended)
                        ran_on = 0
                        first = fooled & robust[index]
                        newly = rows[index[first]]
                        run.broken[newly], run.broken_by[newly] = j, a
                        run.add_examples(e, pos[index[first]], xb[index[first]], x_adv[first], pred[first], s.label)
                        robust[index[fooled]] = False
                        index = index[~fooled]
                        if not fooled.any() or not len(index):
                            break  # the trial fooled none (or every) sample: the full budget is not spent
            run.batches = b + 1
            if state is not None and (run.batches % saved.EVERY == 0):
                saved.save(state, run, identity)
    if state is not None:
        saved.save(state, run, identity)
    instances = {s: instantiate(s, _attacked(model, run.eot), nonzero[0], norm, seed) for s in specs} if nonzero else {}
    evaluation = Evaluation(
        attacks=labels,
        params={s.label: _recorded(s, *instances[s]) if nonzero else dict(s.params) for s in specs},
        norm=norm, eps=eps, cascade=cascade, seed=seed, device=str(model.device),
        positions=positions, y=run.y, clean_pred=run.clean_pred, broken=run.broken, broken_by=run.broken_by,
        sizes_found=run.sizes_found, counts=run.counts,
        examples=sorted(run.examples, key=lambda example: (example[1], example[0])), probe=run.probe, eot=run.eot,
        votes=run.votes,
        output_change=run.output_change,
    )
    if checks:
        from advkit.evaluation.sanity import run_checks

        evaluation.checked = True
        evaluation.warnings, evaluation.sanity_cost = run_checks(model, evaluation, specs, probe=probe,
                                                                 batch_size=batch_size)
    return evaluation


def batch_seed(seed: int, position: int) -> int:
    """The seed of the attacks on the batch starting at sample `position`: the same in any run or shard."""
    digest = hashlib.blake2b(f"{seed}:{position}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def _attacked(model, draws: int):
    """The model the attacks see: `model`, or its expectation over `draws` passes (EOT)."""
    if not draws:
        return model
    from advkit.attacks.expectation import expectation

    return expectation(model, draws)


def _watch_cost(run: dict) -> dict:
    return {key: run[key] for key in ("seconds", "forward", "backward", "skipped")}


def _recorded(spec: AttackSpec, attack, bound: dict) -> dict:
    """The parameters an attack ran with, without its budget (eps); a derived step size is recorded as its rule."""
    params = {k: v for k, v in bound.items() if k != attack.budget_param}
    if attack.step_param in params and attack.step_param not in spec.attack_params:
        params[attack.step_param] = ALPHA_RULE
    if not spec.trial:
        return params
    from advkit.plugins.schema import bind

    trial = bind(type(attack), {**spec.attack_params, **spec.trial}, what=f"attack {spec.label!r}")
    return {**params, **{f"{TRIAL}{k}": trial[k] for k in spec.trial}}


def _share(count: int, n: int) -> float:
    """count / n in float32, as the mean of a mask of n samples."""
    return float(torch.tensor(count, dtype=torch.float32) / n) if n else 0.0
