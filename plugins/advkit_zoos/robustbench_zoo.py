"""RobustBench leaderboard models: `robustbench:NAME[:dataset=cifar10][:threat=Linf]`, from checkpoints on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import advkit
from advkit_zoos.common import ZooNet, choose, require, safe_load

MODEL_DIR = "ADVKIT_MODEL_DIR"  # set by --model-dir


class RobustBench(ZooNet):
    """RobustBench model from --model-dir/DATASET/THREAT/NAME.pt (default ./models), never downloaded.

    Loaded by `robustbench.utils.load_model`; its normalization is part of the network. Needs
    `pip install "advkit[robustbench]"`.

    Args:
        arch: leaderboard name (Standard, Wong2020Fast, Carmon2019Unlabeled, ...).
        dataset: cifar10, cifar100 or imagenet.
        threat: Linf, L2 or corruptions.
        model_dir: directory of checkpoints (default: --model-dir, else ./models).
        size: side the network sees (inputs of another size are resized inside the model): -1 for 224
            on imagenet and none elsewhere, 0 for none.
    """

    name = "robustbench"

    def __init__(self, input_shape, num_classes: int, arch: str, dataset: str = "cifar10", threat: str = "Linf",
                 model_dir: str = "", size: int = -1):
        utils, zoo, enums = _import_robustbench()
        what = f"robustbench:{arch}"
        try:
            benchmark = enums.BenchmarkDataset(dataset)
            threat_model = enums.ThreatModel(threat)
        except ValueError:
            raise advkit.UsageError(f"{what}: dataset must be one of {[d.value for d in enums.BenchmarkDataset]} "
                                    f"and threat one of {[t.value for t in enums.ThreatModel]}, got "
                                    f"{dataset!r}, {threat!r}") from None
        entries = zoo.model_dicts[benchmark][threat_model]
        choose(arch, entries, f"RobustBench {dataset}/{threat} model")
        root = Path(model_dir or os.environ.get(MODEL_DIR) or "models")
        path = root / benchmark.value / threat_model.value / f"{arch}.pt"
        ids = entries[arch].get("gdrive_id")
        files = [Path(f"{path}_m{i}.pt") for i in range(len(ids))] if isinstance(ids, list) else [path]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise advkit.ModelError(
                f"{what}: checkpoint not found: looked for {', '.join(missing)} (--model-dir {root}); fetch it once "
                f"on a machine with a network (python -c \"from robustbench.utils import load_model; load_model("
                f"'{arch}', model_dir='{root}', dataset='{dataset}', threat_model='{threat}')\") and copy it there")
        for file in files:  # weights only: RobustBench's own torch.load then reads a file without code
            safe_load(file, what)
        try:
            net = utils.load_model(model_name=arch, model_dir=root, dataset=benchmark, threat_model=threat_model)
        except Exception as exc:  # noqa: BLE001 (RobustBench's failures become one line)
            raise advkit.ModelError(f"{what}: RobustBench could not load {path}: {type(exc).__name__}: "
                                    f"{str(exc)[:300]}") from None
        side = 224 if benchmark.value == "imagenet" else 0
        super().__init__(net, side if size == -1 else size, source=str(path))


def _import_robustbench():
    """robustbench.utils, .model_zoo and .model_zoo.enums. RobustBench imports the reference AutoAttack
    as `autoattack`; the `pyautoattack` distribution installs it as `pyautoattack`, so that name stands in."""
    try:
        import autoattack  # noqa: F401
    except ImportError:
        try:
            import pyautoattack
        except ImportError:
            pyautoattack = None
        if pyautoattack is not None:
            sys.modules["autoattack"] = pyautoattack
    require("robustbench", "robustbench", "robustbench")
    return (require("robustbench.utils", "robustbench", "robustbench"),
            require("robustbench.model_zoo", "robustbench", "robustbench"),
            require("robustbench.model_zoo.enums", "robustbench", "robustbench"))
