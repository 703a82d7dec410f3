"""Building a book for the tests: the real one (``tests/browser_site.py``) or a mini book."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).parent / "jupyter-book"


def build(source: Path, output: Path, *extra: str) -> subprocess.CompletedProcess:
    """``jupyter-book build`` with warnings as errors, into ``output`` (never the shared ``_build``)."""
    return subprocess.run(
        [str(JB), "build", str(source), "--path-output", str(output), "-W", "--keep-going", *extra],
        capture_output=True,
        text=True,
        cwd=source,
    )


def book_like(source: Path, target: Path) -> Path:
    """A copy of the mini book ``source`` that builds with the real book's configuration.

    The real ``_config.yml`` (so the checker sees the real extension, stylesheet and scripts), the real
    bibliography and ``node_modules`` (a link) join the mini book's ``_toc.yml`` and pages.
    """
    shutil.copytree(source, target)
    shutil.copy(ROOT / "_config.yml", target / "_config.yml")
    (target / "book").mkdir(exist_ok=True)
    shutil.copy(ROOT / "book" / "references.bib", target / "book" / "references.bib")
    (target / "node_modules").symlink_to(ROOT / "node_modules")
    return target


def toc_pages(root: Path = ROOT) -> list[str]:
    """Every page of a book in table-of-contents order, as paths of the built site (``book/x.html``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return [f"{f}.html" for f in files]
