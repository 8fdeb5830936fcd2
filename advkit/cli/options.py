"""Options shared by several commands, and small output helpers."""

from __future__ import annotations

import contextlib
import functools
import json
import sys

import click


SEED = click.IntRange(0, 2**32 - 1)  # --seed: every generator takes it (training derives per-epoch seeds from it)


def float_list(count: int | None = None):
    """A click callback parsing comma-separated numbers (fractions like 8/255 allowed)."""
    def convert(ctx, param, value):
        if value is None:
            return None
        try:
            from advkit.plugins.schema import parse_number

            values = [parse_number(v) for v in value.replace(" ", "").split(",")]
        except (ValueError, ZeroDivisionError):
            raise click.BadParameter(f"expects comma-separated numbers, got {value!r}") from None
        if count is not None and len(values) != count:
            raise click.BadParameter(f"expects {count} comma-separated numbers, got {value!r}")
        return values
    return convert


def _model_dir(ctx, param, value):
    """--model-dir reaches the zoo plugins as ADVKIT_MODEL_DIR (their `model_dir=` parameter wins)."""
    if value is not None:
        import os

        os.environ["ADVKIT_MODEL_DIR"] = value
    return value


def model_options(f, multiple: bool = False):
    """--model, --bounds, --mean, --std; with `multiple`, --model repeats and arrives as `model_specs`."""
    @click.option("--model", "model_specs" if multiple else "model_spec", metavar="SPEC", multiple=multiple,
                  default=None, help="Zoo name (cnn, mlp:hidden=100-100, torchvision:resnet18, timm:resnet18.a1_in1k, "
                       "robustbench:NAME, ...), checkpoint (.safetensors/.pt), TorchScript file, or file.py:func / "
                       "package.module:func. Default: the cached digits CNN.")
    @click.option("--model-dir", metavar="DIR", default=None, expose_value=False, callback=_model_dir,
                  help="Where robustbench:NAME checkpoints lie (DIR/DATASET/THREAT/NAME.pt; default ./models).")
    @click.option("--bounds", metavar="LO,HI", callback=float_list(2), default=None,
                  help="Input bounds of the model (default 0,1).")
    @click.option("--mean", metavar="M[,M..]", callback=float_list(), default=None,
                  help="Per-channel normalization mean, folded into the model.")
    @click.option("--std", metavar="S[,S..]", callback=float_list(), default=None,
                  help="Per-channel normalization std, folded into the model.")
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    return wrapper


def data_options(default_split: str = "test"):
    """--data, --split, --n, --seed, --resize, --crop (these two reach every `load_data` of the command)."""
    def decorate(f):
        @click.option("--data", "data_spec", metavar="SPEC", default=None,
                      help="digits (default, no download), mnist:DIR, cifar10:DIR, cifar100:DIR, imagenet:DIR, "
                           "FILE.npz or an image folder (see `advkit list datasets`).")
        @click.option("--resize", metavar="N|HxW", default=None,
                      help="Image sources: scale the shorter side to N pixels (or to exactly HxW).")
        @click.option("--crop", metavar="N|HxW", default=None,
                      help="Image sources: centre crop to N x N (or HxW) pixels, after --resize.")
        @click.option("--split", type=click.Choice(["train", "test", "all"]), default=default_split,
                      show_default=True, help="Split of the data source, where it has one.")
        @click.option("--n", "-n", "n", type=int, default=None,
                      help="Use the first N samples after a seeded shuffle (under torchrun write -n: "
                           "torchrun takes --n for one of its own options).")
        @click.option("--seed", type=SEED, default=0, show_default=True, help="Seed for every random generator.")
        @functools.wraps(f)
        def wrapper(*args, resize=None, crop=None, **kwargs):
            from advkit.data.dataset import image_size

            with image_size(resize, crop):
                return f(*args, **kwargs)
        return wrapper
    return decorate


def workers_option(f):
    """--workers N: background processes reading the data batches (`advkit.data.stream.batches`)."""
    return click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, metavar="N",
                        help="Processes reading data batches in the background (0: read in this process).")(f)


def device_option(f):
    return click.option("--device", default="auto", show_default=True,
                        help="auto, cpu, cuda or cuda:N.")(f)


def params_option(f):
    return click.option("-p", "--param", "raw_params", multiple=True, metavar="KEY=VALUE",
                        help="Plugin parameter (repeatable); see `advkit list`.")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def parse_params(raw: tuple[str, ...]) -> dict[str, str]:
    from advkit.plugins.schema import parse_key_values

    return parse_key_values(raw, what="-p parameters")


_real_stdout: list = []  # sys.stdout as it was before `stdout_to_stderr`, innermost last


@contextlib.contextmanager
def stdout_to_stderr():
    """While a command works, `sys.stdout` is stderr: what libraries and plugins print cannot corrupt
    the `--json` object; the command's own output goes through `out` to the real stdout. (Writes to
    file descriptor 1 from C code or child processes are not redirected.)"""
    real = sys.stdout
    _real_stdout.append(real)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = real
        _real_stdout.pop()


def out(text: str) -> None:
    """A line of the command's own output (its result), on the real stdout (under torchrun: rank 0's only)."""
    from advkit.distributed import is_main

    if not is_main():
        return
    if _real_stdout:
        sys.stderr.flush()
        click.echo(text, file=_real_stdout[-1])
    else:
        click.echo(text)


def emit_json(obj) -> None:
    from advkit.reporting.files import to_jsonable

    out(json.dumps(to_jsonable(obj), indent=2))


def show(summary, *, as_json: bool, render) -> None:
    """Print the summary as one JSON object (`--json`) or as `render(summary)` text."""
    if as_json:
        emit_json(summary)
    else:
        out(render(summary))


def wrote(out_dir, names) -> None:
    """Say on stderr which files a job wrote into `out_dir`."""
    info(f"wrote {out_dir}: {', '.join(names)}")


def info(message: str) -> None:
    """A status line on stderr (stdout stays clean for --json); under torchrun rank 0's only."""
    from advkit.distributed import is_main

    if is_main():
        click.echo(message, err=True)


PROGRESS_MODES = ("auto", "bar", "plain", "none")  # advkit.reporting.progress.MODES (not imported: no torch, fast)


def progress_option(f):
    """--progress auto|bar|plain|none, read by `progress_setting()` (stderr only: --json is unaffected)."""
    def remember(ctx, param, value):
        ctx.meta["advkit.progress"] = value
        return value

    return click.option("--progress", type=click.Choice(PROGRESS_MODES), default="auto", show_default=True,
                        expose_value=False, callback=remember,
                        help="Progress on stderr, in samples: auto is a bar on a terminal and plain lines "
                             "every few seconds elsewhere (CI logs, notebooks, nohup).")(f)


def progress_setting() -> str:
    """The --progress mode of the running command (auto when it has no such option)."""
    from advkit.distributed import is_main

    ctx = click.get_current_context(silent=True)
    if not is_main():
        return "none"  # under torchrun only rank 0 shows progress
    return ctx.meta.get("advkit.progress", "auto") if ctx is not None else "auto"


def model_label(spec, source: dict | None) -> str:
    """`--model` as given, with the qualified name and plugin of the code that built it (`model_source`)."""
    source = source or {}
    name, plugin = source.get("name"), source.get("plugin")
    if not name or name == spec:
        return f"{spec} (plugin {plugin})" if plugin else str(spec)
    return f"{spec} ({name}, plugin {plugin})" if plugin else f"{spec} ({name})"
