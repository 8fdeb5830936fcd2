"""The `Reproduction` base class: a paper's headline results re-run at small scale, published vs measured.

A reproduction trains its own models on `--data` (digits by default, or MNIST from `mnist:DIR`),
measures, and returns a `Reproduction.Result`: rows of published vs measured values and the
checks of the directions the paper claims. Reproductions never hard-code a measured number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Result:
    """What a reproduction measured: `rows` (published vs measured), direction `checks`, raw `tables`, figures."""

    name: str
    paper: str
    rows: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def add(self, table: str, setting: str, quantity: str, measured, published=None, approx: bool = False) -> None:
        """One row: `quantity` of `setting` in `table`, the measured value next to the published one (or None)."""
        self.rows.append({"table": table, "setting": setting, "quantity": quantity, "published": published,
                          "approx": approx, "measured": measured})

    def check(self, claim: str, holds: bool, detail: str = "") -> bool:
        """Record whether a direction the paper claims holds in the measurement (`detail`: the numbers)."""
        self.checks.append({"claim": claim, "holds": bool(holds), "detail": detail})
        return bool(holds)

    def value(self, table: str, setting: str, quantity: str):
        """The measured value of a row added before."""
        for row in self.rows:
            if (row["table"], row["setting"], row["quantity"]) == (table, setting, quantity):
                return row["measured"]
        raise KeyError(f"no row {table!r} / {setting!r} / {quantity!r}")

    @property
    def reproduced(self) -> bool:
        return all(c["holds"] for c in self.checks)


class Reproduction:
    """Base class of every reproduction. Subclasses set `name` and `paper` and implement `run`.

    `run(data_spec, quick, seed, progress)` returns a `Result`; `progress` (a bool) goes to `train` and
    `configure`, and attacks run inside follow the user's `--progress` by themselves. `quick` is the reduced version
    the tests use (seconds); the full version is meant for MNIST (`mnist:DIR`). The runner sets
    `device` (a `torch.device`) before calling `run`. The helpers below are shared by all
    reproductions: data splits, training a zoo model, error rates, attack summaries.
    """

    name: str = ""
    paper: str = ""
    device = None  # torch.device; None means the best available

    Result = Result

    def run(self, data_spec: str | None, quick: bool, seed: int, progress: bool) -> Result:
        """Train, measure and compare with the paper; returns a `Result`."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(data_spec, quick, seed, progress)")

    def result(self, train=None, test=None) -> Result:
        """An empty `Result` for this reproduction, recording the `train` and `test` data it uses."""
        data = {key: d.describe() for key, d in (("train", train), ("test", test)) if d is not None}
        return Result(self.name, self.paper, data=data)

    @staticmethod
    def data(data_spec: str | None, seed: int, n_train: int | None = None, n_test: int | None = None):
        """(train, test) Datasets of `data_spec` (digits when None), each cut to its first n after a seeded shuffle."""
        from advkit.data.dataset import load_data

        spec = data_spec or "digits"
        train = load_data(spec, split="train", seed=seed)
        test = load_data(spec, split="test", seed=seed)
        return _first(train, n_train, seed), _first(test, n_test, seed)

    def train(self, architecture: str, data, *, epochs: int, seed: int, progress=None, lr: float = 1e-3,
              weight_decay: float = 0.0, batch_size: int = 64, optimizer: str = "adam", loss_fn=None, tag: str = ""):
        """A fresh zoo model (`mlp:hidden=100-100`, `lenet`, ...) trained on `data` with the one training loop."""
        from advkit.training.loop import TrainConfig, cross_entropy, train

        model = self.fresh(architecture, data, seed)
        config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed,
                             optimizer=optimizer)
        train(model, data.x, data.y, config, loss_fn=loss_fn or cross_entropy, progress=progress,
              tag=tag or f"{self.name} {architecture}")
        return model

    def fresh(self, architecture: str, data, seed: int):
        """An untrained zoo model for `data`, initialised from `seed`, on this run's device."""
        from advkit.models.load import load_model
        from advkit.seeding import seed_everything

        seed_everything(seed)
        return load_model(architecture, input_shape=data.input_shape, num_classes=data.num_classes,
                          class_names=data.class_names, device=self.torch_device)

    def configure(self, defense, *, epochs: int, seed: int, progress=None, lr: float = 1e-3,
                  weight_decay: float = 0.0, batch_size: int = 64):
        """Give an `advkit.Defense` instance the training settings of this run; returns it."""
        from advkit.training.loop import TrainConfig

        defense.config = TrainConfig(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                                     seed=seed)
        defense.progress = progress
        return defense

    @property
    def torch_device(self):
        from advkit.models.inference import resolve_device

        return self.device if self.device is not None else resolve_device("auto")

    @staticmethod
    def increasing(values) -> bool:
        """True when every value is at least the one before (a direction check)."""
        values = list(values)
        return all(b >= a for a, b in zip(values, values[1:]))

    @staticmethod
    def error(model, data) -> float:
        """Test error (share misclassified) of `model` on `data`."""
        from advkit.training.loop import evaluate_accuracy

        return 1.0 - evaluate_accuracy(model, data.x, data.y)


