"""Every public function and class of signlab and signbook is used by a chapter or a test, and
documented; the optimizers import no plotting or symbolic libraries."""

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

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


def corpus():
    texts = [p.read_text() for p in (ROOT / "tests").glob("*.py")]
    texts += [p.read_text() for p in (ROOT / "book").glob("*.ipynb")]
    texts += [p.read_text() for p in (ROOT / "benchmarks").glob("*.py")]
    texts += [p.read_text() for p in (ROOT / "tools").glob("*.py")]
    return "\n".join(texts)


def test_every_public_object_is_used_by_the_book_or_a_test():
    text = corpus()
    sphinx_hooks = {("signbook.sphinxext", "PlotlyRenderer")}
    unused = [
        f"{mod}.{name}"
        for mod, name, obj in public_objects()
        if (mod, name) not in sphinx_hooks
        and not re.search(rf"\b{re.escape(name)}\b", text)
        and not _is_chapter_answer_key(mod)
    ]
    assert not unused, f"public but never used by a chapter or a test: {unused}"


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


def test_importing_the_optimizers_loads_no_plotting_symbolic_or_widget_library():
    code = (
        "import sys, signlab.optim; "
        "print(sorted(m for m in ('plotly', 'sympy', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
