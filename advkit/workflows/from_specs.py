"""The jobs the commands run, from CLI-style specs: load the model and data, then call the API."""

from __future__ import annotations

from advkit.errors import UsageError
from advkit.training.defend import defend


def defend_from_specs(name: str, model_spec: str, data_spec: str | None, *, split: str = "train",
                      n: int | None = None, eval_n: int = 500, device: str = "auto", bounds=None, mean=None,
                      std=None, config=None, **options) -> tuple[object, dict]:
    """`defend` from CLI-style specs: the model on the `split` of the data, evaluated on its test split.

    The test split is shuffled with the config's seed and cut to its first `eval_n` samples; the
    seed is set before the model is built (a zoo model's initial weights). `options` go to `defend`.
    """
    import torch

    from advkit.data.dataset import load_data, validate
    from advkit.seeding import seed_everything
    from advkit.training.loop import TrainConfig
    from advkit.workflows.inputs import load_inputs

    if eval_n < 1:
        raise UsageError(f"--eval-n must be at least 1, got {eval_n}")
    config = config or TrainConfig()
    config.check()
    seed_everything(config.seed)
    inputs = load_inputs(model_spec, data_spec, split=split, n=n, seed=config.seed, device=device, bounds=bounds,
                         mean=mean, std=std, warn_untrained=False)
    test = load_data(inputs.data.meta["spec"], split="test", seed=config.seed, bounds=None)
    if eval_n < len(test):
        test = test.subset(torch.randperm(len(test), generator=torch.Generator().manual_seed(config.seed))[:eval_n])
    validate(test, bounds=inputs.model.bounds, num_classes=inputs.model.num_classes)
    return defend(name, inputs.model, inputs.data, test, config=config, **options)
