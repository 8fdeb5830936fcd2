"""`advkit list`: descriptions and parameters read from source, following base classes, without importing."""

import json
import sys

import pytest

from advkit.plugins.lazy import Lazy
from advkit.plugins.registry import Registration
from advkit.plugins.source import source_class

BASE = '''
class Base:
    """A base attack."""

    norm = "L2"

    def __init__(self, model, eps: float = 8 / 255, steps: int = 10):
        """
        :param eps: Maximum perturbation,
                    in input units.
        :param steps: Number of steps.
        """
'''

CHILD = '''
import lazybase.base as b
from .base import Base


class Child(Base):
    """A subclass without its own __init__.

    More about it.
    """

    name = "child"


class Grandchild(b.Base):
    name = "grandchild"
'''


@pytest.fixture
def lazy_package(tmp_path, monkeypatch):
    package = tmp_path / "lazybase"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(BASE)
    (package / "child.py").write_text(CHILD)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    source_class.cache_clear()


@pytest.mark.parametrize("qualname", ["Child", "Grandchild"])
def test_lazy_class_lists_the_parameters_of_its_base(lazy_package, qualname):
    info = Registration("attacks", qualname.lower(), Lazy(f"lazybase.child:{qualname}"), "demo").describe()
    params = {p["name"]: p for p in info["parameters"]}
    assert list(params) == ["eps", "steps"]
    assert params["eps"]["default"] == 8 / 255 and params["eps"]["default_text"] == "8/255"
    assert params["eps"]["description"] == "Maximum perturbation, in input units."
    assert params["steps"] == {"name": "steps", "default": 10, "default_text": None, "type": "int",
                               "required": False, "description": "Number of steps."}
    assert "lazybase.child" not in sys.modules and "lazybase.base" not in sys.modules
    assert source_class("lazybase.child", qualname).attributes["norm"] == "L2"  # inherited as well


def test_summary_and_description_are_the_first_paragraph(lazy_package):
    info = Registration("attacks", "child", Lazy("lazybase.child:Child"), "demo").describe()
    assert info["summary"] == "A subclass without its own __init__."
    assert info["description"] == "A subclass without its own __init__."


def test_docstring_parameter_blocks():
    from advkit.plugins.source import param_docs

    doc = """Intro.

    Arguments:
        model (nn.Module): model to attack.
        eps (float): maximum perturbation. (Default: 8/255)
        x_dims (int or float): size along x,
        continued at the same indent. (Default: (2, 10))
        len_kernel (int): kernel length. (Default: 15, the best according to the paper)

    Shape:
        - images: (N, C, H, W)
    """
    assert param_docs(doc) == {"model": "model to attack.", "eps": "maximum perturbation.",
                               "x_dims": "size along x, continued at the same indent.",
                               "len_kernel": "kernel length. (Default: 15, the best according to the paper)"}


def _listed(cli) -> dict:
    out = cli("list", "attacks", "--json")
    assert out.code == 0, out.stderr
    return {e["name"]: e for e in json.loads(out.stdout)["attacks"]}


def test_torchattacks_pgd_shows_defaults_as_written_and_documented_parameters(cli):
    pgd = _listed(cli)["torchattacks.pgd"]
    params = {p["name"]: p for p in pgd["parameters"]}
    assert params["eps"]["default_text"] == "8/255" and params["eps"]["default"] == pytest.approx(8 / 255)
    assert params["eps"]["description"] == "maximum perturbation."
    assert params["random_start"]["description"] == "using random initialization of delta."
    assert "[https://arxiv.org/abs/1706.06083]" in pgd["description"]  # the paragraph's second line
    table = cli("list", "attacks").stdout
    assert "eps=8/255" in table and "0.0313" not in table


def test_art_parameters_have_their_param_descriptions(cli):
    listed = _listed(cli)
    pgd = {p["name"]: p for p in listed["art.pgd"]["parameters"]}
    assert pgd["eps"]["description"] == "Maximum perturbation that the attacker can introduce."
    assert pgd["num_random_init"]["description"] == ("Number of random initialisations within the epsilon ball. "
                                                      "For num_random_init=0 starting at the original input.")
    assert "projected on a lp-ball of specified radius" in listed["art.pgd"]["description"]


def test_one_attack_in_detail(cli):
    out = cli("list", "attacks", "torchattacks.pgd")
    assert out.code == 0, out.stderr
    assert "eps (float, default 8/255)" in out.stdout and "maximum perturbation." in out.stdout
    assert "[https://arxiv.org/abs/1706.06083]" in out.stdout
    single = json.loads(cli("list", "attacks", "pgd", "--json").stdout)
    assert single["name"] == "torchattacks.pgd"
    bad = cli("list", "attacks", "no-such-attack")
    assert bad.code != 0 and "unknown attack" in bad.stderr
