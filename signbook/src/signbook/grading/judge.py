"""Points and messages: every judgement, public and hidden, in the grader's own process.

The answers arrive as JSON data from a sandbox that has ended (:mod:`signbook.grading.run`); the
exercises and their points come from the instructor (:mod:`signbook.grading.assignment`). Each
exercise of the assignment gets one :class:`Row`, answered or not, and a message that says what
happened: ``correct``, the check's hint, or why there is no answer, naming the cell and the
exception (``the answer cell (cell 25: answer = f(3)) raised TypeError: ...``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signbook.checks import _Unsupported, from_json, judge
from signbook.grading.assignment import Assignment
from signbook.grading.hidden import HiddenChecks
from signbook.grading.run import RunReport

MEMORY_ERRORS = re.compile(r"allocate memory|out of memory|MemoryError", re.I)


@dataclass
class Row:
    """One line of the grades CSV: a student's points out of ``max_points`` on one exercise."""

    student: str
    exercise: str
    points: float
    max_points: float
    message: str


def grade_answer(label: str, answer: Any, public_points: float, hidden: HiddenChecks) -> tuple:
    """(points, max_points, message) of one answer (JSON data): the public check, worth
    ``public_points`` (not run at 0), then each hidden check of ``label``."""
    max_points = public_points + hidden.points(label)
    answer = from_json(answer)
    if answer is Ellipsis or answer is None:
        return 0.0, max_points, "not answered yet"
    if isinstance(answer, _Unsupported):
        return 0.0, max_points, f"an answer of type {answer.type_name} cannot be graded"
    verdicts: list[tuple[bool, float, str]] = []
    if public_points > 0:
        public = judge(label, answer)
        verdicts.append((public.correct, public_points, public.message))
    for check in hidden.of(label):
        ok, message = check.run(answer)
        verdicts.append((ok, check.points, message))
    points = sum(p for ok, p, _ in verdicts if ok)
    if all(ok for ok, _, _ in verdicts):
        return points, max_points, "correct"
    messages = [m for ok, _, m in verdicts if not ok and m]
    return points, max_points, "; ".join(dict.fromkeys(messages))


def answer_cells(sources: list[str | None]) -> dict[str, int]:
    """The cell that answers each exercise: the last code cell calling ``check("<label>", ...)``.
    ``sources`` holds each cell's source, None for a cell that is not code."""
    found: dict[str, int] = {}
    for index, source in enumerate(sources):
        for m in re.finditer(r"""check\(\s*["'](?P<label>[^"']+)["']""", source or ""):
            found[m["label"]] = index
    return found


def cell_name(index: int, sources: list[str | None]) -> str:
    """``cell 12 (`answer = f(3)`)``: the cell's number, counted from 1 over all cells, and its
    first line (Colab numbers no cells)."""
    lines = (sources[index] or "") if 0 <= index < len(sources) else ""
    first = next((ln.strip() for ln in lines.splitlines() if ln.strip()), "")
    first = first if len(first) <= 40 else first[:39] + "…"
    return f"cell {index + 1} (`{first}`)" if first else f"cell {index + 1}"


def _memory_note(error: dict, memory: str) -> str:
    """``: it hit the sandbox's 4 GiB memory limit`` after an error that is an allocation failing."""
    text = f"{error.get('name', '')} {error.get('message', '')}"
    return f": it hit the sandbox's {memory} memory limit" if MEMORY_ERRORS.search(text) else ""


STOPPED = {
    "memory": "was stopped at the sandbox's {memory} memory limit",
    "time": "was stopped at its {time} time limit",
    "disk": "was stopped at the sandbox's {disk} disk limit",
    "processes": "was stopped at the sandbox's limit of {processes} processes",
    "cpu": "was stopped after its {cpu} of CPU time",
    "cancelled": "was stopped: the grader was interrupted",
}
"""What a run's :attr:`~signbook.grading.run.RunReport.stopped` says, with the limits filled in."""


def _run_problem(report: RunReport, sources: list[str | None], limits: dict[str, str]) -> str:
    """What went wrong with the run as a whole, to follow "the notebook" ("" when nothing did):
    ``was stopped at its 60 s time limit, in cell 7 (`while True:`)``, ``raised MemoryError in
    cell 3 (...): it hit the sandbox's 4 GiB memory limit``, ..."""
    where = f", in {cell_name(report.running, sources)}" if report.running is not None else ""
    stopped = "memory" if report.oom_killed else report.stopped
    if stopped in STOPPED:
        return STOPPED[stopped].format(**limits) + where
    if report.end_error:
        return f"stopped early{where}: {report.end_error}"
    if not report.ended:
        return f"stopped early{where}"
    for cell, error in report.errors():
        if note := _memory_note(error, limits["memory"]):
            return f"raised {error['name']} in {cell_name(cell, sources)}{note}"
    return ""


def status(report: RunReport, sources: list[str | None], limits: dict[str, str]) -> str:
    """How a run went, to follow "Your notebook": ``ok``, :func:`_run_problem`'s sentence, or
    ``raised errors in 2 cells, first NameError in cell 4 (`x = f(2)`)``."""
    if problem := _run_problem(report, sources, limits):
        return problem
    errors = report.errors()
    if errors:
        cell, error = errors[0]
        many = "1 cell" if len(errors) == 1 else f"{len(errors)} cells"
        return f"raised errors in {many}, first {error['name']} in {cell_name(cell, sources)}"
    return "ok"


def _unanswered(label: str, report: RunReport, sources: list, cell: int | None, limits) -> str:
    if cell is None:
        return f'no answer: no cell of the submission calls check("{label}", ...)'
    name = cell_name(cell, sources)
    state = report.cells.get(cell)
    if state and state.get("error"):
        error = state["error"]
        note = _memory_note(error, limits["memory"])
        text = f"{error['name']}: {error['message']}" if error["message"] else error["name"]
        return f"no answer: the answer cell, {name}, raised {text}{note}"
    if state is None or not state["done"]:
        problem = _run_problem(report, sources, limits)
        return f"no answer: the answer cell, {name}, never ran" + (
            f": the notebook {problem}" if problem else ""
        )
    return f'no answer: the answer cell, {name}, ran but never called check("{label}", answer)'


def rows(
    student: str,
    assignment: Assignment,
    hidden: HiddenChecks,
    report: RunReport,
    sources: list[str | None],
    limits: dict[str, str],
    grade_answer: Callable = grade_answer,
) -> list[Row]:
    """One :class:`Row` per exercise of ``assignment`` for a submission that ran.

    ``sources``: the submission's cells as graded (None for a cell that is not code); ``limits``:
    the sandbox's limits as text (``memory``, ``time``, ``disk``, ``processes``, ``cpu``), for
    the messages;
    ``grade_answer``: :func:`grade_answer` or a memo of it.
    """
    cells = answer_cells(sources)
    found = []
    for label in assignment.labels:
        public = assignment.public_points(label, hidden)
        if label in report.answers:
            points, max_points, message = grade_answer(label, report.answers[label], public, hidden)
        else:
            points, max_points = 0.0, assignment.max_points(label, hidden)
            message = _unanswered(label, report, sources, cells.get(label), limits)
        found.append(Row(student, label, points, max_points, message))
    return found


def unreadable(
    student: str, assignment: Assignment, hidden: HiddenChecks, reason: str | None
) -> list:
    """The rows of a submission that is not a notebook: every exercise at 0 of its points."""
    message = f"not a readable notebook ({reason})"
    return [
        Row(student, label, 0.0, assignment.max_points(label, hidden), message)
        for label in assignment.labels
    ]
