"""The embedded default: a small CNN trained on scikit-learn's digits on first use, then cached."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from advkit.training.loop import TrainConfig

SPEC = "cnn"
DATA = "digits"
RECIPE = TrainConfig(epochs=15, lr=2e-3, batch_size=64, seed=0)
FILE = "default-cnn-digits-v1.safetensors"


def cache_dir() -> Path:
    """`ADVKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/advkit`, else `~/.cache/advkit`."""
    if os.environ.get("ADVKIT_CACHE_DIR"):
        return Path(os.environ["ADVKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "advkit"


def default_model(device=None):
    """The cached default model; trained (a few seconds on 2 cores) and saved on first use."""
    from advkit.data.dataset import load_data
    from advkit.models import checkpoints
    from advkit.models.load import load_model
    from advkit.seeding import seed_everything
    from advkit.training.loop import train

    path = cache_dir() / FILE
    if not path.exists():
        print(f"advkit: training the default {SPEC} on {DATA} (first use, cached in {path})", file=sys.stderr)
        data = load_data(DATA, split="train")
        seed_everything(RECIPE.seed)
        model = load_model(SPEC, input_shape=data.input_shape, num_classes=data.num_classes,
                           class_names=data.class_names)
        train(model, data.x, data.y, RECIPE, progress=False)
        checkpoints.save(model, path, extra={"trained_on": f"{DATA} train split", "recipe": vars(RECIPE)})
    model = checkpoints.load(path)
    return model.to(device) if device is not None else model
