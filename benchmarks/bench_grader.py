"""How long the grader takes for a class: N copies of a chapter's submission, serial vs ``--jobs``.

    python benchmarks/bench_grader.py [--copies 40] [--jobs 2] [--chapter geometry]

Each copy is the chapter's student release (``signbook.edition``, as students receive it) with every
answer cell filled with the book's solution value, so the whole chapter runs and every exercise
scores. The class is graded twice in this process, into fresh folders: one submission at a time
(the reference), then ``--jobs`` at a time; then a few copies without the sandbox, for its cost.
The script prints seconds per submission, the speed-up, the load average before and after, and
checks that every copy scored full marks in every run. Each kernel gets ``cores / jobs`` math
threads (``signbook.grading.run.threads_per_job``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from signbook.edition import EDITIONS, Book
from signbook.grading import assignment
from signbook.grading.grade import Outputs, Settings, grade
from signbook.grading.hidden import HiddenChecks

ROOT = Path(__file__).resolve().parents[1]

SOLUTIONS = {
    "ex-geometry-1": "8",
    "ex-geometry-2": "0.3",
    "ex-geometry-3": "(8, 5)",
    "ex-geometry-4": "[-1.75, 1.75, -1.75]",
    "ex-geometry-5": "[1, -1, 1, 1]",
}
"""The geometry chapter's answers (its solutions' values), as a student would type them."""


def submission(chapter: str) -> nbformat.NotebookNode:
    """The chapter's student release with every answer cell answered."""
    book = Book(ROOT)
    page = next(c for c in book.project.notebooks() if c.name == chapter)
    nb = book.notebook(page, EDITIONS["student"])
    for cell in nb.cells:
        m = re.search(r"""check\(\s*["'](ex-[\w-]+)["']""", cell.source)
        if cell.cell_type == "code" and m and m[1] in SOLUTIONS:
            cell.source = re.sub(r"answer = \.\.\.", f"answer = {SOLUTIONS[m[1]]}", cell.source)
    return nb


def timed(paths: list[Path], out: Path, settings: Settings) -> tuple[float, list]:
    start = time.perf_counter()
    rows = grade(paths, Outputs(out / "grades.csv"), settings, log=lambda line: None)
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chapter", default="geometry")
    parser.add_argument("--plain", type=int, default=4, help="copies graded without the sandbox")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--threads", type=int, help="math threads per kernel (cores / jobs)")
    args = parser.parse_args()
    task = assignment.from_book(ROOT, args.chapter)
    nb = submission(args.chapter)
    work = Path(tempfile.mkdtemp(prefix="signbook-bench-"))
    try:
        subs = work / "subs"
        subs.mkdir()
        paths = []
        for k in range(args.copies):
            path = subs / f"student_{k:03d}.ipynb"
            nbformat.write(nb, path)
            paths.append(path)
        load = [os.getloadavg()[0]]
        runs = {}
        for name, jobs, sandbox, some in [
            ("serial", 1, True, paths),
            (f"jobs {args.jobs}", args.jobs, True, paths),
            ("serial, no sandbox", 1, False, paths[: args.plain]),
        ]:
            settings = Settings(
                task,
                HiddenChecks(),
                timeout=args.timeout,
                jobs=jobs,
                sandbox=sandbox,
                threads=args.threads,
            )
            seconds, rows = timed(some, work / name.replace(" ", "-"), settings)
            full = all(r.points == r.max_points for r in rows) and len(rows) == len(some) * len(
                task.labels
            )
            runs[name] = {"seconds": seconds, "copies": len(some), "all_full_marks": full}
            load.append(os.getloadavg()[0])
            print(
                f"{name:>20}: {seconds:7.1f} s for {len(some)} = "
                f"{seconds / len(some):5.2f} s per submission; all full marks: {full}",
                flush=True,
            )
        serial = runs["serial"]["seconds"] / runs["serial"]["copies"]
        parallel = runs[f"jobs {args.jobs}"]["seconds"] / args.copies
        plain = runs["serial, no sandbox"]["seconds"] / args.plain
        print(f"speed-up with --jobs {args.jobs}: {serial / parallel:.2f}x")
        print(f"sandbox cost, serial: {serial / plain:.2f}x of a run without it")
        print(f"load average (1 min) before and after each run: {[round(x, 2) for x in load]}")
        print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
        if args.json:
            args.json.write_text(json.dumps({"runs": runs, "load": load}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
