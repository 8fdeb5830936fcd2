"""`advkit defend`: apply a defense plugin, measure before and after, save the defended model."""

from __future__ import annotations

import click

from advkit.cli.options import (
    data_options,
    device_option,
    info,
    json_option,
    model_label,
    model_options,
    params_option,
    parse_params,
    progress_option,
    progress_setting,
    show,
)


@click.command("defend")
@click.option("--plugin", "defense_name", required=True, metavar="NAME",
              help="Defense: distillation, sat, adversarial-training, pgd-training (see `advkit list defenses`).")
@model_options
@data_options("train")
@click.option("--epochs", type=int, default=10, show_default=True, help="Epochs of each training stage.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@params_option
@click.option("--eval-attack", default="apgd", show_default=True, metavar="NAME",
              help="Attack measuring robust accuracy before and after (default: APGD-CE with AutoAttack's "
                   "100 steps; `advkit evaluate` gives the AutoAttack-strength number).")
@click.option("--eval-eps", default=None, metavar="F",
              help="Its eps (fractions like 8/255 work); default: the defense's eps, else the attack's default.")
@click.option("--eval-param", "raw_eval_params", multiple=True, metavar="KEY=VALUE",
              help="Other parameter of the eval attack (repeatable), e.g. steps=20 or loss=dlr.")
@click.option("--eval-n", type=int, default=500, show_default=True, help="Test samples for the evaluation.")
@device_option
@progress_option
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Defended model checkpoint (.safetensors or .pt); the summary goes beside it as .json.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last epoch checkpoint.")
@json_option
def defend_command(defense_name, model_spec, bounds, mean, std, data_spec, split, n, seed, epochs, lr, weight_decay,
                   batch_size, optimizer, raw_params, eval_attack, eval_eps, raw_eval_params, eval_n, device, out,
                   resume, as_json):
    """Defend a model and report clean and robust accuracy before and after.

    --model is a zoo architecture the defense trains (cnn, mlp:hidden=100-100) or a trained
    checkpoint (e.g. a distillation teacher). Training state goes to OUT.<stage>.resume.pt after
    every epoch; --resume continues and ends with the weights of an uninterrupted run.
    Evaluation uses the test split of --data (its first --eval-n samples after a seeded shuffle).
    """
    from pathlib import Path

    from advkit.training.loop import TrainConfig
    from advkit.workflows.from_specs import defend_from_specs

    config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed,
                         optimizer=optimizer)
    eval_params = parse_params(raw_eval_params)
    if eval_eps is not None:
        eval_params["eps"] = eval_eps
    _, summary = defend_from_specs(defense_name, model_spec, data_spec, split=split, n=n, eval_n=eval_n,
                                   device=device, bounds=bounds, mean=mean, std=std, config=config,
                                   params=parse_params(raw_params), eval_attack=eval_attack,
                                   eval_params=eval_params, out=Path(out), resume=resume,
                                   progress=progress_setting())
    show(summary, as_json=as_json, render=lambda s: render(s, model_spec or "default"))
    for warning in summary["warnings"]:
        info(f"warning: {warning}")
    info(f"saved {out} and {Path(out).with_suffix('.json')}")


def render(s: dict, model_spec: str) -> str:
    from advkit.reporting.text import pairs, table

    before, after = s["before"], s["after"]
    params, evaluation = pairs(s["params"]), pairs(s["eval"]["params"], s["eval"].get("derived"))
    rows = [("defense", f"{s['defense']} ({params})"), ("model", model_label(model_spec, s.get("model_source"))),
            ("data", f"{s['data']['train']['name']}: train n={s['data']['train']['n']}, test n={s['eval']['n']}"),
            ("eval attack", f"{s['eval']['attack']} ({evaluation})"), ("", "before -> after")]
    for key, label, fmt in (("clean_accuracy", "clean accuracy", "{:.2%}"),
                            ("robust_accuracy", "robust accuracy", "{:.2%}"),
                            ("logit_l1_mean", "mean |logits|_1", "{:.3g}"),
                            ("zero_gradient_share", "zero input gradient", "{:.2%}")):
        rows.append((label, f"{fmt.format(before[key])} -> {fmt.format(after[key])}"))
    rows.append(("seconds", f"{s['seconds']:.1f} ({s['device']})"))
    return table(rows)
