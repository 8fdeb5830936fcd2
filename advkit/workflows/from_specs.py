"""The jobs the commands run, from CLI-style specs: load the model and data, call the API, build the summary
(with the provenance `envelope`) and, given `out`, write the result files. The CLI only parses and prints."""

from __future__ import annotations

from pathlib import Path

from advkit import distributed
from advkit.errors import UsageError
from advkit.models.architecture import model_source
from advkit.training.defend import defend

ATTACK_FILES = ("result.json", "adversarial.npz", "examples.png")  # what `attack_from_specs(out=DIR)` writes
ANALYZE_FILES = ("report.json",)  # and one PNG per figure
REPRODUCE_FILES = ("result.json", "report.md")  # and one PNG per figure


EXAMPLES_KEPT = 64  # images a streamed `attack_from_specs` holds for examples.png (the rest go to adversarial.npz)


def attack_from_specs(name: str, model_spec: str | None = None, data_spec: str | None = None, *,
                      split: str = "test", n: int | None = None, seed: int = 0, device: str = "auto", bounds=None,
                      mean=None, std=None, params: dict | None = None, targets=None, batch_size: int = 256,
                      workers: int = 0, progress=None, out=None) -> tuple[object, dict]:
    """Attack `name` on the model and data of the specs; returns (AttackResult, summary).

    The data stream batch by batch (`workers` reader processes); the result holds per-sample
    outcomes and the first `EXAMPLES_KEPT` images only. `targets`: a target mode (random,
    least-likely, next, a class number) or None. With `out` (a folder), the summary (result.json),
    the adversarial examples (adversarial.npz, written batch by batch by `AdversarialWriter`) and a
    figure of examples (examples.png) are written there, all or none. `params` (`key: value`,
    values may be text) go to the attack.
    """
    import contextlib

    from advkit.attacks.figures import examples_figure
    from advkit.reporting.adversarial import AdversarialWriter
    from advkit.reporting.files import check_output_dir, file_set, write_json
    from advkit.reporting.provenance import envelope
    from advkit.workflows.inputs import load_inputs
    from advkit.workflows.sharded import sharded_attack

    if out is not None:
        check_output_dir(out, ATTACK_FILES)
    from advkit.attacks import runner

    params = own_arguments(params, runner.attack, "attack")
    inputs = load_inputs(model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                         bounds=bounds, mean=mean, std=std)
    data = inputs.data
    with contextlib.ExitStack() as stack:
        # under torchrun rank 0 writes the merged result; all three files or none
        stage = stack.enter_context(file_set(out)) if out is not None and distributed.is_main() else None
        writer = stack.enter_context(AdversarialWriter(stage / "adversarial.npz")) if stage is not None else None
        if distributed.active():  # a shard per rank on tensors, merged
            result = sharded_attack(name, inputs.model, data.x, data.y, targets=targets, batch_size=batch_size,
                                    seed=seed, progress=progress, **(params or {}))
            if writer is not None:
                writer.add(range(result.n), result.x_adv, result.y, result.pred_clean, result.pred_adv,
                           targets=result.targets)
        else:
            result = runner.attack(name, inputs.model, data, targets=targets, batch_size=batch_size, seed=seed,
                                   progress=progress, workers=workers, writer=writer, keep=EXAMPLES_KEPT,
                                   **(params or {}))
        plugin = result.attack.split(".")[0]
        source = model_source(inputs.model.spec)
        summary = {**result.summary(), "plugin": plugin, "model": inputs.model_spec, "model_source": source,
                   "data": data.describe(),
                   **envelope(plugins=[plugin] + [source["plugin"]] * (source["plugin"] not in (None, plugin, "advkit")),
                              seed=seed, device=result.device, params=result.params)}
        if targets is not None:
            summary["target_mode"] = targets
        if stage is not None:
            writer.close(result.n)
            write_json(stage / "result.json", summary)
            examples_figure(stage / "examples.png", result.head(EXAMPLES_KEPT), inputs.model, data.class_names)
    return result, summary


OWN_OPTIONS = {"seed": "--seed", "batch_size": "--batch-size", "targets": "--targeted", "model": "--model",
               "x": "--data", "y": "--data", "name": "--plugin", "progress": None, "kind": None,
               "workers": "--workers", "writer": None, "keep": None}


