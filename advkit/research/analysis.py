"""The `Analysis` base class and its `Report`: numbers for JSON and figures as PNG."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    """What an analysis found: JSON-able `numbers`, matplotlib `figures` by file stem, and `notes`."""

    name: str
    numbers: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Analysis:
    """Base class of every analysis. Subclasses set `name` and implement `run(model, data) -> Report`.

    The constructor's signature is the parameter schema, as for attacks. An analysis that
    compares several models (`--model` repeated) sets `multi_model = True` and receives a list
    of models as `model`. An analysis that trains its own models from the data (like
    `tilt-sweep`) sets `needs_model = False` and receives `model=None`.
    """

    name: str = ""
    multi_model: bool = False
    needs_model: bool = True

    def run(self, model, data) -> Report:
        """Analyse `model` (an advkit `Model`) on `data` (an `advkit.Dataset`)."""
        raise NotImplementedError(f"{type(self).__name__} must implement run(model, data)")
