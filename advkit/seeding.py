"""One seed for every random number generator advkit and the wrapped libraries use."""

import operator
import random


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); `seed` is an integer from 0 to 2**64 - 1."""
    import numpy as np
    import torch

    from advkit.errors import UsageError

    try:
        value = operator.index(seed)
    except TypeError:
        value = None
    if value is None or not 0 <= value < 2**64:
        raise UsageError(f"the seed must be an integer from 0 to 2**64 - 1, got {seed!r}")
    seed = value
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
