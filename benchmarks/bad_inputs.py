"""A measured tally of bad inputs: each row is one command line (or Python API call) that must fail cleanly.

    python benchmarks/bad_inputs.py [--out tally.json] [--workers 2] [--timeout 60] [--category NAME] [--cache DIR]

Every row runs as `python -m advkit ...` in a subprocess (OMP_NUM_THREADS=1, ADVKIT_CACHE_DIR in a temporary
folder where the default model is trained once) and gets one outcome:

CLEAN       non-zero exit, exactly one `error:` line on stderr (other lines only `advkit:` notes), no
            traceback, nothing watched changed, no stray *.tmp file, stdout empty or JSON under --json;
            rows that must survive (a broken plugin) instead need exit 0 and their stdout checks
TRACEBACK   "Traceback" on stderr
WRONG_EXIT  exit 0 on bad input (or a non-zero exit where the command must survive a broken plugin)
HANG        ran past --timeout
CLOBBERED   a watched file, device, FIFO or folder changed (or a pickle's payload ran)
MESSY       none of the above, but not one clear line: several lines, stray *.tmp files, stdout not JSON,
            or a surviving command whose output shows the plugin won

"Unprivileged" rows run as uid 0 without capabilities (setpriv): the interpreter lives under /root (0700)
here, so a real unprivileged user cannot start it, but file permissions then apply as to any owner.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

OUTCOMES = ("CLEAN", "TRACEBACK", "WRONG_EXIT", "HANG", "CLOBBERED", "MESSY")
UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--bounding-set=-all",
                "--securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked"]


@dataclass(frozen=True)
class Row:
    """One bad input. In `args`, `{W}` is the fixture folder and `{R}` this row's own working folder."""

    category: str
    args: tuple[str, ...] = ()
    api: str = ""  # a Python statement run instead of the CLI (advkit imported)
    survive: bool = False  # a broken plugin: the command must still work (exit 0)
    stdout_has: tuple[str, ...] = ()
    stdout_lacks: tuple[str, ...] = ()
    prepare: tuple[tuple[str, str], ...] = ()  # (kind, path in {R}): fifo, dir, rodir, file, rofile, symnull
    watch: tuple[str, ...] = ()  # paths that must not change ({W}/{R} allowed)
    site: str = ""  # plugin site folder under {W}/sites, put on PYTHONPATH
    env: tuple[tuple[str, str], ...] = ()
    unprivileged: bool = False

    @property
    def label(self) -> str:
        return f"python: {self.api}" if self.api else "advkit " + " ".join(self.args)


# -- fixtures ------------------------------------------------------------------------------------------------


def _save_npz(path: Path, **arrays) -> None:
    import numpy as np

    np.savez(path, **arrays)


