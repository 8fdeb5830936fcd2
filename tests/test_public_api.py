"""The public API is one table: `advkit.API`; the docstring and README's list come from it."""

import importlib
import re
from pathlib import Path

import pytest

import advkit

README = Path(__file__).resolve().parents[1] / "README.md"
EXCEPTIONS = {"AdvkitError", "UsageError", "DataError", "ModelError", "PluginError", "AttackContractError"}


@pytest.mark.parametrize("name", sorted(advkit.API))
def test_every_public_name_resolves_from_its_module(name):
    module = importlib.import_module(advkit.API[name][0])
    assert getattr(advkit, name) is getattr(module, advkit._ATTRIBUTE.get(name, name))


def test_docstring_lists_every_public_name():
    listed = set(re.findall(r"^- `(\w+)`", advkit.__doc__, flags=re.M))
    assert listed == set(advkit.API)
    assert all(e in advkit.__doc__ for e in EXCEPTIONS)


def test_readme_lists_exactly_the_public_names():
    text = README.read_text()
    section = text[text.index("Every public name"):]
    rows = section[:section.index("\n\n", section.index("| group |"))]
    listed = set(re.findall(r"`(\w+)`", rows.split("\n", 2)[2]))
    assert listed == set(advkit.API) | EXCEPTIONS


def test_all_is_the_table_and_the_exceptions():
    assert set(advkit.__all__) == set(advkit.API) | EXCEPTIONS | {"__version__"}
    assert set(dir(advkit)) == set(advkit.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        advkit.nope  # noqa: B018
