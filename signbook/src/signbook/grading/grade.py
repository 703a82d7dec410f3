"""A class's submissions: each run in its sandbox, ``jobs`` at a time, judged as it finishes.

:func:`grade` is what ``python -m signbook.course grade`` runs. Before anything runs it refuses what
cannot be graded fairly: two submissions claiming one student, an assignment with an exercise worth
nothing or a public check that does not exist, a sandbox that would show the hidden checks or the
grades, a sandbox that does not start. Then every submission that is new or changed since the last
run (or named by ``only``, or all with ``rerun``) runs in its own sandbox, and every stored run is
judged in this process with the current checks; the files are rewritten after each student
(:mod:`signbook.grading.results`).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypedDict

import nbformat

from signbook.checks import exercises
from signbook.grading import exports, judge
from signbook.grading.assignment import Assignment
from signbook.grading.hidden import REGISTRY, HiddenChecks
from signbook.grading.judge import Row
from signbook.grading.results import (
    Result,
    Store,
    Total,
    feedback_text,
    grades_csv,
    late_hours,
    mtime,
    sha256,
    totals_csv,
    write_atomic,
)
from signbook.grading.run import THREADS, RunReport, run_submission
from signbook.grading.students import Roster, identify, slug
from signbook.sandbox import GiB, Limits, MiB, Sandbox, SandboxError, exposed, python_paths

WARNING = """
*** --no-sandbox: SUBMISSIONS RUN WITH YOUR POWERS ***
Each notebook runs as {user}, with your files, your network and your processes in reach. It can
read your hidden checks, the grades and the other submissions, change or delete them, kill this
grader, and leave programs running after it. Only the limits (memory, CPU time, file size, disk,
wall-clock time) still apply. Use --no-sandbox only for notebooks you trust, such as your own.
"""


@dataclass
class Settings:
    """How to grade: the assignment, the checks, the sandbox and the course's files.

    ``limits`` None: the defaults of :class:`signbook.sandbox.Limits`, with a CPU-time limit of
    the timeout times each kernel's threads (plus a minute). ``python``: the kernels' Python
    (default: this one). ``roster``, ``lms`` (a format of :mod:`signbook.grading.exports`) and
    ``deadline`` shape the totals; ``only`` and ``rerun`` choose what runs again. ``threads``: the
    math libraries' threads in each kernel (:data:`signbook.grading.run.THREADS`).
    """

    assignment: Assignment
    hidden: HiddenChecks = field(default_factory=lambda: REGISTRY)
    timeout: float = 300
    jobs: int = 1
    limits: Limits | None = None
    sandbox: bool = True
    python: str | None = None
    roster: Roster | None = None
    lms: str | None = None
    deadline: datetime | None = None
    only: list[str] = field(default_factory=list)
    rerun: bool = False
    threads: int = THREADS

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive (got {self.timeout!r})")
        if not isinstance(self.jobs, int) or self.jobs < 1:
            raise ValueError(f"jobs must be a positive integer (got {self.jobs!r})")
        if self.lms is not None and self.lms not in exports.FORMATS:
            raise ValueError(f"lms must be one of {', '.join(exports.FORMATS)} (got {self.lms!r})")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be a positive integer (got {self.threads!r})")
        if self.limits is None:
            cpu = math.ceil(self.timeout * self.threads) + 60
            self.limits = Limits(cpu_seconds=cpu)

    def _limits(self) -> Limits:
        """``limits``, which ``__post_init__`` set when it was None."""
        if self.limits is None:
            raise ValueError("limits must be set (a Settings sets them when it is made)")
        return self.limits

    def limit_texts(self) -> dict[str, str]:
        """The limits as the messages say them (``4 GiB``, ``300 s``)."""
        limits = self._limits()
        return {
            "memory": _size_text(limits.memory),
            "disk": _size_text(limits.disk),
            "time": f"{self.timeout:g} s",
            "processes": str(limits.processes),
            "cpu": f"{limits.cpu_seconds} s",
        }


def _size_text(n: int) -> str:
    """``n`` bytes as ``4 GiB`` or ``512 MiB``."""
    return f"{n / GiB:g} GiB" if n >= GiB else f"{n / MiB:g} MiB"


@dataclass
class Outputs:
    """The files of a grading run, all beside ``out`` (the per-exercise CSV) unless told."""

    out: Path
    feedback: Path | None = None

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.feedback = Path(self.feedback) if self.feedback else self.out.parent / "feedback"

    @property
    def store(self) -> Path:
        """The per-student results: ``grades.runs/``."""
        return self.out.with_name(self.out.stem + ".runs")

    @property
    def totals(self) -> Path:
        """One line per student: ``grades-totals.csv``."""
        return self.out.with_name(self.out.stem + "-totals.csv")

    def lms(self, kind: str) -> Path:
        """The learning platform's import file: ``grades-canvas.csv``."""
        return self.out.with_name(f"{self.out.stem}-{kind}.csv")

    def _feedback(self) -> Path:
        """``feedback``, which ``__post_init__`` set when it was None."""
        if self.feedback is None:
            raise ValueError("feedback must be set (an Outputs sets it when it is made)")
        return self.feedback

    def secrets(self) -> list[Path]:
        """What a sandbox must never see of these outputs."""
        return [self.out.parent, self._feedback(), self.store]