def _npz_fixtures(w: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((10, 8, 8)).astype(np.float32)
    y = np.arange(10) % 10
    nan = x.copy()
    nan[3, 2, 2] = np.nan
    inf = x.copy()
    inf[0, 0, 0] = np.inf
    cases = {
        "nan": {"x": nan, "y": y}, "inf": {"x": inf, "y": y}, "range3": {"x": x * 3, "y": y},
        "negative": {"x": x - 1, "y": y}, "labels-high": {"x": x, "y": y + 5},
        "labels-negative": {"x": x, "y": y - 3}, "labels-float": {"x": x, "y": y + 0.5},
        "labels-2d": {"x": x, "y": np.stack([y, y], 1)}, "nhwc": {"x": x[..., None], "y": y},
        "rgb": {"x": np.repeat(x[:, None], 3, 1), "y": y}, "big-images": {"x": rng.random((10, 12, 12)), "y": y},
        "empty": {"x": np.zeros((0, 8, 8), np.float32), "y": np.zeros(0, np.int64)},
        "lengths": {"x": x, "y": y[:9]}, "only-x": {"x": x}, "only-y": {"y": y},
        "wrong-keys": {"images": x, "labels": y}, "1d": {"x": x.reshape(-1), "y": y},
        "5d": {"x": x[:, None, None], "y": y}, "strings": {"x": np.array(["a"] * 10), "y": y},
        "complex": {"x": x.astype(np.complex64), "y": y}, "bool": {"x": x > 0.5, "y": y},
        "uint8-labels-text": {"x": (x * 255).astype(np.uint8), "y": np.array(list("abcdefghij"))},
        "scalar": {"x": np.float32(1), "y": np.int64(1)}, "huge-labels": {"x": x, "y": y + 10**12},
    }
    for name, arrays in cases.items():
        _save_npz(w / f"{name}.npz", **arrays)
    np.savez(w / "objects.npz", x=np.array([object()] * 10, dtype=object), y=y)
    (w / "zero.npz").write_bytes(b"")
    whole = (w / "nan.npz").read_bytes()
    (w / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    (w / "text.npz").write_text("x,y\n1,2\n")
    np.save(w / "plain.npy", x)
    shutil.copy(w / "plain.npy", w / "npy-renamed.npz")
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (78383153152,), }"
    header += " " * (117 - len(header)) + "\n"
    with zipfile.ZipFile(w / "huge-header.npz", "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64)
        archive.writestr("y.npy", (w / "plain.npy").read_bytes()[:200])


def _image_fixtures(w: Path) -> None:
    import zlib

    import numpy as np
    from PIL import Image

    def png(path: Path, size=(8, 8)) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros(size[::-1], np.uint8)).save(path)
        return path

    (w / "pics-empty").mkdir()
    (w / "pics-noimages" / "a").mkdir(parents=True)
    (w / "pics-noimages" / "a" / "readme.txt").write_text("no images")
    for i in range(3):
        png(w / "pics-odd" / "a" / f"{i}.png")
        png(w / "pics-odd" / "b" / f"{i}.png")
        png(w / "pics-fake" / "a" / f"{i}.png")
    png(w / "pics-odd" / "b" / "odd.png", (9, 8))
    (w / "pics-fake" / "a" / "fake.png").write_text("not a png")
    png(w / "pics-bomb" / "a" / "ok.png")
    bomb = png(w / "pics-bomb" / "b" / "bomb.png")
    data = bytearray(bomb.read_bytes())
    data[16:24] = struct.pack(">II", 100_000, 100_000)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    bomb.write_bytes(bytes(data))
    (w / "mnist-empty").mkdir()
    (w / "mnist-garbage").mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (w / "mnist-garbage" / name).write_bytes(b"\x00\x00\x08\x03" + b"\xff" * 40)


class _Payload:
    """Pickles to a call of os.system that would create a marker file."""

    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {_Payload.marker}",))


def _checkpoint_fixtures(w: Path) -> None:
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    import advkit

    advkit.save_model(advkit.default_model(), w / "cnn.safetensors")
    advkit.save_model(advkit.load_model("linear", input_shape=(1, 8, 8), num_classes=10), w / "linear.safetensors")
    advkit.save_model(advkit.load_model("linear", input_shape=(3, 8, 8), num_classes=10), w / "rgb.safetensors")
    with safe_open(str(w / "linear.safetensors"), framework="pt") as f:
        meta = json.loads(f.metadata()["advkit"])
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)

    def variant(name, metadata=None, tensors=None, **changes):
        save_file(tensors if tensors is not None else state, str(w / f"{name}.safetensors"),
                  metadata=metadata if metadata is not None else {"advkit": json.dumps({**meta, **changes})})

    variant("classes-1e7", num_classes=10_000_000)
    variant("classes-1e8", num_classes=100_000_000)
    variant("classes-900k", num_classes=900_000)
    variant("classes-text", num_classes="10")
    variant("classes-zero", num_classes=0)
    variant("classes-bool", num_classes=True)
    variant("shape-zero", input_shape=[1, 0, 8])
    variant("shape-huge", input_shape=[3, 60000, 60000])
    variant("shape-text", input_shape="1x8x8")
    variant("bounds-reversed", bounds=[1.0, 0.0])
    variant("bounds-inf", bounds=[0.0, float("inf")])
    variant("std-zero", std=[0.0])
    variant("mean-count", mean=[0.1, 0.2])
    variant("class-names", class_names=["a", "b"])
    variant("arch-unknown", spec={"architecture": "transformer-xxl"})
    variant("arch-number", spec={"architecture": 5})
    variant("hidden-huge", spec={"architecture": "mlp", "params": {"hidden": "100000000-2"}})
    variant("meta-not-json", metadata={"advkit": "{not json"})
    variant("meta-none", metadata={})
    variant("meta-list", metadata={"advkit": "[1, 2]"})
    key = next(iter(state))
    variant("nan-weights", tensors={**state, key: torch.full_like(state[key], float("nan"))})
    variant("wrong-shape", tensors={**state, key: torch.zeros(3, 3)})
    variant("missing-key", tensors={k: v for k, v in state.items() if k != key})
    variant("extra-key", tensors={**state, "surprise": torch.zeros(2)})
    variant("int-weights", tensors={k: v.to(torch.int32) for k, v in state.items()})
    whole = (w / "linear.safetensors").read_bytes()
    (w / "truncated.safetensors").write_bytes(whole[: len(whole) // 2])
    (w / "header-only.safetensors").write_bytes(whole[:8])
    (w / "zero.safetensors").write_bytes(b"")
    (w / "garbage.safetensors").write_bytes(b"\x00garbage" * 100)
    (w / "lying-header.safetensors").write_bytes(struct.pack("<Q", 10**15) + b"{}")
    _Payload.marker = str(w / "PWNED")
    with open(w / "evil.pt", "wb") as f:
        pickle.dump({"advkit": {}, "state_dict": _Payload()}, f)
    torch.save({"advkit": {}, "state_dict": {"w": _Payload()}}, w / "evil-zip.pt")
    torch.save([1, 2, 3], w / "list.pt")
    torch.save("a string", w / "string.pt")
    torch.save({"w": torch.zeros(2)}, w / "bare-state.pt")
    torch.save(torch.zeros(3), w / "tensor.pt")
    torch.save(torch.nn.Linear(64, 10), w / "module.pt")
    (w / "garbage.pt").write_bytes(b"\x00garbage" * 100)
    (w / "model-dir.safetensors").mkdir()
    (w / "model-dir").mkdir()
    (w / "garbage.ts").write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    (w / "text.py").write_text("def build():\n    return 42\n")
    (w / "boom.py").write_text("def build():\n    raise RuntimeError('no weights here')\n")
    (w / "quits.py").write_text("import sys\nsys.exit(3)\ndef build():\n    pass\n")
    (w / "syntax.py").write_text("def build(:\n")
    (w / "nan_model.py").write_text(textwrap.dedent("""
        import torch
        class Nan(torch.nn.Module):
            def forward(self, x):
                return torch.full((x.shape[0], 10), float("nan"))
        def build():
            return Nan()
    """))
    (w / "wide_model.py").write_text(textwrap.dedent("""
        import torch
        def build():
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    """))

    class Picky(torch.nn.Module):
        def forward(self, x):
            if x.shape[0] > 2:
                raise RuntimeError("batches over 2 are not supported")
            return x.flatten(1)[:, :10]

    torch.jit.save(torch.jit.script(Picky()), str(w / "picky.ts"))


PLUGINS = {
    "squat": ({"torchattacks": "squat_mod"}, '''
        import advkit
        class Nothing(advkit.Attack):
            """Returns its input."""
            name = "pgd"
            norm = "Linf"
            def __init__(self, model, eps: float = 0.03):
                super().__init__(model)
                self.eps = eps
            def perturb(self, x, y):
                return x.clone()
        @advkit.hookimpl
        def register_attacks(register):
            register(Nothing)
    '''),
    "squat-advkit": ({"advkit": "squat_mod"}, None),
    "hijack": ({"hijack": "hijack_mod"}, '''
        import click
        import advkit
        @advkit.hookimpl
        def register_commands(cli):
            @cli.command("attack")
            def fake():
                """Fake."""
                click.echo("hijacked")
    '''),
    "exit-import": ({"exiter": "exit_mod"}, "import sys\nsys.exit(0)\n"),
    "ctrlc-import": ({"ctrlc": "ctrlc_mod"}, "raise KeyboardInterrupt\n"),
    "raise-import": ({"raiser": "raise_mod"}, "raise RuntimeError('plugin exploded on import')\n"),
    "syntax": ({"syntaxer": "syntax_mod"}, "def broken(:\n"),
    "missing-module": ({"ghost": "no_such_module_anywhere"}, None),
    "missing-attr": ({"ghostattr": "attr_mod:nothing_here"}, "X = 1\n"),
    "slow": ({"sleeper": "slow_mod"}, "import time\ntime.sleep(30)\n"),
    "raise-hook": ({"hookraiser": "hookraise_mod"}, '''
        import advkit
        @advkit.hookimpl
        def register_attacks(register):
            raise RuntimeError("hook exploded")
    '''),
    "exit-hook": ({"hookexit": "hookexit_mod"}, '''
        import sys
        import advkit
        @advkit.hookimpl
        def register_attacks(register):
            sys.exit(3)
    '''),
    "bad-register": ({"badreg": "badreg_mod"}, '''
        import advkit
        @advkit.hookimpl
        def register_attacks(register):
            register(42)
            register("pgd")
    '''),
    "commands-raise": ({"cmdraise": "cmdraise_mod"}, '''
        import advkit
        @advkit.hookimpl
        def register_commands(cli):
            raise ValueError("no commands today")
    '''),
    "shouty": ({"shouty": "shouty_mod"}, '''
        import advkit
        print("shouty: imported")
        class Shouty(advkit.Attack):
            """Prints while it attacks."""
            name = "shouty"
            norm = "Linf"
            def __init__(self, model, eps: float = 0.1):
                super().__init__(model)
                self.eps = eps
            def perturb(self, x, y):
                print("shouty: perturbing")
                return x
        @advkit.hookimpl
        def register_attacks(register):
            print("shouty: registering")
            register(Shouty)
    '''),
    "cheats": ({"cheats": "cheats_mod"}, '''
        import torch
        import advkit
        class Base(advkit.Attack):
            norm = "Linf"
            def __init__(self, model, eps: float = 0.1):
                super().__init__(model)
                self.eps = eps
        class WeightChanger(Base):
            """Zeroes the model's weights."""
            name = "weight-changer"
            def perturb(self, x, y):
                with torch.no_grad():
                    for p in self.model.parameters():
                        p.zero_()
                return x
        class Escaper(Base):
            """Leaves its eps ball."""
            name = "escaper"
            def perturb(self, x, y):
                return x + 0.5
        class Shaper(Base):
            """Returns the wrong shape."""
            name = "shaper"
            def perturb(self, x, y):
                return x[:1]
        class Nanner(Base):
            """Returns NaN."""
            name = "nanner"
            def perturb(self, x, y):
                return x * float("nan")
        class Raiser(Base):
            """Raises inside perturb."""
            name = "raiser"
            def perturb(self, x, y):
                raise RuntimeError("perturb exploded")
        class Quitter(Base):
            """Calls sys.exit inside perturb."""
            name = "quitter"
            def perturb(self, x, y):
                raise SystemExit(0)
        class Lister(Base):
            """Returns a list."""
            name = "lister"
            def perturb(self, x, y):
                return [1, 2, 3]
        @advkit.hookimpl
        def register_attacks(register):
            for cls in (WeightChanger, Escaper, Shaper, Nanner, Raiser, Quitter, Lister):
                register(cls)
    '''),
}


def _plugin_fixtures(w: Path) -> None:
    for name, (entry_points, source) in PLUGINS.items():
        site = w / "sites" / name
        info = site / f"hostile_{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: hostile-{name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text("[advkit]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
        module = next(iter(entry_points.values())).split(":")[0]
        if source is None and name == "squat-advkit":
            source = PLUGINS["squat"][1]
        if source is not None:
            (site / f"{module}.py").write_text(textwrap.dedent(source))


def build_fixtures(w: Path) -> None:
    """Every bad file the rows name, in folder `w` (the default model is trained into the cache if needed)."""
    w.mkdir(parents=True, exist_ok=True)
    _npz_fixtures(w)
    _image_fixtures(w)
    _checkpoint_fixtures(w)
    _plugin_fixtures(w)
    os.mkfifo(w / "fifo")
    (w / "existing.txt").write_text("precious\n")
    os.chmod(w, 0o755)


# -- rows ----------------------------------------------------------------------------------------------------

ATTACK = ("attack", "--plugin", "fgsm", "--n", "4")
EVALUATE = ("evaluate", "--attacks", "fgsm", "--eps", "0.1", "--n", "4", "--probe", "4")
TRAIN = ("train", "--model", "linear", "--epochs", "1", "--n", "16", "--out", "{R}/m.safetensors")
DEFEND = ("defend", "--plugin", "adversarial-training", "--model", "linear", "--epochs", "1", "--n", "16",
          "--eval-n", "4", "--out", "{R}/d.safetensors")
ANALYZE = ("analyze", "--plugin", "tilt", "--n", "16")


def _names() -> list[Row]:
    c = "unknown names"
    rows = [Row(c, ("attack", "--plugin", n)) for n in ("pgf", "PGD ", "", "torchattacks.nope", "nope.pgd", "art.",
                                                         ".pgd", "pgd.pgd.pgd", "../pgd", "a" * 5000)]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--model", m)) for m in ("cnnn", "mlp:", ":build",
                                                                          "torchvision:nope", "timm:", "robustbench:X")]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--data", d)) for d in ("digitz", "mnist", "mnist:", "cifar10",
                                                                         "npz:", "{W}/nowhere")]
    rows += [Row(c, ("list", k)) for k in ("attack", "atacks", "")]
    rows += [Row(c, ("list", "attacks", n)) for n in ("pgf", "torchattacks.pgf")]
    rows += [Row(c, ("list", "models", "cnnn")), Row(c, ("list", "reproductions", "szegdy"))]
    rows += [Row(c, ("reproduce", n, "--quick")) for n in ("szegdy", "", "advtrain.nope")]
    rows += [Row(c, ("defend", "--plugin", "distilation", "--model", "linear", "--out", "{R}/d.safetensors")),
             Row(c, ("analyze", "--plugin", "tlt")), Row(c, ("analyze", "--plugin", "pgd")),
             Row(c, ("defend", "--plugin", "pgd", "--model", "linear", "--out", "{R}/d.safetensors")),
             Row(c, ("attack", "--plugin", "distillation")),
             Row(c, (*EVALUATE[:1], "--attacks", "apgd-cee", "--n", "4")),
             Row(c, (*DEFEND, "--eval-attack", "pgf")),
             Row(c, ("train", "--model", "cnn:widht=8", "--out", "{R}/m.safetensors")),
             Row(c, ("train", "--model", "mlp:activation=sine", "--out", "{R}/m.safetensors")),
             Row(c, ("train", "--model", "transformer", "--out", "{R}/m.safetensors")),
             Row(c, ("download", "cifar", "{R}/d")),
             Row(c, ("frobnicate",)), Row(c, ("atack", "--plugin", "pgd"))]
    rows += [Row(c, ("attack", "--plugin", "pgd", "--n", "4"), env=(("ADVKIT_LOAD_PLUGINS", "nosuchplugin"),))]
    return rows