def own_arguments(params: dict | None, func, what: str) -> dict:
    """`params` for a plugin, refusing keys that are `func`'s own arguments (or the names `func` lists):
    `-p seed=5` would reach `func(..., seed=..., **params)` twice. The error names the option to use."""
    import inspect

    params = dict(params or {})
    own = {name for name, p in inspect.signature(func).parameters.items()
           if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} if callable(func) else set(func)
    for key in params:
        if key in own:
            option = OWN_OPTIONS.get(key)
            where = f"; use {option}" if option else ""
            raise UsageError(f"-p {key}: {key!r} is advkit's own argument, not a parameter of the {what}{where}")
    return params


def evaluate_from_specs(model_spec: str | None = None, data_spec: str | None = None, *, split: str = "test",
                        n: int | None = None, seed: int = 0, device: str = "auto", bounds=None, mean=None, std=None,
                        attacks=None, eps=None, norm: str = "Linf", full: bool = False, probe: int = 64,
                        batch_size: int = 256, progress=None, out=None, resume: bool = False, curve: bool = False,
                        eot: int | None = None, workers: int = 0) -> tuple[object, dict]:
    """`evaluate` on the model and data of the specs; returns (Evaluation, summary).

    `full` runs every attack on every sample (no cascade). With `out` (a folder), the report files
    (`advkit.evaluation.report.FILES`: result.json, report.md, report.html, figures) are written there,
    and the run's state (`advkit.evaluation.state.FILE`) every few batches: `resume` continues it.
    `curve` adds the robustness curve; `eot` and `workers` as in `evaluate`.
    """
    import time
    from pathlib import Path

    from advkit.evaluation import state
    from advkit.errors import UsageError
    from advkit.reporting.files import check_output_dir
    from advkit.reporting.provenance import envelope
    from advkit.workflows.inputs import load_inputs
    from advkit.workflows.sharded import sharded_evaluate

    if resume and out is None:
        raise UsageError("--resume needs --out DIR, the folder of the run to continue")
    if out is not None:
        from advkit.evaluation.report import FILES

        check_output_dir(out, (*FILES, state.FILE))
    inputs = load_inputs(model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                         bounds=bounds, mean=mean, std=std)
    data = inputs.data
    started = time.time()
    fingerprint = {"model": str(inputs.model_spec), "weights": state.weights_digest(inputs.model),
                   "data": str(data_spec), "split": split, "n": str(len(data))}
    evaluation = sharded_evaluate(inputs.model, data, attacks=attacks, eps=eps, norm=norm, cascade=not full,
                                  batch_size=batch_size, seed=seed, probe=probe, progress=progress, eot=eot,
                                  workers=workers, state=None if out is None else Path(out) / state.FILE,
                                  resume=resume, fingerprint=fingerprint)  # under torchrun: a shard per rank
    summary = {"model": inputs.model_spec, "model_source": model_source(inputs.model.spec), "data": data.describe(),
               **evaluation.summary(curve=curve), "attack_sources": attack_sources(attacks),
               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
               "seconds": round(time.time() - started, 3),
               **envelope(plugins=None, seed=evaluation.seed, device=evaluation.device, params=evaluation.params)}
    if out is not None and distributed.is_main():  # under torchrun rank 0 writes the merged reports
        from advkit.evaluation.report import write_reports

        write_reports(out, evaluation, inputs.model, summary, data.class_names)
    return evaluation, summary


def attack_sources(attacks) -> dict:
    """For each attack of an evaluation suite (by its label): the qualified name and plugin it resolves to."""
    from advkit.evaluation.suite import as_specs
    from advkit.plugins.registry import registry

    out = {}
    for spec in as_specs(attacks):
        entry = registry().lookup("attacks", spec.name)
        out[spec.label] = {"name": entry.qualified_name, "plugin": entry.plugin}
    return out


