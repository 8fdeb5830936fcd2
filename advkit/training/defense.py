"""The `Defense` base class: a plugin that returns a (re)trained or transformed model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path


class TrainingStopped(Exception):
    """A training stage ended early because of `stop_after` (a simulated interruption)."""


class Defense:
    """Base class of every defense. Subclasses set `name` and implement `apply(model, data)`.

    The constructor's signature is the parameter schema, as for attacks. `apply` returns the
    defended model (a new advkit `Model` or the same one changed in place). Defenses that train
    call `self.fit(...)`, which runs `advkit.training.train` (the one training loop) under the
    settings the runner put in `config`, `checkpoint`, `resume`, `progress` and `stop_after`.
    """

    name: str = ""
    config = None  # advkit.TrainConfig; None means TrainConfig()
    checkpoint: str | Path | None = None  # prefix of the per-stage training-state files
    resume: bool = False
    progress = None  # a `progress=` value (advkit.reporting.progress); None: the ambient mode
    stop_after: int | None = None  # per stage: end it after this many epochs (tests interrupt with it)

    def apply(self, model, data):
        """Return the defended version of `model`, using `data` (an `advkit.Dataset`) if needed."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(model, data)")

    def report(self) -> dict:
        """Facts about the last `apply` for the summary (e.g. what was swapped); none by default."""
        return {}

    def fit(self, model, x, y, loss_fn=None, *, stage: str = "train", epochs: int | None = None) -> list[dict]:
        """Train `model` in place with the one training loop; each `stage` has its own resumable checkpoint.

        `y` may hold anything indexable per sample (class indices, soft labels); `loss_fn(model, xb, yb)`
        defaults to cross-entropy. `epochs` overrides the configured number for this stage.
        """
        from advkit.training.loop import cross_entropy, train

        config = self.settings
        if epochs is not None:
            config = replace(config, epochs=epochs)
        state = self.stage_file(stage)
        resuming = self.resume and state is not None and state.is_file()
        history = train(model, x, y, config, loss_fn=loss_fn or cross_entropy, checkpoint=state,
                        resume=resuming, progress=self.progress, stop_after=self.stop_after,
                        tag=f"{self.name} {stage}")
        if len(history) < config.epochs:
            raise TrainingStopped(f"{self.name} {stage} stopped after epoch {len(history)} of {config.epochs}")
        return history

    @property
    def settings(self):
        """The training settings in force: `config`, else the defaults of `advkit.TrainConfig`."""
        from advkit.training.loop import TrainConfig

        return self.config or TrainConfig()

    def stage_file(self, stage: str) -> Path | None:
        """Where stage `stage` keeps its per-epoch training state (None: no checkpoints)."""
        if self.checkpoint is None:
            return None
        prefix = Path(self.checkpoint)
        return prefix.with_name(f"{prefix.name}.{stage}.resume.pt")