def _params() -> list[Row]:
    c = "bad parameters"
    pgd = ("attack", "--plugin", "pgd", "--n", "4")
    rows = [Row(c, (*pgd, "-p", p)) for p in ("stepz=3", "steps=many", "steps", "=3", "steps=", "steps=1.5",
                                              "steps=-1", "steps=0", "steps=1e12", "alpha=nan", "alpha=-1",
                                              "alpha=inf", "alpha=1/0", "random_start=maybe", "eps=0.1x",
                                              "seed=5", "batch_size=8", "model=cnn", "x=1", "progress=1",
                                              "targets=1", "device=cpu")]
    rows += [Row(c, (*pgd, "-p", "eps=0.1", "--eps", "0.2")), Row(c, (*pgd, "-p", "steps=2", "-p", "steps=3"))]
    rows += [Row(c, (*pgd, "--eps", e)) for e in ("-0.1", "inf", "nan", "1e300", "1/0", "8/0", "0/0", "abc", "8/255/2",
                                                 "", "-inf", "1e-400x", "--1")]
    rows += [Row(c, (*pgd, "--steps", s)) for s in ("0", "-5", "ten", "1e3", "99999999999999999999")]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--steps", "3", "--n", "4"))]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--n", n)) for n in ("0", "-1", "100000", "ten", "1.5")]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--n", "4", "--batch-size", b)) for b in ("0", "-1", "x")]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--n", "4", "--seed", s)) for s in ("-1", str(2**70), "x")]
    rows += [Row(c, (*ATTACK, "--bounds", b)) for b in ("0,1/0", "1,0", "a,b", "0", "0,1,2", "nan,1", "0,inf", "0,0")]
    rows += [Row(c, (*ATTACK, "--mean", m)) for m in ("0.1,0.2", "x", "nan")]
    rows += [Row(c, (*ATTACK, "--std", s)) for s in ("0", "-1", "inf", "0.1,0.2")]
    rows += [Row(c, ("attack", "--plugin", "pgd", "--n", "4", "--targeted", t)) for t in ("99", "-1", "foo", "1.5")]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--n", "4", "--device", d)) for d in ("meta", "tpu", "cuda:99",
                                                                                      "cpu:x", "")]
    rows += [Row(c, (*EVALUATE[:1], "--attacks", a, "--n", "4")) for a in ("", ",", "pgd:", "pgd:steps=x",
                                                                         "pgd:stepz=3", "steps=3", "pgd:steps=0")]
    rows += [Row(c, (*EVALUATE[:1], "--attacks", "fgsm", "--n", "4", "--eps", e)) for e in ("", "0.1,,0.2", "a,b",
                                                                                         "-1", "1e300", "nan")]
    rows += [Row(c, (*EVALUATE, "--norm", "L3")), Row(c, (*EVALUATE, "--probe", "0"))]
    rows += [Row(c, (*TRAIN[:-2], "--out", "{R}/m.safetensors", *o)) for o in (
        ("--epochs", "0"), ("--epochs", "-1"), ("--lr", "nan"), ("--lr", "-1"), ("--lr", "inf"), ("--lr", "0"),
        ("--weight-decay", "-1"), ("--weight-decay", "nan"), ("--batch-size", "0"), ("--optimizer", "lbfgs"),
        ("--mean", "x"), ("--std", "0"))]
    rows += [Row(c, (*DEFEND, "-p", p)) for p in ("eps=-1", "alpha=2", "attack=pgf", "kind=x", "eps=nan")]
    rows += [Row(c, (*DEFEND, "--eval-param", "seed=3")), Row(c, (*DEFEND, "--eval-eps", "-1")),
             Row(c, (*DEFEND, "--eval-n", "0"))]
    rows += [Row(c, (*ANALYZE, "-p", p)) for p in ("classes=3", "classes=3-3", "samples=0", "mode=sideways")]
    return rows