def analyze_from_specs(name: str, model_specs=(), data_spec: str | None = None, *, split: str = "test",
                       n: int | None = None, seed: int = 0, device: str = "auto", bounds=None, mean=None, std=None,
                       params: dict | None = None, progress=None, out=None) -> tuple[object, dict]:
    """Analysis `name` on the models (none, one, or several for a multi-model analysis) and data of the
    specs; returns (Report, summary). With `out` (a folder), report.json and one PNG per figure are
    written there (the summary then lists them under `figures`); otherwise the figures are closed.
    `progress` is the ambient progress mode while the analysis runs (`advkit.progress_mode`)."""
    from advkit.models.inference import resolve_device
    from advkit.plugins.registry import instantiate, registry
    from advkit.reporting.progress import progress_mode
    from advkit.reporting.provenance import envelope
    from advkit.research.analysis import Report
    from advkit.seeding import seed_everything
    from advkit.workflows.inputs import load_for_analysis

    if out is not None:
        _check_out(out, ANALYZE_FILES)
    params = own_arguments(params, instantiate, "analysis")
    analysis, qualified, effective = instantiate("analyses", name, seed=seed, **params)
    cls, what = type(analysis), f"analysis {qualified!r}"
    model, data, specs = load_for_analysis(cls, what, list(model_specs or ()), data_spec, split=split, n=n,
                                           seed=seed, device=device, bounds=bounds, mean=mean, std=std)
    seed_everything(seed)
    with progress_mode(progress):
        report = analysis.run(model, data)
    if not isinstance(report, Report):
        raise UsageError(f"{what} returned {type(report).__name__}, expected an advkit.Report")
    first = model[0] if isinstance(model, list) else model
    summary = {
        "analysis": qualified,
        "model": specs if cls.multi_model else (specs[0] if specs else None),
        "data": data.describe(),
        **envelope(plugins=[registry().lookup("analyses", qualified).plugin], seed=seed,
                   device=first.device if first is not None else resolve_device(device), params=effective),
        "numbers": report.numbers,
        "notes": report.notes,
    }
    return report, _bundle(out, summary, report.figures, json_name="report.json")


def reproduce_from_specs(name: str, data_spec: str | None = None, *, quick: bool = False, seed: int = 0,
                         device: str = "auto", progress=None, out=None) -> tuple[object, dict]:
    """Reproduction `name` on `data_spec` (digits when None); returns (Reproduction.Result, summary).

    With `out` (a folder), result.json, report.md and one PNG per figure are written there (the
    summary then lists them under `figures`); otherwise the figures are closed.
    """
    from advkit.models.inference import resolve_device
    from advkit.plugins.registry import registry
    from advkit.reporting.provenance import envelope
    from advkit.research.reproduction import markdown, run_reproduction

    if out is not None:
        _check_out(out, REPRODUCE_FILES)
    entry = registry().lookup("reproductions", name)
    reproduction = entry.cls()
    reproduction.device = resolve_device(device)
    result, seconds = run_reproduction(reproduction, data_spec, quick, seed, progress)
    summary = {
        "reproduction": entry.qualified_name, "paper": result.paper, "quick": quick,
        "data": {"spec": data_spec or "digits", **result.data},
        **envelope(plugins=[entry.plugin], seed=seed, device=reproduction.device),
        "seconds": round(seconds, 1), "reproduced": result.reproduced, "rows": result.rows, "checks": result.checks,
        "tables": result.tables, "notes": result.notes,
    }
    return result, _bundle(out, summary, result.figures, markdown=markdown)


def _check_out(out, names) -> None:
    from advkit.reporting.files import check_output_dir

    check_output_dir(out, names)


def _bundle(out, summary: dict, figures: dict, *, json_name: str = "result.json", markdown=None) -> dict:
    """The summary as JSON values; with `out`, written with its figures (listed under `figures`), else the
    figures closed."""
    from advkit.reporting.figures import close_figures, write_bundle
    from advkit.reporting.files import to_jsonable

    summary = to_jsonable(summary)
    if out is None:
        close_figures(figures)
    else:
        summary["figures"] = write_bundle(out, summary, figures, json_name=json_name, markdown=markdown)
    return summary


def resume_path(out: Path) -> Path:
    """Where `train_from_specs` writing `out` keeps its per-epoch training state."""
    out = Path(out)
    return out.with_name(out.name + ".resume.pt")


