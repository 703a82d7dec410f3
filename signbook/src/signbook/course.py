"""Coursework: grade a class's submitted notebooks, and describe the exercises for instructors.

    python -m signbook.course grade SUBMISSION.ipynb... --out grades.csv [--feedback DIR]
                                    [--timeout 300] [--hidden DIR] [--python PY]
    python -m signbook.course table            # the exercise table of the instructor page

How a submission is graded:

1. It is read with nbformat; a file that is not a notebook gets one row saying so.
2. It runs top to bottom in a fresh kernel, in its own process group and an empty folder, with every
   cell run even after one raises, and is killed when it exceeds ``--timeout`` seconds in all.
   The kernel has ``SIGNBOOK_RECORD`` set, so every ``check(label, answer)`` it reaches appends the
   answer to a file (:mod:`signbook.checks`); the last answer given for an exercise counts.
3. In this process (not the student's kernel, whose code could have changed anything) each expected
   exercise's recorded answer goes through the public checker (1 point) and the instructor's hidden
   checks (``--hidden DIR``: every ``*.py`` there, each registering with :func:`hidden`).
4. One CSV row per student and exercise (student, exercise, points, max_points, message), and a
   Markdown feedback file per student.

The expected exercises come from the notebook's metadata (``signbook.exercises``, written by the student
release), else from its ``check("ex-...")`` calls. The student is the file name without ``.ipynb``.

The submissions are code: run the grader on a machine (or container) you are willing to let them run on.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from signbook.checks import Feedback, _Unsupported, exercises, from_json, judge

_HIDDEN: dict[str, list[tuple[Callable[[Any], Any], float]]] = {}
_CHECK = re.compile(r"""check\(\s*["'](?P<label>ex-[\w-]+)["']""")


def hidden(exercise: str, points: float = 1.0) -> Callable:
    """Decorator for an instructor's hidden check of ``exercise``: ``fn(answer) -> Feedback | bool``.

    Hidden checks live in a folder the instructor keeps (``--hidden DIR``), never in this package or
    the student release, and run only in the grader's process.
    """
    if points <= 0:
        raise ValueError(f"points must be positive (got {points!r})")

    def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        _HIDDEN.setdefault(exercise, []).append((fn, float(points)))
        return fn

    return decorate


def load_hidden(folder: Path) -> int:
    """Import every ``*.py`` in ``folder`` (their ``@hidden`` checks register); returns how many."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"hidden checks folder {folder} does not exist")
    files = sorted(folder.glob("*.py"))
    for path in files:
        spec = importlib.util.spec_from_file_location(f"signbook_hidden_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return len(files)


@dataclass
class Row:
    """One line of the grades CSV: a student's points out of ``max_points`` on one exercise.

    ``exercise`` is "" on the one row of a submission that could not be graded at all (not a
    notebook, no exercises); ``message`` says why the points are what they are.
    """

    student: str
    exercise: str
    points: float
    max_points: float
    message: str


@dataclass
class _Run:
    """What executing one submission produced."""

    answers: dict[str, Any]
    errors: list[dict]
    timed_out: bool
    seconds: float


def expected_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """The exercises a submission is graded on, in order.

    The student release lists them in its metadata (``signbook.exercises``), so an answer cell the
    student deleted still counts, as a missing answer; a notebook without that metadata is graded
    on the labels of its ``check("ex-...", ...)`` calls.
    """
    meta = nb.metadata.get("signbook", {}).get("exercises")
    if meta:
        return list(meta)
    found: list[str] = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            for m in _CHECK.finditer(cell.source):
                if m["label"] not in found:
                    found.append(m["label"])
    return found


def _run_submission(nb: nbformat.NotebookNode, timeout: float, python: str | None = None) -> _Run:
    """Execute ``nb`` in a child process killed after ``timeout`` seconds; collect its answers."""
    with tempfile.TemporaryDirectory(prefix="signbook-grade-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, tmp / "submission.ipynb")
        record, status = tmp / "answers.jsonl", tmp / "status.json"
        env = dict(os.environ, SIGNBOOK_RECORD=str(record))
        env.pop("SIGNLAB_STATIC_BUILD", None)
        command = [
            sys.executable,
            "-m",
            "signbook.course",
            "_execute",
            str(tmp / "submission.ipynb"),
            "--cwd",
            str(work),
            "--status",
            str(status),
            "--timeout",
            str(int(timeout) + 1),
        ]
        if python:
            command += ["--python", python]
        start = time.perf_counter()
        child = subprocess.Popen(
            command, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        timed_out = False
        try:
            _, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(child)
            _, stderr = child.communicate()
        seconds = time.perf_counter() - start
        answers: dict[str, Any] = {}
        if record.exists():
            for line in record.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    answers[item["exercise"]] = from_json(item["answer"])
                except (ValueError, KeyError, TypeError):
                    continue
        errors: list[dict] = []
        if status.exists():
            errors = json.loads(status.read_text()).get("errors", [])
        elif not timed_out and child.returncode != 0:
            tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            errors = [{"cell": None, "name": "KernelError", "message": tail[0]}]
    return _Run(answers, errors, timed_out, seconds)


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()


def _max_points(label: str) -> float:
    """What an exercise is worth: 1 for the public check, plus each hidden check's points."""
    return 1.0 + sum(points for _, points in _HIDDEN.get(label, []))


def grade_answer(label: str, answer: Any) -> tuple[float, float, str]:
    """(points, max_points, message) of one answer: the public check, then the hidden ones."""
    checks = _HIDDEN.get(label, [])
    max_points = _max_points(label)
    if answer is Ellipsis or answer is None:
        return 0.0, max_points, "not answered yet"
    if isinstance(answer, _Unsupported):
        return 0.0, max_points, f"an answer of type {answer.type_name} cannot be graded"
    verdicts: list[tuple[bool, float, str]] = []
    public = judge(label, answer)
    verdicts.append((public.correct, 1.0, public.message))
    for fn, points in checks:
        try:
            result = fn(answer)
        except Exception as err:
            result = Feedback(label, False, f"hidden check failed ({type(err).__name__})")
        if isinstance(result, Feedback):
            verdicts.append((result.correct, points, result.message))
        else:
            verdicts.append((bool(result), points, "" if result else "a hidden check failed"))
    points = sum(p for ok, p, _ in verdicts if ok)
    if all(ok for ok, _, _ in verdicts):
        return points, max_points, "correct"
    messages = [m for ok, _, m in verdicts if not ok and m]
    return points, max_points, "; ".join(dict.fromkeys(messages))


def _grade_notebook(path: Path, timeout: float, python: str | None = None) -> list[Row]:
    """The rows of one submission: read it, run it (unless it cannot be read), grade each answer."""
    student = Path(path).stem
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return [Row(student, "", 0.0, 0.0, f"not a readable notebook ({reason})")]
    labels = expected_exercises(nb)
    known = set(exercises())
    if not labels:
        return [Row(student, "", 0.0, 0.0, "no exercises found in this notebook")]
    run = _run_submission(nb, timeout, python)
    problem = ""
    if run.timed_out:
        problem = f"the notebook ran past its {timeout:g} s limit and was stopped"
    elif run.errors:
        first = run.errors[0]
        where = f" in cell {first['cell']}" if first.get("cell") is not None else ""
        problem = f"the notebook raised {first['name']}{where}: {first['message']}"[:300]
    rows = []
    for label in labels:
        if label not in known:
            rows.append(Row(student, label, 0.0, 0.0, "unknown exercise (no checker)"))
            continue
        if label not in run.answers:
            reason = "no answer: check(...) for this exercise never ran"
            message = f"{reason} ({problem})" if problem else reason
            rows.append(Row(student, label, 0.0, _max_points(label), message))
            continue
        points, max_points, message = grade_answer(label, run.answers[label])
        rows.append(Row(student, label, points, max_points, message))
    return rows


def _feedback_text(student: str, rows: list[Row]) -> str:
    """The Markdown feedback file of one student: the total and a table of the rows."""
    total = sum(r.points for r in rows)
    out = sum(r.max_points for r in rows)
    lines = [f"# Feedback for {student}", "", f"**Total: {total:g} / {out:g}**", ""]
    lines += ["| exercise | points | message |", "|---|---|---|"]
    for r in rows:
        message = r.message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.exercise or '-'} | {r.points:g} / {r.max_points:g} | {message} |")
    return "\n".join(lines) + "\n"


def grade(
    paths: list[Path],
    out: Path,
    feedback: Path | None = None,
    timeout: float = 300,
    python: str | None = None,
) -> list[Row]:
    """Grade every submission in ``paths``; write the CSV ``out`` and one feedback file each."""
    feedback = Path(feedback) if feedback else Path(out).with_suffix("").parent / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    every: list[Row] = []
    for path in paths:
        try:
            rows = _grade_notebook(Path(path), timeout, python)
        except Exception as err:  # the run goes on, whatever one submission does
            rows = [
                Row(Path(path).stem, "", 0.0, 0.0, f"grader error: {type(err).__name__}: {err}")
            ]
        every += rows
        (feedback / f"{Path(path).stem}.md").write_text(_feedback_text(Path(path).stem, rows))
        print(f"{path}: {sum(r.points for r in rows):g} / {sum(r.max_points for r in rows):g}")
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "exercise", "points", "max_points", "message"])
        for r in every:
            writer.writerow(
                [r.student, r.exercise, f"{r.points:g}", f"{r.max_points:g}", r.message]
            )
    return every


