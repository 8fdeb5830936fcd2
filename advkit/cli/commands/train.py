"""`advkit train`: the one training loop, with a checkpoint per epoch and --resume."""

from __future__ import annotations

from pathlib import Path

import click

from advkit.cli.options import (
    data_options,
    device_option,
    emit_json,
    float_list,
    info,
    json_option,
    progress_enabled,
    table,
)


def resume_path(out: Path) -> Path:
    """Where a run writing `out` keeps its per-epoch training state."""
    return out.with_name(out.name + ".resume.pt")


@click.command("train")
@click.option("--model", "model_spec", required=True, metavar="ARCH",
              help="Zoo architecture with optional parameters: linear, mlp:hidden=100-100, lenet, cnn:activation=silu.")
@data_options("train")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--mean", callback=float_list(), default=None, help="Per-channel normalization mean folded into the model (comma-separated).")
@click.option("--std", callback=float_list(), default=None, help="Per-channel normalization std folded into the model (comma-separated).")
@device_option
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Checkpoint to write (.safetensors or .pt).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last epoch checkpoint.")
@json_option
def train_command(model_spec, data_spec, split, n, seed, epochs, lr, weight_decay, batch_size, optimizer,
                  mean, std, device, out, resume, as_json):
    """Train a zoo model and save it as an advkit checkpoint.

    After every epoch the full training state goes to OUT.resume.pt; --resume continues from
    it and ends with the same weights as an uninterrupted run. The test split's accuracy is
    reported when the data source has one.
    """
    import time

    from advkit.data.dataset import load_data
    from advkit.errors import UsageError
    from advkit.models import checkpoints
    from advkit.models.inference import resolve_device
    from advkit.models.load import load_model
    from advkit.reporting.provenance import versions
    from advkit.seeding import seed_everything
    from advkit.training.loop import TrainConfig, evaluate_accuracy, train

    config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed,
                         optimizer=optimizer)
    config.check()
    if epochs < 1:
        raise UsageError(f"--epochs must be >= 1 to train, got {epochs}")
    out = Path(out)
    data_spec = data_spec or "digits"
    data = load_data(data_spec, split=split, n=n, seed=seed)
    seed_everything(seed)
    model = load_model(model_spec, input_shape=data.input_shape, num_classes=data.num_classes,
                       mean=mean, std=std, class_names=data.class_names,
                       device=resolve_device(device))
    started = time.perf_counter()
    history = train(model, data.x, data.y, config, checkpoint=resume_path(out), resume=resume,
                    progress=progress_enabled())
    seconds = time.perf_counter() - started
    train_acc = evaluate_accuracy(model, data.x, data.y)
    test_acc = None
    if split == "train":
        test = load_data(data_spec, split="test", seed=seed)
        if test.meta.get("split") == "test":
            test_acc = evaluate_accuracy(model, test.x, test.y)
    model.spec["trained"] = {"data": data_spec, "split": split, "n": len(data), "config": vars(config),
                             "seed": seed, "device": str(model.device), "versions": versions([])}
    checkpoints.save(model, out)
    resume_path(out).unlink(missing_ok=True)
    summary = {"model": model_spec, "out": str(out), "data": data.describe(), "config": vars(config),
               "train_accuracy": train_acc, "test_accuracy": test_acc, "history": history,
               "seconds": round(seconds, 3), "device": str(model.device), "seed": seed, "versions": versions([])}
    if as_json:
        emit_json(summary)
    else:
        rows = [("model", model_spec), ("data", f"{data_spec} {split}, n={len(data)}"),
                ("epochs", str(epochs)), ("final loss", f"{history[-1]['loss']:.4f}" if history else "-"),
                ("train accuracy", f"{train_acc:.2%}"),
                ("test accuracy", f"{test_acc:.2%}" if test_acc is not None else "-"),
                ("seconds", f"{seconds:.1f}"), ("saved", str(out))]
        click.echo(table(rows))
    info(f"saved {out}")