def train_from_specs(model_spec: str, data_spec: str | None = None, *, out, config=None, split: str = "train",
                     n: int | None = None, device: str = "auto", mean=None, std=None, resume: bool = False,
                     progress=None) -> tuple[object, dict]:
    """Train `model_spec` (a zoo architecture, `file.py:func`, or a checkpoint to train further) on the
    `split` of the data with the one training loop, save it as an advkit checkpoint at `out` (a
    `file.py:func` network with the file's path and sha256, so it loads back) and return (model, summary).
    Without `resume`, an interrupted run's state beside `out` is refused rather than overwritten.

    The config's seed shuffles and cuts the data (`n`), initialises the weights and drives training.
    After every epoch the training state goes to `resume_path(out)`; `resume=True` continues from it
    and ends with the weights of an uninterrupted run. The test split's accuracy is reported when
    the data source has one. The checkpoint records the data, config and provenance under `trained`.
    """
    import time

    from advkit.data.dataset import load_data
    from advkit.models import checkpoints
    from advkit.models.inference import resolve_device
    from advkit.models.load import load_model
    from advkit.reporting.files import check_output_file
    from advkit.reporting.provenance import envelope
    from advkit.seeding import seed_everything
    from advkit.training.loop import TrainConfig, evaluate_accuracy, train, training_ranks
    from advkit.workflows.inputs import check_fit

    config = config or TrainConfig()
    config.check()
    if config.epochs < 1:
        raise UsageError(f"--epochs must be >= 1 to train, got {config.epochs}")
    out, seed = Path(out), config.seed
    check_output_file(out)  # a device, FIFO, socket or directory is refused before training
    check_output_file(resume_path(out))
    data_spec = data_spec or "digits"
    data = load_data(data_spec, split=split, n=n, seed=seed)
    seed_everything(seed)
    model = load_model(model_spec, input_shape=data.input_shape, num_classes=data.num_classes,
                       mean=mean, std=std, class_names=data.class_names, device=resolve_device(device))
    check_fit(model, data, data_spec)
    _check_fresh_start(out, resume, model_spec)
    started = time.perf_counter()
    history = train(model, data.x, data.y, config, checkpoint=resume_path(out), resume=resume, progress=progress)
    seconds = time.perf_counter() - started
    train_acc = evaluate_accuracy(model, data.x, data.y)
    test_acc = None
    if split == "train":
        test = load_data(data_spec, split="test", seed=seed)
        if test.meta.get("split") == "test":
            test_acc = evaluate_accuracy(model, test.x, test.y)
    provenance = envelope(plugins=[], seed=seed, device=model.device)
    model.spec["trained"] = {"data": data_spec, "split": split, "n": len(data), "config": vars(config),
                             **provenance}
    if distributed.is_main():  # under torchrun rank 0 writes; every rank holds the same weights
        checkpoints.save(model, out)
        resume_path(out).unlink(missing_ok=True)
    summary = {"model": model_spec, "out": str(out), "data": data.describe(), "config": vars(config),
               "train_accuracy": train_acc, "test_accuracy": test_acc, "history": history,
               "seconds": round(seconds, 3), **provenance, **training_ranks(config)}
    return model, summary


def _check_fresh_start(out: Path, resume: bool, model_spec: str) -> None:
    """Without --resume: refuse to overwrite an interrupted run's state, and say when a finished
    checkpoint at `out` is about to be replaced by a fresh run."""
    import sys

    state = resume_path(out)
    if not resume and state.is_file():
        raise UsageError(f"{state} holds an interrupted run of {out}: add --resume to continue it, "
                         "or delete that file to start over")
    if not resume and out.exists() and not (Path(model_spec).exists() and Path(model_spec).resolve() == out.resolve()):
        print(f"advkit: warning: {out} exists and will be replaced by a model trained from scratch "
              f"(to train it further, pass --model {out})", file=sys.stderr)


def defend_from_specs(name: str, model_spec: str, data_spec: str | None, *, split: str = "train",
                      n: int | None = None, eval_n: int = 500, device: str = "auto", bounds=None, mean=None,
                      std=None, config=None, **options) -> tuple[object, dict]:
    """`defend` from CLI-style specs: the model on the `split` of the data, evaluated on its test split.

    The test split is shuffled with the config's seed and cut to its first `eval_n` samples; the
    seed is set before the model is built (a zoo model's initial weights). `options` go to `defend`.
    """
    import torch

    from advkit.attacks import runner
    from advkit.data.dataset import load_data, validate
    from advkit.seeding import seed_everything
    from advkit.training.loop import TrainConfig
    from advkit.workflows.inputs import load_inputs

    if eval_n < 1:
        raise UsageError(f"--eval-n must be at least 1, got {eval_n}")
    # a defense's seed reaches instantiate's `seed` (given to defenses that take one): not a collision
    for key, func, what in (("params", {"name", "kind"}, "defense"), ("eval_params", runner.attack, "attack")):
        if options.get(key) is not None:
            options[key] = own_arguments(options[key], func, what)
    config = config or TrainConfig()
    config.check()
    seed_everything(config.seed)
    inputs = load_inputs(model_spec, data_spec, split=split, n=n, seed=config.seed, device=device, bounds=bounds,
                         mean=mean, std=std, warn_untrained=False)
    test = load_data(inputs.data.meta["spec"], split="test", seed=config.seed, bounds=None)
    if eval_n < len(test):
        test = test.subset(torch.randperm(len(test), generator=torch.Generator().manual_seed(config.seed))[:eval_n])
    validate(test, bounds=inputs.model.bounds, num_classes=inputs.model.num_classes)
    return defend(name, inputs.model, inputs.data, test, config=config, **options)