def _first(data, n: int | None, seed: int):
    import torch

    if n is None or n >= len(data):
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n]
    return data.subset(order)


def run_reproduction(reproduction: Reproduction, data_spec: str | None, quick: bool, seed: int,
                     progress=None) -> tuple[Result, float]:
    """Seed everything, run, and time it; returns (result, seconds).

    `progress` (a mode, True/False, None: the ambient one) is the ambient mode during the run, so the
    reproduction's training and attacks show it; `run` gets it as a bool (on or off).
    """
    from advkit.errors import UsageError
    from advkit.reporting.progress import progress_mode, resolve
    from advkit.seeding import seed_everything

    seed_everything(seed)
    started = time.perf_counter()
    with progress_mode(progress):
        result = reproduction.run(data_spec, quick, seed, resolve(None) != "none")
    if not isinstance(result, Result):
        raise UsageError(f"reproduction {reproduction.name!r} returned {type(result).__name__}, "
                         "expected a Reproduction.Result")
    return result, time.perf_counter() - started


COLUMNS = ["table", "setting", "quantity", "published", "measured"]


def report_lines(summary: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """A reproduction summary's header lines, published-vs-measured cells (`COLUMNS`) and one line per check."""
    from advkit.reporting.text import cell

    data = summary["data"]
    header = [f"{summary['reproduction']}: {summary['paper']}",
              f"data {data.get('spec', '')} ({'quick' if summary['quick'] else 'full'}), seed {summary['seed']}, "
              f"device {summary['device']}, {summary['seconds']} s"]
    cells = [[row["table"], row["setting"], row["quantity"],
              cell(row["published"]) + (" (approx.)" if row["approx"] and row["published"] is not None else ""),
              cell(row["measured"])] for row in summary["rows"]]
    checks = [f"[{'holds' if c['holds'] else 'FAILS'}] {c['claim']}" + (f" ({c['detail']})" if c["detail"] else "")
              for c in summary["checks"]]
    return header, cells, checks


def markdown(summary: dict) -> str:
    """report.md of a reproduction: the published-vs-measured table, the direction checks, notes, figures."""
    from advkit.reporting.text import table

    header, cells, checks = report_lines(summary)
    lines = [f"# {header[0]}", "", header[1], "", table(cells, COLUMNS, markdown=True)]
    lines += ["", "## Directions", ""] + [f"- {c}" for c in checks]
    if summary["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in summary["notes"]]
    if summary.get("figures"):
        lines += ["", "## Figures", ""] + [f"![{name}]({name})" for name in summary["figures"]]
    return "\n".join(lines) + "\n"