def _data() -> list[Row]:
    c = "data"
    files = ["nan", "inf", "range3", "negative", "labels-high", "labels-negative", "labels-float", "labels-2d",
             "nhwc", "rgb", "big-images", "empty", "lengths", "only-x", "only-y", "wrong-keys", "1d", "5d", "strings",
             "complex", "uint8-labels-text", "scalar", "huge-labels", "objects", "zero", "truncated", "text",
             "npy-renamed", "huge-header"]
    specs = [f"{{W}}/{f}.npz" for f in files] + ["{W}/plain.npy", "{W}/missing.npz", "{W}/pics-empty",
                                                "{W}/pics-noimages", "{W}/pics-odd", "{W}/pics-fake", "{W}/pics-bomb",
                                                "{W}/no-such-dir", "mnist:{W}/no-such-dir", "mnist:{W}/mnist-empty",
                                                "mnist:{W}/mnist-garbage", "{W}/existing.txt", "{W}/fifo"]
    rows = [Row(c, ("attack", "--plugin", "fgsm", "--model", "{W}/cnn.safetensors", "--data", s)) for s in specs]
    rows += [Row(c, (*TRAIN, "--data", s)) for s in specs[::6]]
    rows += [Row(c, (*EVALUATE, "--model", "{W}/cnn.safetensors", "--data", s)) for s in specs[::14]]
    rows += [Row(c, ("attack", "--plugin", "fgsm", "--model", "{W}/rgb.safetensors", "--data", "digits", "--n", "4")),
             Row(c, ("attack", "--plugin", "fgsm", "--data", "{W}/bool.npz"))]
    return rows


