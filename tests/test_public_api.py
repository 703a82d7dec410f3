"""Every public function and class of signlab and signbook is used by a chapter or a test, and
documented; the optimizers import no plotting or symbolic libraries."""

import ast
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import signbook
import signlab

ROOT = Path(__file__).resolve().parents[1]
SKIP_MODULES = {"signlab.gpt.__main__"}


def public_objects():
    infos = [
        *pkgutil.walk_packages(signlab.__path__, "signlab."),
        *pkgutil.walk_packages(signbook.__path__, "signbook."),
    ]
    for info in infos:
        if info.name in SKIP_MODULES or any(p.startswith("_") for p in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if obj.__module__ == info.name:
                yield info.name, name, obj


def code_sources() -> list[tuple[str, str]]:
    """(where, Python source) of the code that may use the API: the chapters' code cells, the tests,
    benchmarks and tools. Markdown cells, comments, docstrings and other strings are not code."""
    sources = []
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for k, cell in enumerate(json.loads(nb.read_text())["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                # IPython line magics and shell escapes (%pip, !nvidia-smi) are not Python
                source = re.sub(r"(?m)^\s*[%!].*$", "", source)
                sources.append((f"{nb.name} cell {k}", source))
    for folder in ("tests", "benchmarks", "tools"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "fixtures" not in path.parts:
                sources.append((str(path.relative_to(ROOT)), path.read_text()))
    return sources


BY_NAME = {"getattr", "setattr", "hasattr", "delattr"}
"""Calls that reach an attribute by its name as a string (``monkeypatch.setattr(mod, "f", …)``)."""


def used_names(source: str) -> set[str]:
    """Names that ``source`` uses as code: ``name`` (a call ``name(…)``, a value), ``.name``
    (attribute or method), ``import name`` / ``from … import name`` (and the modules imported),
    and the name strings given to getattr/setattr/hasattr/delattr (monkeypatch's included)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
            names.add(node.asname or node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(node.module.split("."))
        elif isinstance(node, ast.Call) and _callee(node) in BY_NAME:
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.update(arg.value.split("."))
    return names


def _callee(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def test_used_names_come_from_code_only():
    source = dedent(
        '''
        """GridOracle in a docstring."""
        # save in a comment
        from signlab.gpt import checkpoint as ck
        ck.load("run.pt")  # a call of load
        x = "MLP in a string"
        print(f"{x} Exercise", sorted(["run_point"]))
        monkeypatch.setattr(ck, "rng_state", None)
        monkeypatch.setattr("signlab.gpt.train.cpu_threads", None)
        '''
    )
    names = used_names(source)
    assert {"signlab", "gpt", "checkpoint", "ck", "load", "x", "print"} <= names
    assert {"rng_state", "train", "cpu_threads"} <= names
    assert not {"GridOracle", "save", "MLP", "Exercise", "run_point"} & names


def test_every_code_cell_of_the_book_parses():
    """used_names must see every chapter's code (a cell that does not parse would hide its uses)."""
    for where, source in code_sources():
        try:
            ast.parse(source)
        except SyntaxError as err:
            raise AssertionError(f"{where} does not parse: {err}") from None


def test_every_public_object_is_used_by_the_book_or_a_test():
    used = set().union(*(used_names(source) for _, source in code_sources()))
    sphinx_hooks = {("signbook.sphinxext", "PlotlyRenderer")}
    unused = [
        f"{mod}.{name}"
        for mod, name, obj in public_objects()
        if (mod, name) not in sphinx_hooks and name not in used and not _is_chapter_answer_key(mod)
    ]
    assert not unused, f"public but never used by a chapter's code or a test: {unused}"


def _is_chapter_answer_key(module: str) -> bool:
    """Checker modules (signbook.checks.<chapter>) are exercised through check() in test_exercises."""
    return module.startswith("signbook.checks.")


def test_every_public_object_has_a_docstring():
    missing = [
        f"{m}.{n}"
        for m, n, obj in public_objects()
        if not (obj.__doc__ or "").strip() and not _is_chapter_answer_key(m)
    ]
    assert not missing, f"missing docstrings: {missing}"


def public_methods(cls):
    """(name, docstring) of the public methods and properties defined in ``cls``'s own body.

    A method that overrides one of a base class keeps the base's docstring (``inspect.getdoc``),
    since its contract is the base's (``step``, ``state_dict``, a Sphinx ``run``); ``forward`` is
    the exception: nn.Module's says nothing about what our module computes, so it needs its own.
    """
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        function = member.fget if isinstance(member, property) else member
        if not function.__qualname__.startswith(f"{cls.__qualname__}."):
            continue  # a function stored as a class attribute (a dataclass field's default)
        own = (member.__doc__ or "").strip()
        if name == "forward" or own:
            yield name, own
        else:
            yield name, (inspect.getdoc(getattr(cls, name)) or "").strip()


def test_every_public_method_has_a_docstring():
    missing = [
        f"{m}.{n}.{name}"
        for m, n, obj in public_objects()
        if inspect.isclass(obj) and not _is_chapter_answer_key(m)
        for name, doc in public_methods(obj)
        if not doc
    ]
    assert not missing, f"public methods without a docstring: {missing}"


DOTTED = re.compile(r"\b(?:signlab|signbook)(?:\.[A-Za-z_]\w*)+")
NOT_PYTHON_NAMES = {"signbook.exercises", "signbook.css"}
"""Dotted words in docstrings that are not Python names: the notebook metadata key
``signbook.exercises`` (signbook.course) and the stylesheet file ``signbook.css`` (signbook.sphinxext)."""


def docstrings(module) -> list[str]:
    """The docstrings of a module's source: the module's, and every class's and function's in it."""
    tree = ast.parse(Path(module.__file__).read_text())
    nodes = [tree, *ast.walk(tree)]
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return [ast.get_docstring(n) or "" for n in nodes if isinstance(n, kinds)]


def resolves(dotted: str) -> bool:
    """Whether ``signlab.a.b.c`` names something: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attribute in parts[i:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def test_resolves_can_fail():
    assert resolves("signlab.sim.noise.MatrixGaussian") and resolves("signbook.checks.check")
    assert not resolves("signlab.sim.matrix_noise") and not resolves("signlab.optim.Adam")


def test_every_module_and_name_the_docstrings_mention_exists():
    """A docstring that names ``signlab.x.y`` (or ``signbook.x``) points at something importable."""
    modules = [importlib.import_module(n) for n in ("signlab", "signbook")]
    for package in list(modules):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name not in SKIP_MODULES:
                modules.append(importlib.import_module(info.name))
    stale = sorted(
        {
            (module.__name__, name)
            for module in modules
            for doc in docstrings(module)
            for name in DOTTED.findall(doc)
            if name not in NOT_PYTHON_NAMES and not resolves(name)
        }
    )
    assert not stale, f"docstrings name modules or objects that do not exist: {stale}"


def test_importing_the_optimizers_loads_no_plotting_symbolic_or_widget_library():
    code = (
        "import sys, signlab.optim; "
        "print(sorted(m for m in ('plotly', 'sympy', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
