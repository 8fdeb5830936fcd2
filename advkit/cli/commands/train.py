"""`advkit train`: the one training loop, with a checkpoint per epoch and --resume."""

from __future__ import annotations

import click

from advkit.cli.options import (
    data_options,
    device_option,
    float_list,
    info,
    json_option,
    progress_option,
    progress_setting,
    show,
)


@click.command("train")
@click.option("--model", "model_spec", required=True, metavar="SPEC",
              help="Zoo architecture with optional parameters (linear, mlp:hidden=100-100, lenet, "
                   "cnn:activation=silu), your own network (mymodels.py:func) or a checkpoint to train further.")
@data_options("train")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--mean", callback=float_list(), default=None, help="Per-channel normalization mean folded into the model (comma-separated).")
@click.option("--std", callback=float_list(), default=None, help="Per-channel normalization std folded into the model (comma-separated).")
@device_option
@progress_option
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Checkpoint to write (.safetensors or .pt).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last epoch checkpoint.")
@json_option
def train_command(model_spec, data_spec, split, n, seed, epochs, lr, weight_decay, batch_size, optimizer,
                  mean, std, device, out, resume, as_json):
    """Train a zoo model or your own (file.py:func) and save it as an advkit checkpoint.

    A file.py:func network is saved with its plain state-dict keys and the file's path and sha256:
    `--model OUT` loads it back while the file is unchanged (beside OUT or where it was).

    After every epoch the full training state goes to OUT.resume.pt; --resume continues from
    it and ends with the same weights as an uninterrupted run. The test split's accuracy is
    reported when the data source has one.
    """
    from advkit.training.loop import TrainConfig
    from advkit.workflows.from_specs import train_from_specs

    config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed,
                         optimizer=optimizer)
    _, summary = train_from_specs(model_spec, data_spec, out=out, config=config, split=split, n=n, device=device,
                                  mean=mean, std=std, resume=resume, progress=progress_setting())
    show(summary, as_json=as_json, render=render)
    info(f"saved {out}")


def render(s: dict) -> str:
    from advkit.reporting.text import table

    data, history = s["data"], s["history"]
    rows = [("model", s["model"]),
            ("data", f"{data.get('spec', data['name'])} {data.get('split', '')}, n={data['n']}"),
            ("epochs", str(s["config"]["epochs"])), ("final loss", f"{history[-1]['loss']:.4f}" if history else "-"),
            ("train accuracy", f"{s['train_accuracy']:.2%}"),
            ("test accuracy", f"{s['test_accuracy']:.2%}" if s["test_accuracy"] is not None else "-"),
            ("seconds", f"{s['seconds']:.1f}"), ("saved", s["out"])]
    return table(rows)