def _checkpoints() -> list[Row]:
    c = "checkpoints"
    names = ["classes-1e7", "classes-1e8", "classes-900k", "classes-text", "classes-zero", "classes-bool", "shape-zero",
             "shape-huge", "shape-text", "bounds-reversed", "bounds-inf", "std-zero", "mean-count", "class-names",
             "arch-unknown", "arch-number", "hidden-huge", "meta-not-json", "meta-none", "meta-list", "nan-weights",
             "wrong-shape", "missing-key", "extra-key", "int-weights", "truncated", "header-only", "zero", "garbage",
             "lying-header", "missing", "model-dir"]
    specs = [f"{{W}}/{n}.safetensors" for n in names]
    specs += [f"{{W}}/{n}.pt" for n in ("evil", "evil-zip", "list", "string", "bare-state", "tensor", "module",
                                        "garbage", "missing")]
    specs += ["{W}/model-dir", "{W}/garbage.ts", "{W}/picky.ts", "{W}/text.py:build", "{W}/boom.py:build",
              "{W}/quits.py:build", "{W}/syntax.py:build", "{W}/nan_model.py:build", "{W}/wide_model.py:build",
              "{W}/text.py:nothing", "{W}/missing.py:build", "json:dumps", "os:system", "{W}/fifo",
              "{W}/existing.txt"]
    watch = ("{W}/PWNED",)
    rows = [Row(c, ("attack", "--plugin", "fgsm", "--model", s, "--n", "8"), watch=watch) for s in specs]
    rows += [Row(c, (*EVALUATE, "--model", s), watch=watch) for s in specs[::8]]
    rows += [Row(c, ("train", "--model", s, "--epochs", "1", "--n", "16", "--out", "{R}/m.safetensors"), watch=watch)
             for s in specs[1::10]]
    rows += [Row(c, ("analyze", "--plugin", "tilt", "--model", s, "--n", "16"), watch=watch) for s in specs[2::18]]
    return rows


