"""scikit-learn's bundled 8x8 handwritten digits: the embedded default, no download."""

import torch

from advkit.data.dataset import Dataset, DataSource
from advkit.data.sources.split import split_indices


class Digits(DataSource):
    """scikit-learn's 1,797 8x8 digits, pixels scaled to [0, 1]; fixed 80/20 train/test split."""

    name = "digits"
    splits = ("train", "test", "all")

    def load(self, split: str) -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        y = torch.tensor(bunch.target, dtype=torch.long)
        index = split_indices(len(y), split, test_fraction=0.2)
        return Dataset(x[index], y[index], "digits", [str(i) for i in range(10)])