def _execute(args: argparse.Namespace) -> int:
    """Child process: run the submission with every cell, write the errors to ``--status``."""
    from signbook.execute import execute

    nb = nbformat.read(args.notebook, as_version=4)
    errors = execute(nb, args.cwd, python=args.python, timeout=args.timeout, allow_errors=True)
    args.status.write_text(json.dumps({"errors": errors}))
    return 0


# ---- the instructor page ---------------------------------------------------------------------------
class _Markdown(str):
    def _repr_markdown_(self) -> str:
        return str(self)


def _book_root(start: Path | None = None) -> Path:
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents]:
        if (folder / "_toc.yml").exists():
            return folder
    raise ValueError(f"no _toc.yml in {here} or above it: not inside the book")


def _title_sentence(title: str) -> str:
    """``title`` in bold as a sentence: a full stop added unless it ends with ``.``, ``?`` or ``!``."""
    title = title.strip()
    return f"**{title}**" if title.endswith((".", "?", "!")) else f"**{title}.**"


def exercise_table(root: Path | None = None) -> _Markdown:
    """A MyST table of every exercise: chapter, what it assesses, the answer's type, its checks.

    Read from the chapters each time the book is built, so it stays current. "What it assesses" is
    the exercise's title and its sentence in :data:`signbook.assesses.ASSESSES`, written from the
    exercise and its solution (an exercise without one reads **missing**). Nothing of the
    solutions is in it.
    """
    from signbook.assesses import ASSESSES
    from signbook.edition import Book

    book = Book(_book_root(root))
    known = set(exercises())
    lines = [
        "| exercise | chapter | what it assesses | answer | public check |",
        "|---|---|---|---|---|",
    ]
    for chapter in book.project.notebooks():
        for ex in book.exercises(chapter):
            assesses = ASSESSES.get(ex.label, "**missing**")
            what = f"{_title_sentence(ex.title)} {assesses}" if ex.title else assesses
            kind = "-"
            if ex.answer_cell and (
                m := re.search(r"#\s*(?:your answer:)?\s*(.+)$", ex.answer_cell, re.M)
            ):
                kind = m.group(1).strip()
            what, kind = what.replace("|", "\\|"), kind.replace("|", "\\|")
            checked = "yes" if ex.label in known else "**missing**"
            lines.append(
                f"| {{ref}}`{ex.label}` | {chapter.number} | {what} | {kind} | {checked} |"
            )
    return _Markdown("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """``python -m signbook.course grade|table``: the grader's and the instructor page's command line.

    ``_execute`` is the grader's own child process (:func:`_execute`), not for people.
    """
    parser = argparse.ArgumentParser(
        prog="python -m signbook.course",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade submitted notebooks")
    g.add_argument("submissions", nargs="+", type=Path)
    g.add_argument("--out", type=Path, required=True, help="the CSV to write")
    g.add_argument("--feedback", type=Path, help="folder for feedback files (default: feedback/)")
    g.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    g.add_argument("--hidden", type=Path, action="append", default=[], help="hidden checks folder")
    g.add_argument("--python", help="Python of the kernel (default: this one)")
    sub.add_parser("table", help="print the exercise table of the instructor page")
    x = sub.add_parser("_execute")
    x.add_argument("notebook", type=Path)
    x.add_argument("--cwd", type=Path, required=True)
    x.add_argument("--status", type=Path, required=True)
    x.add_argument("--timeout", type=int, required=True)
    x.add_argument("--python")
    args = parser.parse_args(argv)
    if args.command == "_execute":
        return _execute(args)
    if args.command == "table":
        print(exercise_table())
        return 0
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive (got {args.timeout})")
    for folder in args.hidden:
        load_hidden(folder)
    grade(args.submissions, args.out, args.feedback, args.timeout, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
