"""Run a defense: measure the model, apply the defense, measure again, save model and summary."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict
from pathlib import Path

from advkit import distributed
from advkit.errors import UsageError

# Share of test inputs with an exactly zero input gradient above which a summary warns of masking.
MASKING_SHARE = 0.01


def make_defense(name: str, **params):
    """Instantiate defense `name` with checked `params`; returns (defense, qualified name, effective parameters)."""
    from advkit.plugins.registry import instantiate

    return instantiate("defenses", name, **params)


def defend(name: str, model, train_data, test_data=None, *, params: dict | None = None, config=None,
           eval_attack: str = "apgd", eval_params: dict | None = None, out: str | Path | None = None,
           resume: bool = False, progress=None, stop_after: int | None = None,
           batch_size: int = 256) -> tuple[object, dict]:
    """Apply defense `name` to `model` trained on `train_data`; returns (defended model, summary).

    Clean accuracy, robust accuracy under `eval_attack` (default APGD-CE with 100 steps; its `eps`
    defaults to the defense's own `eps`, if it has one), the mean L1 norm of the logits and the share
    of inputs whose input gradient is exactly zero are measured on `test_data` (default:
    `train_data`) before and after; the summary says (and warns) when that is training data. With
    `out`, training state is checkpointed per epoch beside it (`resume=True` continues), and the
    defended model (advkit checkpoint) and the summary (`out` with suffix .json) are written.
    `progress` (the attacks and the training, on stderr): auto, bar, plain, none or True/False; None
    (default) is the ambient mode (`advkit.progress_mode`), auto unless set.
    """
    from advkit.attacks.runner import get_attack
    from advkit.models.model import as_model
    from advkit.plugins.schema import parameters
    from advkit.reporting.files import check_output_file, file_set, write_json
    from advkit.reporting.progress import progress_mode
    from advkit.reporting.provenance import envelope
    from advkit.seeding import seed_everything
    from advkit.training.loop import TrainConfig, training_ranks

    config = config or TrainConfig()
    config.check()
    out = Path(out) if out is not None else None
    if out is not None and out.suffix.lower() == ".json":
        raise UsageError("--out is the model checkpoint; use .safetensors or .pt")
    if out is not None:
        check_output_file(out)  # a device, FIFO, socket or directory is refused before any work
        check_output_file(out.with_suffix(".json"))
    defense, qualified, effective = make_defense(name, **(params or {}))
    model = as_model(model, input_shape=train_data.input_shape)
    on_training_data = test_data is None or test_data.meta.get("split") == "all"
    test_data = train_data if test_data is None else test_data
    eval_params = dict(eval_params or {})
    attack_cls = get_attack(eval_attack)
    budget = attack_cls.budget_param  # the attack's eps, under its own name
    takes_eps = budget in {p.name for p in parameters(attack_cls)}
    if takes_eps and budget not in eval_params and isinstance(getattr(defense, "eps", None), (int, float)):
        eval_params[budget] = defense.eps
    run = {"defense": qualified, "params": effective, "config": asdict(config), "model": copy.deepcopy(model.spec)}
    if out is not None and distributed.is_main():
        _check_resumable(_run_file(out), {**run, "data": train_data.describe()}, resume)
    defense.config, defense.checkpoint, defense.resume = config, out, resume
    defense.progress, defense.stop_after = progress, stop_after

    measure = dict(attack=eval_attack, attack_params=eval_params, seed=config.seed, batch_size=batch_size)
    try:
        with progress_mode(progress):
            seed_everything(config.seed)
            before, evaluation = measurements(model, test_data, **measure)
            seed_everything(config.seed)
            started = time.perf_counter()
            defended = defense.apply(model, train_data)
            seconds = time.perf_counter() - started
            after, _ = measurements(defended, test_data, **measure)
    except BaseException:
        if out is not None and distributed.is_main() and not _state_files(out):
            _run_file(out).unlink(missing_ok=True)  # nothing to resume: leave no record behind
        raise
    warnings = masking_warnings(after)
    if on_training_data:
        warnings.insert(0, f"data {test_data.meta.get('spec')!r} has no test split: accuracy before and after "
                           "is measured on the training data")
    plugin = qualified.split(".")[0]
    from advkit.models.architecture import model_source

    summary = {
        **run, "plugin": plugin, "model_source": model_source(run["model"]),
        "eval": {**evaluation, "plugin": evaluation["attack"].split(".")[0], "n": len(test_data)},
        "eval_on_training_data": on_training_data,
        "data": {"train": train_data.describe(), "test": test_data.describe()},
        "before": before, "after": after, "details": defense.report(),
        "warnings": warnings, "seconds": round(seconds, 3), **training_ranks(config),
        **envelope(plugins=[plugin, evaluation["attack"].split(".")[0]], seed=config.seed, device=defended.device,
                   params=effective),
    }
    if out is not None and distributed.is_main():  # under torchrun rank 0 writes the model and summary
        from advkit.models import checkpoints

        defended.spec["defended"] = {"defense": qualified, "params": effective}
        with file_set(out.parent) as stage:  # the checkpoint and its summary, both or neither
            checkpoints.save(defended, stage / out.name)
            write_json(stage / out.with_suffix(".json").name, summary)
        for state in _state_files(out):
            state.unlink()
        _run_file(out).unlink(missing_ok=True)
    return defended, summary


def measurements(model, data, *, attack: str, attack_params: dict, seed: int, batch_size: int) -> tuple[dict, dict]:
    """Clean and robust accuracy, attack success, mean logit L1 norm, share of exactly-zero input gradients.

    Returns the numbers and the attack as run (qualified name, parameters with defaults, and under
    `derived` those not given but derived, `{name: rule}`: a step size follows eps).
    """
    from advkit.attacks.runner import attack as run

    result = run(attack, model, data.x, data.y, seed=seed, batch_size=batch_size, **attack_params)
    numbers = {"clean_accuracy": result.clean_accuracy, "robust_accuracy": result.robust_accuracy,
               "attack_success_rate": result.success_rate, **gradient_statistics(model, data.x, data.y, batch_size)}
    return numbers, {"attack": result.attack, "params": result.params, "derived": result.derived}


def gradient_statistics(model, x, y, batch_size: int = 256) -> dict:
    """Mean L1 norm of the logits and the share of inputs whose float32 input gradient of the loss is exactly 0."""
    import torch
    import torch.nn.functional as F

    from advkit.models.inference import eval_mode

    device = model.device
    l1, zero = 0.0, 0
    with eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device).requires_grad_(True)
            logits = model(xb).float()
            loss = F.cross_entropy(logits, y[start:start + batch_size].to(device), reduction="sum")
            (grad,) = torch.autograd.grad(loss, xb)
            l1 += float(logits.detach().abs().sum(1).sum())
            zero += int((grad.flatten(1) == 0).all(1).sum())
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


def _state_files(out: Path) -> list[Path]:
    return list(out.parent.glob(f"{out.name}.*.resume.pt"))


def _check_resumable(path: Path, run: dict, resume: bool) -> None:
    """Refuse to resume training state written by a different defense, parameters, model or data; record this run."""
    import json

    from advkit.reporting.files import dumps, to_jsonable, write_text

    if resume and path.is_file():
        saved = json.loads(path.read_text())
        current = to_jsonable(run)
        changed = sorted(k for k in {*saved, *current} if saved.get(k) != current.get(k))
        if changed:
            raise UsageError(f"{path} belongs to a different run ({', '.join(changed)} differ); "
                             "drop --resume to start over")
    write_text(path, dumps(run))