def _outputs() -> list[Row]:
    c = "output paths"
    dev = ("/dev/null",)
    rows = []
    for unprivileged in (False, True):
        rows += [Row(c, (*ATTACK, "--out", "/dev/null"), watch=dev, unprivileged=unprivileged),
                 Row(c, (*TRAIN[:-1], "/dev/null"), watch=dev, unprivileged=unprivileged),
                 Row(c, (*EVALUATE, "--out", "/dev/null"), watch=dev, unprivileged=unprivileged),
                 Row(c, (*DEFEND[:-1], "/dev/null"), watch=dev, unprivileged=unprivileged),
                 Row(c, (*ANALYZE, "--out", "/dev/null"), watch=dev, unprivileged=unprivileged),
                 Row(c, ("reproduce", "szegedy", "--quick", "--out", "/dev/null"), watch=dev,
                     unprivileged=unprivileged),
                 Row(c, (*TRAIN[:-1], "{R}/null-link"), prepare=(("symnull", "null-link"),), watch=dev,
                     unprivileged=unprivileged)]
    fifo = (("fifo", "fifo"),)
    rows += [Row(c, (*TRAIN[:-1], "{R}/fifo"), prepare=fifo, watch=("{R}/fifo",)),
             Row(c, (*ATTACK, "--out", "{R}/fifo"), prepare=fifo, watch=("{R}/fifo",)),
             Row(c, (*DEFEND[:-1], "{R}/fifo"), prepare=fifo, watch=("{R}/fifo",)),
             Row(c, (*ATTACK, "--out", "{R}/o"), prepare=(("dir", "o"), ("fifo", "o/result.json")),
                 watch=("{R}/o/result.json",)),
             Row(c, (*TRAIN[:-1], "{R}/adir"), prepare=(("dir", "adir"),), watch=("{R}/adir",)),
             Row(c, (*DEFEND[:-1], "{R}/adir"), prepare=(("dir", "adir"),), watch=("{R}/adir",)),
             Row(c, (*ATTACK, "--out", "{R}/afile"), prepare=(("file", "afile"),), watch=("{R}/afile",)),
             Row(c, (*EVALUATE, "--out", "{R}/afile"), prepare=(("file", "afile"),), watch=("{R}/afile",)),
             Row(c, (*ATTACK, "--out", "{R}/afile/sub"), prepare=(("file", "afile"),), watch=("{R}/afile",)),
             Row(c, (*TRAIN[:-1], "{R}/afile/m.safetensors"), prepare=(("file", "afile"),), watch=("{R}/afile",))]
    ro = (("rodir", "ro"),)
    for args in ((*TRAIN[:-1], "{R}/ro/m.safetensors"), (*ATTACK, "--out", "{R}/ro/out"), (*ATTACK, "--out", "{R}/ro"),
                 (*EVALUATE, "--out", "{R}/ro"), (*DEFEND[:-1], "{R}/ro/d.safetensors"),
                 (*ANALYZE, "--out", "{R}/ro")):
        rows.append(Row(c, args, prepare=ro, watch=("{R}/ro",), unprivileged=True))
    rows += [Row(c, (*TRAIN[:-1], "{R}/ro/locked.safetensors"), prepare=(("rodir", "ro"), ("rofile", "ro/locked.safetensors")),
                 watch=("{R}/ro/locked.safetensors",), unprivileged=True),
             Row(c, (*ATTACK, "--out", "{R}/ro"), prepare=(("rodir", "ro"), ("rofile", "ro/result.json")),
                 watch=("{R}/ro/result.json",), unprivileged=True),
             Row(c, (*TRAIN[:-1], "/proc/version"), watch=("/proc/version",)),
             Row(c, (*TRAIN[:-1], "/dev/full"), watch=("/dev/full",), unprivileged=True),
             Row(c, (*ATTACK, "--out", "/dev/full"), watch=("/dev/full",))]
    return rows


def _plugins() -> list[Row]:
    c = "plugin faults"
    rows = [Row(c, ("attack", "--plugin", "pgd", "--n", "8", "--json"), site="squat", survive=True,
                stdout_has=("torchattacks",)),
            Row(c, ("list", "attacks", "--json"), site="squat", survive=True, stdout_has=('"torchattacks.pgd"',)),
            Row(c, ("plugins",), site="squat", survive=True, stdout_has=("torchattacks",)),
            Row(c, ("list", "models"), site="squat-advkit", survive=True, stdout_has=("advkit.cnn",)),
            Row(c, ("attack", "--help"), site="hijack", survive=True, stdout_has=("--plugin",),
                stdout_lacks=("hijacked",)),
            Row(c, (*ATTACK,), site="hijack", survive=True, stdout_lacks=("hijacked",)),
            Row(c, ("attack", "--plugin", "pgd", "--n", "4"), site="hijack",  # strict: the refusal is an error
                env=(("ADVKIT_STRICT_PLUGINS", "1"),))]
    for site in ("exit-import", "ctrlc-import", "raise-import", "syntax", "missing-module", "missing-attr",
                 "raise-hook", "exit-hook", "bad-register", "commands-raise"):
        rows += [Row(c, ("--help",), site=site, survive=True, stdout_has=("attack", "train")),
                 Row(c, ("list", "attacks"), site=site, survive=True, stdout_has=("torchattacks.pgd",)),
                 Row(c, ("attack", "--plugin", "fgsm", "--n", "4"), site=site, env=(("ADVKIT_STRICT_PLUGINS", "1"),))]
    rows += [Row(c, ("plugins",), site=s, survive=True, stdout_has=("torchattacks",))
             for s in ("exit-import", "ctrlc-import", "raise-hook", "exit-hook")]
    rows += [Row(c, ("--help",), site="slow", survive=True, stdout_has=("attack",)),
             Row(c, ("--version",), site="slow", survive=True),
             Row(c, ("plugins",), site="slow", survive=True, stdout_has=("sleeper",),
                 env=(("ADVKIT_PLUGIN_TIMEOUT", "2"),)),
             Row(c, ("attack", "--plugin", "fgsm", "--n", "4"), site="slow",
                 env=(("ADVKIT_PLUGIN_TIMEOUT", "2"), ("ADVKIT_STRICT_PLUGINS", "1"))),
             Row(c, ("attack", "--plugin", "shouty", "--n", "4", "--json"), site="shouty", survive=True,
                 stdout_lacks=("shouty:",))]
    rows += [Row(c, ("attack", "--plugin", a, "--n", "8", "--model", "{W}/cnn.safetensors"), site="cheats")
             for a in ("weight-changer", "escaper", "shaper", "nanner", "raiser", "quitter", "lister")]
    rows += [Row(c, (*EVALUATE[:1], "--attacks", "weight-changer", "--eps", "0.1", "--n", "8", "--probe", "4"),
                 site="cheats"),
             Row(c, ("attack", "--plugin", "escaper", "--n", "8", "--json"), site="cheats")]
    rows += [Row(c, ("plugins",), env=(("ADVKIT_PLUGIN_TIMEOUT", v),)) for v in ("x", "-1")]
    return rows


