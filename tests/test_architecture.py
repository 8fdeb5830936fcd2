"""The package's shape: every module imports on its own, no import cycles, imports run one way between layers."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "advkit"

# Sub-packages from the bottom up: a module may import its own layer and the layers below, never above.
LAYERS = [
    {"errors", "seeding", "distributed"},
    {"plugins"},
    {"reporting"},
    {"models", "data"},
    {"attacks"},
    {"training", "evaluation"},
    {"research"},
    {"workflows"},
    {"cli", "testing", "__main__"},
]


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known) -> set[str]:
    """advkit modules that `name` imports anywhere (module level or inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != name}


def graph(known=None) -> dict[str, set[str]]:
    known = known or modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layer(module: str) -> int | None:
    top = module.split(".")[1] if "." in module else None
    return next((i for i, names in enumerate(LAYERS) if top in names), None)


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_inside_advkit():
    assert cycles(graph()) == []


def test_imports_run_one_way_between_layers():
    wrong = []
    for module, deps in graph().items():
        mine = layer(module)
        if mine is None:
            continue
        wrong += [f"{module} -> {dep}" for dep in deps if layer(dep) is not None and layer(dep) > mine]
    assert wrong == []


def test_every_subpackage_has_a_layer():
    tops = {p.name if p.is_dir() else p.stem for p in ROOT.iterdir() if not p.name.startswith("_")}
    assert tops - {"__pycache__"} == set().union(*LAYERS) - {"__main__"}


@pytest.mark.parametrize("package", sorted({m.split(".")[1] for m in modules() if "." in m} - {"__main__"}))
def test_every_module_imports_on_its_own(package):
    names = sorted(m for m in modules() if m.split(".")[1:2] == [package])
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'advkit' or m.startswith('advkit.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Constructor-parameter names of wrapped libraries: the core reads an attack's declared capabilities
# (`Attack.budget_param`, `step_param`, `iterations_param`, `norm_param`) instead of naming them.
LIBRARY_PARAMETERS = {"n_classes", "nb_classes", "alpha", "eps_step", "max_iter"}
CORE = ("attacks", "evaluation", "training")


def special_cases(path: Path) -> list[str]:
    """Library parameter names as string literals in `path`, outside docstrings and dict-literal keys
    (name tables such as `QUICK_PARAMS`), and `"norm"` tested for membership (`"norm" in schema`)."""
    tree = ast.parse(path.read_text())
    exempt = {id(k) for n in ast.walk(tree) if isinstance(n, ast.Dict) for k in n.keys if k is not None}
    exempt |= {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    found = [f"{path.name}:{n.lineno}: {n.value!r}" for n in ast.walk(tree)
             if isinstance(n, ast.Constant) and n.value in LIBRARY_PARAMETERS and id(n) not in exempt]
    found += [f"{path.name}:{n.lineno}: 'norm' in ..." for n in ast.walk(tree)
              if isinstance(n, ast.Compare) and isinstance(n.left, ast.Constant) and n.left.value == "norm"
              and any(isinstance(op, (ast.In, ast.NotIn)) for op in n.ops)]
    return found


def test_the_core_names_no_library_parameter():
    found = [hit for package in CORE for path in sorted((ROOT / package).glob("*.py")) for hit in special_cases(path)]
    assert not found, f"library parameter names special-cased in the core: {found}"


def test_the_special_case_finder_finds_one(tmp_path):
    source = tmp_path / "suite.py"
    source.write_text('"""alpha in a docstring is fine."""\nQUICK = {"max_iter": 3}\n'
                      'if "alpha" in schema:\n    params["n_classes"] = 10\nif "norm" in schema:\n    pass\n')
    assert special_cases(source) == ["suite.py:3: 'alpha'", "suite.py:4: 'n_classes'", "suite.py:5: 'norm' in ..."]
