"""Write the editions of this checkout's book with signbook as it is and as it was at BASE, and compare.

    python tools/compare_editions.py --base main
    python tools/compare_editions.py --base main --executed _build/jupyter_execute

Both generators read the same chapters (this checkout's), so what differs is what the change to
``signbook.edition`` / ``signbook.myst`` changed: the Colab edition and the student release, and with
``--executed`` (a build's executed notebooks) the student website's source. Notebooks are compared
byte for byte; for one that differs, each differing cell is named. Exit status 1 if anything differs.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REF = "compare-editions"  # the install cells' ref: the same text on both sides


def write_editions(source: Path, out: Path, executed: Path | None) -> None:
    """The editions written by the signbook package at ``source`` (its ``src`` folder) into ``out``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    runs = [["colab"], ["student"]]
    if executed is not None:
        runs.append(["student-site", "--executed", str(executed)])
    for edition, *extra in runs:
        command = [sys.executable, "-m", "signbook.edition", edition, "--root", str(ROOT)]
        command += ["--out", str(out / edition), "--ref", REF, *extra]
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)


def signbook_at(base: str, target: Path) -> Path:
    """``signbook/src`` as it is at the git revision ``base``, extracted under ``target``."""
    archive = subprocess.run(
        ["git", "archive", base, "signbook/src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "signbook" / "src"


def cell_differences(old: Path, new: Path) -> list[str]:
    """What differs between two notebooks, cell by cell (and in their metadata)."""
    a, b = nbformat.read(old, as_version=4), nbformat.read(new, as_version=4)
    found = [] if a.metadata == b.metadata else ["notebook metadata"]
    if len(a.cells) != len(b.cells):
        found.append(f"{len(a.cells)} cells before, {len(b.cells)} after")
    for k, (x, y) in enumerate(zip(a.cells, b.cells)):
        if x != y:
            keys = sorted(key for key in {*x, *y} if x.get(key) != y.get(key))
            found.append(f"cell {k} ({x.cell_type}): {', '.join(keys)} differ")
    return found


def compare(old: Path, new: Path) -> list[str]:
    """Every file that differs between the trees ``old`` and ``new`` (links not followed)."""
    faults = []
    files = {
        p.relative_to(tree)
        for tree in (old, new)
        for p in tree.rglob("*")
        if p.is_file() and not p.is_symlink() and "node_modules" not in p.parts
    }
    for rel in sorted(files):
        a, b = old / rel, new / rel
        if not (a.exists() and b.exists()):
            faults.append(f"{rel}: only {'after' if b.exists() else 'before'}")
        elif not filecmp.cmp(a, b, shallow=False):
            details = cell_differences(a, b) if rel.suffix == ".ipynb" else []
            faults.append(f"{rel}: differs" + "".join(f"\n    {d}" for d in details))
    return faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--base", default="main", help="the git revision to compare with")
    parser.add_argument("--executed", type=Path, help="executed notebooks, for the student site")
    args = parser.parse_args(argv)
    executed = args.executed.resolve() if args.executed else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_editions(signbook_at(args.base, tmp / "base"), tmp / "before", executed)
        write_editions(ROOT / "signbook" / "src", tmp / "after", executed)
        faults = compare(tmp / "before", tmp / "after")
        count = sum(1 for p in (tmp / "after").rglob("*.ipynb"))
    summary = f"{count} notebooks compared with {args.base}: {len(faults)} differ"
    print("\n".join([*faults, summary]))
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main())