def _misuse() -> list[Row]:
    c = "CLI misuse"
    rows = [Row(c, a) for a in (
        ("attack",), ("attack", "--plugin"), ("train",), ("train", "--model", "linear"), ("defend",),
        ("defend", "--plugin", "sat"), ("analyze",), ("reproduce",), ("download",), ("download", "mnist"),
        ("list",), ("attack", "--plugin", "pgd", "--bogus"), ("attack", "extra", "--plugin", "pgd"),
        ("--bogus",), ("plugins", "extra"), ("plugins", "--bogus"), ("list", "attacks", "a", "b"),
        ("attack", "--plugin", "fgsm", "--split", "validation"), ("attack", "--plugin", "fgsm", "--progress", "loud"),
        ("attack", "--plugin", "fgsm", "--n"), ("train", "--model", "linear", "--resume", "--out", "{R}/m.safetensors"),
        ("train", "--model", "linear", "--epochs", "1", "--out", "{R}/m.txt"),
        ("train", "--model", "linear", "--epochs", "1", "--out", ""),
        ("attack", "--plugin", "fgsm", "--n", "4", "--model-dir", "{W}/existing.txt", "--model", "robustbench:X"),
        ("attack", "-p"), ("-h", "--bogus"))]
    json_rows = [("attack", "--plugin", "pgf", "--json"), ("attack", "--plugin", "pgd", "-p", "stepz=1", "--json"),
                 ("attack", "--plugin", "fgsm", "--model", "{W}/garbage.safetensors", "--json"),
                 ("attack", "--plugin", "fgsm", "--data", "{W}/nan.npz", "--json"),
                 ("evaluate", "--attacks", "nope", "--json"), ("list", "atacks", "--json"),
                 ("list", "attacks", "pgf", "--json"), ("reproduce", "nope", "--json"),
                 ("train", "--model", "linear", "--epochs", "0", "--out", "{R}/m.safetensors", "--json"),
                 ("defend", "--plugin", "nope", "--model", "linear", "--out", "{R}/d.safetensors", "--json"),
                 ("analyze", "--plugin", "nope", "--json"), ("attack", "--plugin", "fgsm", "--out", "/dev/null",
                                                              "--json"),
                 ("attack", "--json", "--plugin", "fgsm", "--eps", "nan")]
    rows += [Row(c, a, watch=("/dev/null",)) for a in json_rows]
    return rows


def _api() -> list[Row]:
    c = "Python API"
    calls = ["advkit.load_model('cnnn')", "advkit.load_model('{W}/classes-1e7.safetensors')",
             "advkit.load_model('{W}/evil.pt')", "advkit.load_model('{W}/model-dir')",
             "advkit.load_data('digitz')", "advkit.load_data('{W}/nan.npz')", "advkit.load_data('{W}/zero.npz')",
             "advkit.get_attack('pgf')",
             "advkit.make_attack('pgd', advkit.load_model('linear', input_shape=(1, 8, 8), num_classes=10), stepz=3)",
             "advkit.save_model(advkit.load_model('linear', input_shape=(1, 8, 8), num_classes=10), '/dev/null')",
             "advkit.save_model(advkit.load_model('linear', input_shape=(1, 8, 8), num_classes=10), '{W}/fifo')",
             "advkit.to_art(42)", "advkit.make_defense('nope')",
             "advkit.load_model('linear', num_classes=0, input_shape=(1, 8, 8))",
             "advkit.load_model('mlp:hidden=x', input_shape=(1, 8, 8), num_classes=10)"]
    return [Row(c, api=call, watch=("/dev/null", "{W}/fifo", "{W}/PWNED")) for call in calls]


def all_rows() -> list[Row]:
    return _names() + _params() + _data() + _checkpoints() + _outputs() + _plugins() + _misuse() + _api()


def interleaved(rows: list[Row]) -> list[Row]:
    """Rows taking turns by category, so that a run cut short still covers every category."""
    by_category: dict[str, list[Row]] = {}
    for row in rows:
        by_category.setdefault(row.category, []).append(row)
    queues = list(by_category.values())
    return [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)]


# -- running and classifying ---------------------------------------------------------------------------------

API_WRAPPER = """
import sys
import advkit
try:
    {call}
except advkit.AdvkitError as exc:
    print(f"error: {{exc}}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def snapshot(path: str):
    """What must not change about `path`: its type, mode, owner and (file) content or (folder) listing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    state = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_rdev]
    if stat.S_ISREG(st.st_mode) and not path.startswith("/proc"):
        state.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
    elif stat.S_ISDIR(st.st_mode):
        state.append(sorted(os.listdir(path)))
    return state


def _prepare(row_dir: Path, kind: str, rel: str) -> None:
    path = row_dir / rel
    if kind == "fifo":
        os.mkfifo(path)
    elif kind in ("dir", "rodir"):
        path.mkdir()
    elif kind in ("file", "rofile"):
        path.write_text("precious\n")
        os.chmod(path, 0o600)
    elif kind == "symnull":
        path.symlink_to("/dev/null")


def _lock_down(row: Row, row_dir: Path) -> None:
    for kind, rel in row.prepare:
        if kind in ("rofile",):
            os.chmod(row_dir / rel, 0o444)
    for kind, rel in row.prepare:
        if kind == "rodir":
            os.chmod(row_dir / rel, 0o555)


def stray_temp_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.tmp"))


def classify(row: Row, rc: int | None, stdout: str, stderr: str, changed: list[str], stray: list[str]) -> tuple[str, str]:
    """(outcome, reason) of one run; `rc` None means it timed out."""
    if rc is None:
        return "HANG", "timed out"
    if "Traceback" in stderr:
        return "TRACEBACK", "traceback on stderr"
    if changed:
        return "CLOBBERED", "changed: " + ", ".join(changed)
    if row.survive:
        if rc != 0:
            return "WRONG_EXIT", f"exit {rc} where the command must survive the plugin"
        missing = [s for s in row.stdout_has if s not in stdout]
        present = [s for s in row.stdout_lacks if s in stdout]
        if missing or present:
            return "MESSY", f"stdout lacks {missing} / has {present}"
    else:
        if rc == 0:
            return "WRONG_EXIT", "exit 0"
        lines = [line for line in stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith(("error: ", "advkit: error: "))]
        others = [line for line in lines if line not in errors and not line.startswith("advkit: ")]
        if len(errors) != 1 or others:
            return "MESSY", f"{len(errors)} error lines and {len(others)} other lines on stderr"
    if stray:
        return "MESSY", "stray temp files: " + ", ".join(stray)
    if "--json" in row.args and stdout.strip():
        try:
            json.loads(stdout)
        except ValueError:
            return "MESSY", "stdout is not one JSON object"
    return "CLEAN", ""


