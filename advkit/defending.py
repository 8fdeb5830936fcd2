"""Run a defense: measure the model, apply the defense, measure again, save model and summary."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict
from pathlib import Path

from .errors import UsageError

# Share of test inputs with an exactly zero input gradient above which a summary warns of masking.
MASKING_SHARE = 0.01


def make_defense(name: str, **params):
    """Instantiate defense `name` with checked `params`; returns (defense, qualified name, effective parameters)."""
    from .api import check_common
    from .params import bind, parameters
    from .plugins import registry

    entry = registry().lookup("defenses", name)
    what = f"defense {entry.qualified_name!r}"
    bound = bind(entry.cls, params, what=what)
    check_common(bound, what=what)
    try:
        instance = entry.cls(**bound)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{what}: {exc}") from None
    effective = {p.name: p.default for p in parameters(entry.cls) if not p.required}
    return instance, entry.qualified_name, {**effective, **bound}


def defend(name: str, model, train_data, test_data=None, *, params: dict | None = None, config=None,
           eval_attack: str = "pgd", eval_params: dict | None = None, out: str | Path | None = None,
           resume: bool = False, progress: bool = False, stop_after: int | None = None,
           batch_size: int = 256) -> tuple[object, dict]:
    """Apply defense `name` to `model` trained on `train_data`; returns (defended model, summary).

    Clean accuracy, robust accuracy under `eval_attack` (its `eps` defaults to the defense's own
    `eps`, if it has one), the mean L1 norm of the logits and the share of inputs whose input
    gradient is exactly zero are measured on `test_data` (default: `train_data`) before and after.
    With `out`, training state is checkpointed per epoch beside it (`resume=True` continues), and
    the defended model (advkit checkpoint) and the summary (`out` with suffix .json) are written.
    """
    from .models import as_model
    from .provenance import versions
    from .report import write_json
    from .seeding import seed_everything
    from .training import TrainConfig

    config = config or TrainConfig()
    config.check()
    defense, qualified, effective = make_defense(name, **(params or {}))
    model = as_model(model, input_shape=train_data.input_shape)
    test_data = train_data if test_data is None else test_data
    eval_params = dict(eval_params or {})
    if "eps" not in eval_params and isinstance(getattr(defense, "eps", None), (int, float)):
        eval_params["eps"] = defense.eps
    out = Path(out) if out is not None else None
    run = {"defense": qualified, "params": effective, "config": asdict(config), "model": copy.deepcopy(model.spec)}
    if out is not None:
        _check_resumable(_run_file(out), run, resume)
    defense.config, defense.checkpoint, defense.resume = config, out, resume
    defense.progress, defense.stop_after = progress, stop_after

    measure = dict(attack=eval_attack, attack_params=eval_params, seed=config.seed, batch_size=batch_size)
    seed_everything(config.seed)
    before, evaluation = measurements(model, test_data, **measure)
    seed_everything(config.seed)
    started = time.perf_counter()
    defended = defense.apply(model, train_data)
    seconds = time.perf_counter() - started
    after, _ = measurements(defended, test_data, **measure)
    plugin = qualified.split(".")[0]
    summary = {
        **run,
        "eval": {**evaluation, "n": len(test_data)},
        "data": {"train": train_data.describe(), "test": test_data.describe()},
        "before": before, "after": after, "details": defense.report(),
        "warnings": masking_warnings(after), "seconds": round(seconds, 3), "seed": config.seed,
        "device": str(defended.device), "versions": versions([plugin, evaluation["attack"].split(".")[0]]),
    }
    if out is not None:
        from . import checkpoints

        defended.spec["defended"] = {"defense": qualified, "params": effective}
        checkpoints.save(defended, out)
        write_json(out.with_suffix(".json"), summary)
        for state in out.parent.glob(f"{out.name}.*.resume.pt"):
            state.unlink()
        _run_file(out).unlink(missing_ok=True)
    return defended, summary


def measurements(model, data, *, attack: str, attack_params: dict, seed: int, batch_size: int) -> tuple[dict, dict]:
    """Clean and robust accuracy, attack success, mean logit L1 norm, share of exactly-zero input gradients.

    Returns the numbers and the attack as run (qualified name, parameters with defaults).
    """
    from .api import attack as run

    result = run(attack, model, data.x, data.y, seed=seed, batch_size=batch_size, **attack_params)
    numbers = {"clean_accuracy": result.clean_accuracy, "robust_accuracy": result.robust_accuracy,
               "attack_success_rate": result.success_rate, **gradient_statistics(model, data.x, data.y, batch_size)}
    return numbers, {"attack": result.attack, "params": result.params}


def gradient_statistics(model, x, y, batch_size: int = 256) -> dict:
    """Mean L1 norm of the logits and the share of inputs whose float32 input gradient of the loss is exactly 0."""
    import torch
    import torch.nn.functional as F

    device = model.device
    was_training = model.training
    model.eval()
    l1, zero = 0.0, 0
    try:
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device).requires_grad_(True)
            logits = model(xb).float()
            loss = F.cross_entropy(logits, y[start:start + batch_size].to(device), reduction="sum")
            (grad,) = torch.autograd.grad(loss, xb)
            l1 += float(logits.detach().abs().sum(1).sum())
            zero += int((grad.flatten(1) == 0).all(1).sum())
    finally:
        model.train(was_training)
    n = max(len(x), 1)
    return {"logit_l1_mean": l1 / n, "zero_gradient_share": zero / n}


def masking_warnings(after: dict) -> list[str]:
    """Warn when gradient attacks are blind on a visible share of inputs (gradient masking)."""
    share = after["zero_gradient_share"]
    if share <= MASKING_SHARE:
        return []
    return [f"{share:.1%} of test inputs have an exactly zero input gradient: gradient attacks cannot move them "
            "(gradient masking, not robustness); check with a logit attack such as C&W"]


def _run_file(out: Path) -> Path:
    return out.with_name(f"{out.name}.resume.json")


def _check_resumable(path: Path, run: dict, resume: bool) -> None:
    """Refuse to resume training state written by a different defense or parameters; record this run."""
    import json

    from .atomic import write_text
    from .report import dumps, to_jsonable

    if resume and path.is_file():
        saved = json.loads(path.read_text())
        if saved != to_jsonable(run):
            raise UsageError(f"{path} belongs to a different run ({saved.get('defense')} {saved.get('params')}); "
                             "drop --resume to start over")
    write_text(path, dumps(run))