def _make_sandbox(settings: Settings, secrets: list[Path]) -> Sandbox:
    """The sandbox of this grading run, checked: it hides ``secrets`` and it starts."""
    python = settings.python or sys.executable
    visible = python_paths(sys.executable)
    if python != sys.executable:
        visible += python_paths(python)
    sandbox = Sandbox(visible, settings._limits(), isolate=settings.sandbox)
    if settings.sandbox:
        from signbook.sandbox import SYSTEM

        shown = exposed(secrets, [*sandbox.visible, *map(Path, SYSTEM)])
        if shown:
            lines = "\n".join(f"  {s} is inside {v}" for s, v in shown)
            raise SandboxError(
                "the sandbox would show what it must hide (move these out of the Python "
                f"environment's folders):\n{lines}"
            )
    sandbox.probe(python)
    return sandbox


def _read(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None) or (None, why it is not a readable notebook).

    The notebook graded is made anew from the submission's cells, each its type and its source,
    without outputs or metadata: a notebook that fails nbformat's schema only in details (a
    missing ``metadata``, an odd output) is graded, as a student must not score zero because an
    editor wrote the file loosely, and the runner reads a valid notebook.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
        if not isinstance(data, dict):
            return None, "it is not a JSON object"
        nb = nbformat.from_dict(data) if data.get("nbformat") == 4 else nbformat.reads(text, 4)
    except Exception as err:
        text = str(err).strip()
        return None, (text.splitlines()[0][:200] if text else type(err).__name__)
    cells = nb.get("cells")
    if not isinstance(cells, list):
        return None, "it has no list of cells"
    make = {
        "code": nbformat.v4.new_code_cell,
        "markdown": nbformat.v4.new_markdown_cell,
        "raw": nbformat.v4.new_raw_cell,
    }
    clean = nbformat.v4.new_notebook()
    for k, cell in enumerate(cells):
        kind = cell.get("cell_type") if isinstance(cell, dict) else None
        source = cell.get("source") if isinstance(cell, dict) else None
        if isinstance(source, list):
            source = "".join(map(str, source))
        if kind not in make:
            return None, f"cell {k + 1} has no known cell type"
        if not isinstance(source, str):
            return None, f"cell {k + 1} has no source text"
        clean.cells.append(make[kind](source))
    return clean, None


class _Submission(TypedDict):
    """The fields of a :class:`Result` that say which submission it is."""

    student: str
    file: str
    sha256: str
    submitted: str


def _run_one(path: Path, student: str, sandbox: Sandbox, settings: Settings) -> Result:
    """Run the submission at ``path`` in ``sandbox``; its :class:`Result` (not yet judged)."""
    base = _Submission(student=student, file=str(path), sha256=sha256(path), submitted=mtime(path))
    nb, reason = _read(path)
    if nb is None:
        return Result(**base, unreadable=reason)
    sources = [c.source if c.cell_type == "code" else None for c in nb.cells]
    report = run_submission(
        nb,
        sandbox,
        timeout=settings.timeout,
        python=settings.python,
        threads=settings.threads,
    )
    return Result(**base, sources=sources, report=report)