def run_row(row: Row, index: int, fixtures: Path, work: Path, cache: Path, timeout: float) -> dict:
    row_dir = work / f"row{index:03d}"
    row_dir.mkdir()
    for kind, rel in row.prepare:
        _prepare(row_dir, kind, rel)
    _lock_down(row, row_dir)

    def fill(s: str) -> str:
        return s.replace("{W}", str(fixtures)).replace("{R}", str(row_dir))

    if row.api:
        cmd = [sys.executable, "-c", API_WRAPPER.format(call=fill(row.api))]
    else:
        cmd = [sys.executable, "-m", "advkit", *map(fill, row.args)]
    if row.unprivileged:
        cmd = UNPRIVILEGED + cmd
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVKIT_")}
    env.update(OMP_NUM_THREADS="1", ADVKIT_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(
        filter(None, [str(fixtures / "sites" / row.site) if row.site else "", os.environ.get("PYTHONPATH", "")])))
    env.update(dict(row.env))
    watched = [fill(p) for p in row.watch]
    before = {p: snapshot(p) for p in watched}
    started = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=row_dir, timeout=timeout,
                             stdin=subprocess.DEVNULL, check=False)
        rc, stdout, stderr = out.returncode, out.stdout, out.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stdout, stderr = None, _text(exc.stdout), _text(exc.stderr)
    seconds = time.perf_counter() - started
    changed = [p for p in watched if snapshot(p) != before[p]]
    for kind, rel in row.prepare:  # let the row folder be inspected and removed
        if kind == "rodir":
            os.chmod(row_dir / rel, 0o755)
    outcome, reason = classify(row, rc, stdout, stderr, changed, stray_temp_files(row_dir))
    return {**asdict(row), "command": row.label, "outcome": outcome, "reason": reason, "exit": rc,
            "seconds": round(seconds, 2), "stderr_tail": stderr.strip()[-600:], "stdout_tail": stdout.strip()[-300:]}


def _text(data) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def tally(results: list[dict]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for r in results:
        counts = table.setdefault(r["category"], dict.fromkeys(OUTCOMES, 0))
        counts[r["outcome"]] += 1
    table["total"] = {o: sum(t[o] for t in table.values()) for o in OUTCOMES}
    return table


def print_table(table: dict[str, dict[str, int]]) -> None:
    print(f"{'category':<16} {'rows':>5} " + " ".join(f"{o:>10}" for o in OUTCOMES))
    for category, counts in table.items():
        print(f"{category:<16} {sum(counts.values()):>5} " + " ".join(f"{counts[o]:>10}" for o in OUTCOMES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the rows and the tally as JSON here")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--category", help="only the rows of this category")
    parser.add_argument("--cache", help="ADVKIT_CACHE_DIR to reuse (default: a new temporary one)")
    args = parser.parse_args()
    rows = interleaved([r for r in all_rows() if args.category in (None, r.category)])
    with tempfile.TemporaryDirectory(prefix="advkit-bad-inputs-") as tmp:
        tmp = Path(tmp)
        os.chmod(tmp, 0o755)
        cache, fixtures, work = Path(args.cache or tmp / "cache"), tmp / "fixtures", tmp / "rows"
        os.environ["ADVKIT_CACHE_DIR"] = str(cache)
        build_fixtures(fixtures)
        work.mkdir()
        started = time.perf_counter()
        results: list[dict] = []

        def one(index: int, row: Row) -> None:
            result = run_row(row, index, fixtures, work, cache, args.timeout)
            results.append(result)
            print(f"{index + 1:>4}/{len(rows)} {result['outcome']:<10} {result['seconds']:>6.1f}s  {result['command']}",
                  file=sys.stderr, flush=True)

        pool = ThreadPoolExecutor(args.workers)
        interrupted = False
        try:
            list(pool.map(one, range(len(rows)), rows))
        except KeyboardInterrupt:  # report the rows done so far
            interrupted = True
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        wall = time.perf_counter() - started
        cache_temps = stray_temp_files(cache)
    table = tally(results)
    print_table(table)
    print(f"{len(results)} of {len(rows)} rows in {wall:.0f} s" + (" (interrupted)" if interrupted else "")
          + f"; stray temp files in the cache: {len(cache_temps)}")
    for r in results:
        if r["outcome"] != "CLEAN":
            print(f"\n[{r['outcome']}] {r['category']}: {r['command']}"
                  + (f"  (PYTHONPATH site: {r['site']})" if r["site"] else "")
                  + (" (unprivileged)" if r["unprivileged"] else "")
                  + f"\n  exit {r['exit']}; {r['reason']}\n  stderr: " + r["stderr_tail"][-400:].replace("\n", "\n  | "))
    if args.out:
        from advkit.reporting.files import write_json
        from advkit.reporting.provenance import versions

        write_json(args.out, {"tally": table, "rows": results, "rows_planned": len(rows), "interrupted": interrupted,
                              "timeout": args.timeout, "wall_seconds": wall, "cache_temp_files": cache_temps,
                              "versions": versions()})


if __name__ == "__main__":
    main()
