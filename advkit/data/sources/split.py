"""A fixed, seeded train/test split for sources that ship as one set."""

import torch

SPLIT_SEED = 0


def split_indices(n: int, split: str, test_fraction: float) -> torch.Tensor:
    """Indices of `split` ("train", "test" or "all") in a permutation fixed by SPLIT_SEED."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    n_test = int(round(n * test_fraction))
    if split == "train":
        return order[n_test:].sort().values
    if split == "test":
        return order[:n_test].sort().values
    return torch.arange(n)
