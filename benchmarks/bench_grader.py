"""How long the grader takes for a class: N copies of a chapter's submission, serial vs ``--jobs``.

    python benchmarks/bench_grader.py [--copies 40] [--jobs 2] [--chapter geometry]
                                      [--rounds 4 --batch 4]

Each copy is the chapter's student release (``signbook.edition``, as students receive it) with every
answer cell filled with the book's solution value, so the whole chapter runs and every exercise
scores. The class is graded twice in this process, into fresh folders: one submission at a time
(the reference), then ``--jobs`` at a time, each kernel with the grader's default math threads
(``signbook.grading.run.THREADS``). The script prints seconds per
submission, the grader's own CPU time per submission, the speed-up, the load average, and checks
that every copy scored full marks.

On a shared machine the load drifts over an hour, so ``--rounds`` also grades ``--batch`` copies in
each way of :data:`MODES` per round, the order turning, and gives each way's time against
``serial``'s in the same round: the median and range of those ratios say how much of the speed-up
is the second job, what a second thread does, and what the sandbox costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
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
    "ex-geometry-6": "40.0",
}
"""The geometry chapter's answers (its solutions' values), as a student would type them."""


def submission(chapter: str) -> nbformat.NotebookNode:
    """The chapter's student release with every answer cell answered (``ValueError`` for an
    exercise :data:`SOLUTIONS` does not know)."""
    book = Book(ROOT)
    page = next(c for c in book.project.notebooks() if c.name == chapter)
    nb = book.notebook(page, EDITIONS["student"])
    for cell in nb.cells:
        m = re.search(r"""check\(\s*["'](ex-[\w-]+)["']""", cell.source)
        if cell.cell_type == "code" and m and m[1] in SOLUTIONS:
            cell.source = re.sub(r"answer = \.\.\.", f"answer = {SOLUTIONS[m[1]]}", cell.source)
        elif cell.cell_type == "code" and m:
            raise ValueError(f"no solution for {m[1]}: add it to SOLUTIONS")
    return nb


def timed(paths: list[Path], out: Path, settings: Settings) -> tuple[float, float, bool]:
    """(seconds, the grader's own CPU seconds, every copy at full marks) of grading ``paths``."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    rows = grade(paths, Outputs(out / "grades.csv"), settings, log=lambda line: None)
    used = resource.getrusage(resource.RUSAGE_SELF)
    own = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    full = len(rows) == len(paths) * len(settings.assignment.labels)
    return time.perf_counter() - start, own, full and all(r.points == r.max_points for r in rows)


MODES = {
    "serial": {"jobs": 1},
    "serial, 2 threads": {"jobs": 1, "threads": 2},
    "jobs 2": {"jobs": 2},
    "serial, no sandbox": {"jobs": 1, "sandbox": False},
}
"""The ways of grading compared in ``--rounds``: each against ``serial`` (one submission at a
time, the default threads), in the same round."""


def copies(nb: nbformat.NotebookNode, folder: Path, n: int) -> list[Path]:
    """``n`` copies of ``nb`` in ``folder``, one file a student."""
    folder.mkdir(parents=True)
    paths = [folder / f"student_{k:03d}.ipynb" for k in range(n)]
    for path in paths:
        nbformat.write(nb, path)
    return paths


def one_run_each(task, nb, work: Path, args) -> dict:
    """The class of ``--copies`` graded once one at a time, once ``--jobs`` at a time."""
    paths = copies(nb, work / "subs", args.copies)
    found = {}
    for name, jobs in [("serial", 1), (f"jobs {args.jobs}", args.jobs)]:
        settings = Settings(task, HiddenChecks(), timeout=args.timeout, jobs=jobs)
        load = os.getloadavg()[0]
        seconds, own, full = timed(paths, work / name.replace(" ", "-"), settings)
        found[name] = {"seconds": seconds, "grader_cpu": own, "copies": len(paths)}
        found[name] |= {"all_full_marks": full, "load": [load, os.getloadavg()[0]]}
        print(
            f"{name:>10}: {seconds:7.1f} s for {len(paths)} = {seconds / len(paths):5.2f} s a "
            f"submission (grader's own CPU {own / len(paths):.2f} s); full marks: {full}; "
            f"load {load:.1f} -> {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    first, second = (found[k]["seconds"] for k in found)
    print(f"speed-up with --jobs {args.jobs}: {first / second:.2f}x")
    return found


def rounds(task, nb, work: Path, args) -> dict:
    """Every mode of :data:`MODES` on ``--batch`` copies per round, the order turning each round;
    each mode's time against ``serial``'s in the same round."""
    paths = copies(nb, work / "batch", args.batch)
    names = args.modes.split(",")
    unknown = set(names) - set(MODES) | ({"serial"} - set(names))
    if unknown:
        raise SystemExit(f"--modes: serial and some of {', '.join(MODES)} (not {unknown})")
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            settings = Settings(task, HiddenChecks(), timeout=args.timeout, **MODES[name])
            out = work / f"round{r}-{name.replace(' ', '-').replace(',', '')}"
            seconds, _, full = timed(paths, out, settings)
            assert full, f"{name}: not every copy scored full marks"
            times[name].append(seconds)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f} s" for k, v in times.items()))
    for name, values in times.items():
        ratios = sorted(s / t for s, t in zip(times["serial"], values))
        print(
            f"{name:>20}: {sum(values) / (len(values) * args.batch):5.2f} s a submission; "
            f"serial / this: median {statistics.median(ratios):.2f} "
            f"({ratios[0]:.2f}-{ratios[-1]:.2f} over {len(ratios)} rounds)"
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--chapter", default="geometry")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--rounds", type=int, default=0, help="also: MODES in interleaved rounds")
    parser.add_argument("--batch", type=int, default=4, help="copies per mode and round")
    parser.add_argument("--modes", default=",".join(MODES), help="the MODES compared, by name")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    task = assignment.from_book(ROOT, args.chapter)
    nb = submission(args.chapter)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", flush=True)
    work = Path(tempfile.mkdtemp(prefix="signbook-bench-"))
    try:
        found = {"one_run_each": one_run_each(task, nb, work, args) if args.copies else None}
        if args.rounds:
            found["rounds"] = rounds(task, nb, work, args)
        if args.json:
            args.json.write_text(json.dumps(found, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
