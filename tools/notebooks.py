"""Keep the book's notebooks in their committed form, and run one as the build does.

    python tools/notebooks.py sync            # write the Colab cell, strip outputs (all chapters)
    python tools/notebooks.py check           # exit 1 if any notebook is out of sync (used by tests)
    python tools/notebooks.py run book/x.ipynb  # execute one chapter like the build, report its time

The Colab cell is generated from ``repository.url`` in ``_config.yml``: that URL is the only place the
project's address is written, so a fork changes it there and runs ``sync``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml

from signbook.edition import install_source

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
COLAB_TAG = "colab-setup"


def repository_url() -> str:
    """The project's repository URL, read from ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url = config["repository"]["url"].rstrip("/")
    if not url.startswith("https://"):
        raise ValueError(f"repository.url in _config.yml must be an https URL (got {url!r})")
    return url


def colab_cell() -> nbformat.NotebookNode:
    """The first cell every chapter notebook must have."""
    cell = nbformat.v4.new_code_cell(install_source(repository_url(), "main"))
    cell.metadata["tags"] = ["remove-cell", COLAB_TAG]
    return cell


def chapters() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def normalized(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with the Colab cell first, no outputs, no execution counts and no cell ids churn."""
    cells = [c for c in nb.cells if COLAB_TAG not in c.get("metadata", {}).get("tags", [])]
    new = nbformat.v4.new_notebook()
    new.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    first = colab_cell()
    for cell in [first, *cells]:
        cell = nbformat.from_dict(dict(cell))
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata = {k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)}
        cell.pop("id", None)
        new.cells.append(cell)
    for i, cell in enumerate(new.cells):
        cell["id"] = f"cell-{i}"
    return new


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def sync(paths: list[Path]) -> int:
    for path in paths:
        text = dumps(normalized(nbformat.read(path, as_version=4)))
        if path.read_text() != text:
            path.write_text(text)
            print(f"synced {path}")
    return 0


def check(paths: list[Path]) -> int:
    bad = [p for p in paths if p.read_text() != dumps(normalized(nbformat.read(p, as_version=4)))]
    for path in bad:
        print(f"out of sync (run `python tools/notebooks.py sync`): {path}")
    return 1 if bad else 0


def run(path: Path, timeout: int = 300) -> int:
    from signbook.execute import notebook_client

    nb = nbformat.read(path, as_version=4)
    os.environ["SIGNLAB_STATIC_BUILD"] = "1"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory():
        client = notebook_client(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}}
        )
        client.execute()
    print(f"{path} executed in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["sync", "check", "run"])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all chapters)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.paths] or chapters()
    if args.command == "run":
        return max((run(p) for p in paths), default=0)
    return {"sync": sync, "check": check}[args.command](paths)


if __name__ == "__main__":
    sys.exit(main())
