"""Keep the book's notebooks in their committed form, and run one as the build does.

    python tools/notebooks.py sync            # write the Colab cell, strip outputs (all chapters)
    python tools/notebooks.py check           # exit 1 if any notebook is out of sync (used by tests)
    python tools/notebooks.py run book/x.ipynb  # execute one chapter like the build, report its time
    python tools/notebooks.py run --keep DIR    # ... and write each executed notebook into DIR
    python tools/notebooks.py compare OLD NEW   # every output of two such runs: same or not, and where

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


def run(path: Path, timeout: int = 300, keep: Path | None = None) -> int:
    """Execute the chapter ``path`` as the website build does (static widgets, working directory
    ``book/``) and print its time; ``keep`` (a folder) receives the executed notebook."""
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
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / path.name)
    return 0


def differences(old, new, rtol: float = 1e-12, where: str = "") -> list[str]:
    """Where two JSON-like values differ: numbers beyond ``rtol`` relative, anything else exactly.

    Plotly figures and widget states are compared this way; text outputs are strings, so exactly.
    """
    if (
        isinstance(old, bool)
        or isinstance(new, bool)
        or not (isinstance(old, (int, float)) and isinstance(new, (int, float)))
    ):
        if type(old) is not type(new):
            return [f"{where}: {type(old).__name__} -> {type(new).__name__}"]
    if isinstance(old, dict):
        keys = sorted(set(old) | set(new))
        return [d for k in keys for d in differences(old.get(k), new.get(k), rtol, f"{where}/{k}")]
    if isinstance(old, list):
        if len(old) != len(new):
            return [f"{where}: length {len(old)} -> {len(new)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(old, new))
            for d in differences(a, b, rtol, f"{where}[{i}]")
        ]
    if isinstance(old, float) or isinstance(new, float):
        if old == new or (old != old and new != new):
            return []
        if abs(old - new) <= rtol * max(abs(old), abs(new)):
            return []
        return [f"{where}: {old!r} -> {new!r}"]
    if isinstance(old, str) and old != new:
        parsed = _json_or_none(old), _json_or_none(new)
        if None not in parsed:
            return differences(*parsed, rtol, where)
        return [f"{where}: text differs\n  - {_first_line_differing(old, new)}"]
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def _json_or_none(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None


def _first_line_differing(old: str, new: str) -> str:
    for a, b in zip(old.splitlines(), new.splitlines()):
        if a != b:
            return f"{a[:200]!r}\n  + {b[:200]!r}"
    return f"{len(old.splitlines())} lines -> {len(new.splitlines())} lines"


def compare(old_dir: Path, new_dir: Path, rtol: float = 1e-12) -> int:
    """Compare the outputs of every notebook executed into ``old_dir`` with the same notebook in
    ``new_dir`` (``run --keep``); print each difference; exit status 1 if any."""
    found = 0
    for old_path in sorted(old_dir.glob("*.ipynb")):
        new_path = new_dir / old_path.name
        if not new_path.exists():
            print(f"{old_path.name}: missing from {new_dir}")
            found += 1
            continue
        old_nb, new_nb = (nbformat.read(p, as_version=4) for p in (old_path, new_path))
        outputs = [
            [[_output_data(o) for o in c.get("outputs", [])] for c in nb.cells]
            for nb in (old_nb, new_nb)
        ]
        diffs = differences(*outputs, rtol, old_path.name)
        count = sum(len(x) for c in outputs[0] for x in c)
        print(f"{old_path.name}: {count} outputs, {len(diffs)} differences")
        for diff in diffs:
            print(f"  {diff}")
        found += len(diffs)
    return 1 if found else 0


def _output_data(output) -> dict:
    """An output's content: stream text, or its data by MIME type (widget model ids are random)."""
    if output.output_type == "stream":
        return {"name": output.name, "text": output.text}
    if output.output_type == "error":
        return {"error": output.ename, "value": output.evalue}
    data = dict(output.get("data", {}))
    data.pop("application/vnd.jupyter.widget-view+json", None)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["sync", "check", "run", "compare"])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: all chapters); compare: OLD NEW"
    )
    parser.add_argument("--keep", type=Path, help="run: write each executed notebook here")
    parser.add_argument(
        "--timeout", type=int, default=300, help="run: seconds per cell (the build's: 300)"
    )
    args = parser.parse_intermixed_args(argv)
    if args.command == "compare":
        if len(args.paths) != 2:
            parser.error("compare takes two folders: OLD NEW")
        return compare(*args.paths)
    paths = [p.resolve() for p in args.paths] or chapters()
    if args.command == "run":
        return max((run(p, args.timeout, args.keep) for p in paths), default=0)
    return {"sync": sync, "check": check}[args.command](paths)


if __name__ == "__main__":
    sys.exit(main())
