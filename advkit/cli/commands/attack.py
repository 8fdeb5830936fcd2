"""`advkit attack`: run one attack plugin and report clean vs robust accuracy."""

from __future__ import annotations

import click

from advkit.cli.options import (
    data_options,
    device_option,
    json_option,
    model_label,
    model_options,
    params_option,
    parse_params,
    progress_option,
    progress_setting,
    show,
    workers_option,
    wrote,
)
from advkit.errors import UsageError


@click.command("attack")
@click.option("--plugin", "attack_name", required=True, metavar="NAME",
              help="Attack name: pgd, fgsm, torchattacks.pgd, art.pgd, ... (see `advkit list attacks`).")
@model_options
@data_options("test")
@click.option("--eps", default=None, metavar="F", help="Perturbation budget (fractions like 8/255 work).")
@click.option("--steps", type=int, default=None, help="Number of iterations, for iterative attacks.")
@params_option
@click.option("--targeted", "target_mode", is_flag=False, flag_value="random", default=None,
              metavar="[MODE]", help="Targeted attack: random (default), least-likely, next, or a class number.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@workers_option
@device_option
@progress_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write result.json, adversarial.npz and examples.png here.")
@json_option
def attack_command(attack_name, model_spec, bounds, mean, std, data_spec, split, n, seed, eps, steps,
                   raw_params, target_mode, batch_size, workers, device, out_dir, as_json):
    """Attack a model and print clean accuracy, robust accuracy and perturbation sizes.

    With no --model/--data it runs on the embedded default: digits and a small CNN
    trained and cached on first use.
    """
    from advkit.data.stream import fix_mmap_threshold
    from advkit.workflows.from_specs import ATTACK_FILES, attack_from_specs

    fix_mmap_threshold()  # a flat peak RSS however many batches stream

    params = parse_params(raw_params)
    for key, value in (("eps", eps), ("steps", steps)):
        if value is not None:
            if key in params:
                raise UsageError(f"{key} given twice: as --{key} and as -p {key}; give one")
            params[key] = str(value)
    _, summary = attack_from_specs(attack_name, model_spec, data_spec, split=split, n=n, seed=seed, device=device,
                                   bounds=bounds, mean=mean, std=std, targets=target_mode, batch_size=batch_size,
                                   workers=workers, params=params, progress=progress_setting(), out=out_dir)
    if out_dir:
        wrote(out_dir, ATTACK_FILES)
    show(summary, as_json=as_json, render=render)


def render(s: dict) -> str:
    from advkit.reporting.text import pairs, table

    p = s["perturbation"]
    params = pairs(s["params"], s.get("derived"))
    rows = [
        ("attack", f"{s['attack']} ({params})" if params else s["attack"]),
        ("model", model_label(s["model"], s.get("model_source"))),
        ("data", f"{s['data']['name']} {s['data'].get('split', '')}, n={s['n']}"),
        ("clean accuracy", f"{s['clean_accuracy']:.2%}"),
        ("robust accuracy", f"{s['robust_accuracy']:.2%}"),
        ("success rate", f"{s['success_rate']:.2%} of correctly classified"
                         + (" (to target)" if s["targeted"] else "")),
        ("Linf mean / max", f"{p['linf_mean']:.4f} / {p['linf_max']:.4f} (over {p['over']})"),
        ("L2 mean / max", f"{p['l2_mean']:.4f} / {p['l2_max']:.4f}"),
        ("seconds", f"{s['seconds']:.2f} ({s['samples_per_second']} samples/s, {s['device']})"),
    ]
    return table(rows)
