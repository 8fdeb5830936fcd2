"""Safe model checkpoints: weights plus metadata, never unpickled code.

Formats read:
  * `.safetensors` with advkit metadata in the header (what advkit writes by default);
  * `.pt`/`.pth` holding `{"advkit": metadata, "state_dict": weights}`, read with
    `torch.load(weights_only=True)`, which refuses any pickle that would run code;
  * TorchScript archives (`torch.jit.save`), which hold TorchScript, not pickled Python.

The weights are the network's own state dict (format 2: plain keys, so
`net.load_state_dict(safetensors.torch.load_file(path))` works on the user's network); format 1
(advkit 0.x before it) saved the wrapping `Model`'s, keys prefixed with `net.`, and still loads.
A network built by `file.py:func` or `module:func` is rebuilt by that code, recorded with its
sha256: a checkpoint runs it only while it is unchanged (see `architecture.rebuild_from_source`).
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from advkit.errors import ModelError
from advkit.models import validation
from advkit.reporting.files import atomic_path

SUFFIXES = {".safetensors", ".pt", ".pth", ".ckpt", ".ts", ".jit"}
FORMAT = 2  # 2: plain keys of model.net; 1: keys of the Model ("net." prefix, normalization buffers)


def save(model, path, extra: dict | None = None) -> Path:
    """Write `model` (an advkit `Model`) atomically; `.safetensors` unless the suffix says `.pt`."""
    from advkit import __version__

    path = Path(path)
    meta = {"format": FORMAT, "advkit_version": __version__, **model.metadata(), **(extra or {})}
    meta["spec"] = _with_relative_source(meta.get("spec") or {}, path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    with atomic_path(path) as tmp:
        if path.suffix in (".pt", ".pth", ".ckpt"):
            torch.save({"advkit": meta, "state_dict": state}, tmp)
        else:
            from safetensors.torch import save_file

            save_file(state, str(tmp), metadata={"advkit": json.dumps(meta)})
    return path


def read_metadata(path) -> dict:
    """The advkit metadata of a checkpoint, without building the model."""
    return _read(Path(path))[0]


def load(path, *, input_shape=None, bounds=None, mean=None, std=None):
    """Rebuild the advkit `Model` saved at `path`; `bounds`/`mean`/`std` override the saved ones."""
    from advkit.models.architecture import build_network
    from advkit.models.model import Model

    path = Path(path)
    if path.exists() and not path.is_file():  # a directory, FIFO or device: opening a FIFO would block
        raise ModelError(f"model {path} is not a regular file")
    if _is_torchscript(path):
        if input_shape is None:
            raise ModelError(f"TorchScript model {path} needs data to know its input shape")
        try:
            net = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise ModelError(f"cannot load TorchScript model {path}: {exc}") from exc
        return Model(net, input_shape, bounds=bounds or (0.0, 1.0), mean=mean, std=std,
                     spec={"architecture": "torchscript", "path": str(path)})
    meta, state = _read(path)
    validation.check_metadata(meta, path)  # types and sane limits, before anything is built
    validation.check_weights(state, path)
    if int(meta.get("format", 1)) > FORMAT:
        raise ModelError(f"checkpoint {path} has format {meta.get('format')}, newer than this advkit reads "
                         f"({FORMAT}): upgrade advkit")
    spec = dict(meta.get("spec") or {})
    arch = spec.get("architecture", "")
    from advkit.models.architecture import rebuild_from_source
    from advkit.plugins.registry import registry

    if isinstance(spec.get("source"), dict):
        net, spec["source"] = rebuild_from_source(spec["source"], path, arch)
    elif arch not in {r.name for r in registry().all("models")} | {r.qualified_name for r in registry().all("models")}:
        raise ModelError(
            f"checkpoint {path} names architecture {arch!r}, which is not a registered model; "
            "advkit never runs code named inside a file: build the network in a file.py:func "
            "that loads these weights, or install the plugin that provides it"
        )
    else:
        args = ",".join(f"{k}={_cli_value(v)}" for k, v in (spec.get("params") or {}).items())
        architecture = f"{arch}:{args}" if args else arch
        validation.check_shapes(architecture, meta["input_shape"], meta["num_classes"], network_state(state, meta),
                                path)  # on the meta device: claims the weights do not back allocate nothing
        net, recipe = build_network(architecture, meta["input_shape"], meta["num_classes"])
    saved_norm = {"mean": meta.get("mean"), "std": meta.get("std")}
    model = Model(
        net,
        meta["input_shape"],
        meta["num_classes"],
        bounds=tuple(bounds or meta.get("bounds") or (0.0, 1.0)),
        mean=mean if mean is not None else saved_norm["mean"],
        std=std if std is not None else saved_norm["std"],
        class_names=meta.get("class_names"),
        spec=spec,
    )
    try:
        missing, unexpected = model.net.load_state_dict(network_state(state, meta), strict=False)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ModelError(f"weights in {path} do not fit architecture {arch!r}: {detail}") from None
    if missing or unexpected:
        raise ModelError(f"weights in {path} do not fit architecture {arch!r}: "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


def network_state(state: dict, meta: dict) -> dict:
    """The network's own state dict from a checkpoint's weights: format 1 saved the `Model`'s
    (keys `net.*`, plus normalization buffers, which the Model rebuilds from the metadata)."""
    if int(meta.get("format", 1)) >= 2:
        return state
    return {k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}


def _with_relative_source(spec: dict, path: Path) -> dict:
    """The spec with a `file.py:func` source's path also relative to the checkpoint (found if both move)."""
    import os

    source = spec.get("source")
    if not isinstance(source, dict) or "file" not in source:
        return spec
    try:
        relative = os.path.relpath(source["file"], Path(path).resolve().parent)
    except ValueError:  # another drive
        return spec
    return {**spec, "source": {**source, "relative": Path(relative).as_posix()}}


def _cli_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    return str(value)


def _read(path: Path) -> tuple[dict, dict]:
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        with warnings.catch_warnings():  # torch's "pickle protocol ... please file an issue" for refused files
            warnings.filterwarnings("ignore", message=".*weights_only Unpickler", category=UserWarning)
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        unsafe = [line.strip() for line in str(exc).splitlines() if "GLOBAL" in line]
        if not unsafe:
            raise ModelError(f"cannot read checkpoint {path}: not a weights-only torch file "
                             "(advkit never unpickles arbitrary objects)") from None
        raise ModelError(
            f"refused to load {path}: unpickling it would run code ({unsafe[0][:160]}); "
            "advkit loads only weights (safetensors, or weights-only torch files)"
        ) from None
    except Exception as exc:
        raise ModelError(f"cannot read checkpoint {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(obj, dict) or "advkit" not in obj or "state_dict" not in obj:
        raise ModelError(
            f"{path} is not an advkit checkpoint (no advkit metadata); a bare state dict needs its "
            "architecture: load it in a file.py:func and pass --model file.py:func"
        )
    return dict(obj["advkit"]), dict(obj["state_dict"])


def _read_safetensors(path: Path) -> tuple[dict, dict]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot read checkpoint {path}: {str(exc)[:200]}") from None
    if "advkit" not in header:
        raise ModelError(f"{path} has no advkit metadata; a bare safetensors file needs its architecture")
    try:
        return json.loads(header["advkit"]), state
    except json.JSONDecodeError as exc:
        raise ModelError(f"corrupt advkit metadata in {path}: {exc}") from None


def _is_torchscript(path: Path) -> bool:
    if path.suffix == ".safetensors" or not path.is_file() or not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return False
    return any("/code/" in n for n in names) and any(n.endswith("constants.pkl") for n in names)