class _Judge:
    """Judges stored results with the current checks; the same answer is judged once per run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache: dict[tuple, tuple] = {}

    def grade_answer(self, label: str, answer, public_points: float, hidden: HiddenChecks):
        """:func:`signbook.grading.judge.grade_answer`, once per distinct answer."""
        key = (label, json.dumps(answer, sort_keys=True), public_points)
        if key not in self.cache:
            self.cache[key] = judge.grade_answer(label, answer, public_points, hidden)
        return self.cache[key]

    def rows(self, result: Result) -> list[Row]:
        """The rows of ``result``: one per exercise of the assignment."""
        s = self.settings
        if result.report is None:
            return judge.unreadable(result.student, s.assignment, s.hidden, result.unreadable)
        return judge.rows(
            result.student,
            s.assignment,
            s.hidden,
            result.report,
            result.sources,
            s.limit_texts(),
            grade_answer=self.grade_answer,
        )

    def status(self, result: Result) -> str:
        """How the run went, as the end of "Your notebook ..." (``ok`` when all went well)."""
        if result.report is None:
            return f"is not a readable notebook ({result.unreadable})"
        return judge.status(result.report, result.sources, self.settings.limit_texts())

    def total(self, result: Result, rows: list[Row]) -> Total:
        """The totals line of ``result``."""
        report: RunReport | None = result.report
        return Total(
            student=result.student,
            points=sum(r.points for r in rows),
            max_points=sum(r.max_points for r in rows),
            status=self.status(result),
            submitted=result.submitted,
            late_hours=late_hours(result.submitted, self.settings.deadline),
            file=result.file,
            run_seconds=report.seconds if report else None,
            graded_at=result.graded_at,
        )


def _plan(
    ids: dict[Path, str], store: Store, settings: Settings
) -> tuple[list[Path], dict[str, Result]]:
    """(submissions to run, stored results to reuse)."""
    unknown = sorted(set(settings.only) - set(ids.values()))
    if unknown:
        raise ValueError(f"--only names no submission given: {', '.join(unknown)}")
    todo, kept = [], {r.student: r for r in store.all()}
    for path, student in ids.items():
        stored = kept.get(student)
        if settings.only:
            if student in settings.only:
                todo.append(path)
        elif settings.rerun or stored is None or stored.sha256 != sha256(path):
            todo.append(path)
    return todo, kept


class _Writer:
    """Rewrites the class's files from the results so far (each file whole at every moment)."""

    def __init__(self, outputs: Outputs, settings: Settings, judge_: _Judge) -> None:
        self.outputs, self.settings, self.judge = outputs, settings, judge_
        self.rows: dict[str, list[Row]] = {}
        self.totals: dict[str, Total] = {}

    def add(self, result: Result) -> Total:
        """Judge ``result``, write its feedback and every class file; its total."""
        rows = self.judge.rows(result)
        total = self.judge.total(result, rows)
        self.rows[result.student], self.totals[result.student] = rows, total
        status = total.status
        write_atomic(
            self.outputs._feedback() / f"{slug(result.student)}.md",
            feedback_text(result.student, rows, status),
        )
        return total

    def write(self) -> None:
        """Write the per-exercise CSV, the totals and the platform's file."""
        students = sorted(self.rows)
        every = [r for s in students for r in self.rows[s]]
        write_atomic(self.outputs.out, grades_csv(every))
        totals = [self.totals[s] for s in students]
        roster = self.settings.roster
        if roster is not None:
            most = sum(self.settings.assignment.max_points(label, self.settings.hidden)
                       for label in self.settings.assignment.labels)  # fmt: skip
            for row in roster.rows:
                if row["student"] not in self.totals:
                    totals.append(Total(row["student"], None, most, "no submission"))
        write_atomic(self.outputs.totals, totals_csv(totals))
        if self.settings.lms:
            text = exports.export(self.settings.lms, totals, roster, self.settings.assignment.name)
            write_atomic(self.outputs.lms(self.settings.lms), text)


def grade(
    paths: list[Path],
    outputs: Outputs,
    settings: Settings,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Grade the submissions at ``paths`` into ``outputs``; returns every row written.

    Raises ``ValueError`` (or :class:`SandboxError`) before running anything when the run cannot
    be fair; a submission whose sandbox fails later is reported and left ungraded (its stored
    result, if any, kept), and the others go on.
    """
    paths = [Path(p) for p in paths]
    problems = settings.assignment.problems(settings.hidden, set(exercises()))
    if problems:
        raise ValueError("the assignment cannot be graded:\n  " + "\n  ".join(problems))
    ids = identify(paths, settings.roster)
    store = Store(outputs.store)
    todo, kept = _plan(ids, store, settings)
    secrets = [*paths, *outputs.secrets(), Path.cwd()]
    secrets += [Path(c.source) for cs in settings.hidden.checks.values() for c in cs if c.source]
    if not settings.sandbox:
        log(WARNING.format(user=f"uid {os.getuid()}"))
    sandbox = _make_sandbox(settings, secrets) if todo else None
    writer = _Writer(outputs, settings, _Judge(settings))
    for result in kept.values():
        writer.add(result)
    writer.write()
    rerun = {ids[path] for path in todo}
    log(
        f"{len(todo)} to run ({settings.jobs} at a time), "
        f"{len(set(kept) - rerun)} kept from {outputs.store}"
    )
    failed = _run_all(todo, ids, sandbox, settings, store, writer, log)
    if failed:
        log(f"{len(failed)} submission(s) could not be run: {', '.join(failed)}; rerun to retry")
    return [r for s in sorted(writer.rows) for r in writer.rows[s]]


def _run_all(todo, ids, sandbox, settings, store, writer, log) -> list[str]:
    failed: list[str] = []
    if not todo:
        return failed
    with ThreadPoolExecutor(max_workers=settings.jobs) as pool:
        futures = {pool.submit(_run_one, p, ids[p], sandbox, settings): p for p in todo}
        try:
            for future in as_completed(futures):
                path = futures[future]
                try:
                    result = future.result()
                except SandboxError as err:
                    failed.append(ids[path])
                    log(f"{path}: NOT GRADED, the sandbox failed: {err}")
                    continue
                except Exception as err:  # the grader's own fault: say so, and go on
                    failed.append(ids[path])
                    log(f"{path}: NOT GRADED, grader error: {type(err).__name__}: {err}")
                    continue
                store.save(result)
                total = writer.add(result)
                writer.write()
                seconds = result.report.seconds if result.report else 0.0
                log(
                    f"{result.student}: {total.points:g} / {total.max_points:g}"
                    f" ({total.status}; {seconds:.1f} s)"
                )
        except BaseException:
            sandbox.cancelled.set()  # kill every sandbox still running, then stop
            pool.shutdown(cancel_futures=True)
            raise
    return failed
