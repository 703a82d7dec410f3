"""Coursework: grade a class's submitted notebooks, and describe the exercises for instructors.

    python -m signbook.course grade SUBMISSION.ipynb|FOLDER... --out grades.csv
        --chapter NAME | --manifest grading.json [--chapter NAME]
        [--hidden DIR]... [--timeout 300] [--jobs N] [--roster roster.csv] [--lms canvas]
        [--only STUDENT]... [--rerun] [--public-points 1] [--deadline 2026-03-01T23:59+01:00]
        [--threads N]
        [--memory 4G] [--cpu-time S] [--processes 256] [--file-size 256M] [--disk 1G]
        [--feedback DIR] [--python PY] [--no-sandbox]
    python -m signbook.course table            # the exercise table of the instructor page

How a submission is graded (the pieces are in :mod:`signbook.grading`):

1. What to expect comes from the instructor: the chapter's exercises (``--chapter``, read from the
   book) or the release manifest (``--manifest``), with each public check's points; the hidden
   checks (``--hidden DIR``) add theirs, and may replace the public check.
2. The notebook runs top to bottom, every cell even after one raises, in a bubblewrap sandbox
   (:mod:`signbook.sandbox`): no network, its own processes only, the system and Python read-only,
   a private folder holding only the submission, limits on memory, CPU time, processes, file size
   and disk, and killed with everything it started when it ends or after ``--timeout`` seconds.
   The kernel only records the answers it is given (``check(label, answer)``) as JSON.
3. After the sandbox has ended, each expected exercise's last answer is judged in this process by
   the public check and the hidden ones.
4. Results are kept per student as each finishes (``grades.runs/``); ``grades.csv`` (student,
   exercise, points, max_points, message), ``grades-totals.csv`` (one line per student), the
   platform's import file (``--lms``) and ``feedback/<student>.md`` are rewritten after each.
   A rerun runs only new or changed submissions and judges the others again.

Without bubblewrap the grader refuses to run, unless told ``--no-sandbox`` (then it says loudly
what that means).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path

from signbook.checks import exercises
from signbook.grading.hidden import REGISTRY, hidden, load
from signbook.grading.judge import Row

__all__ = ["Row", "exercise_table", "hidden", "main"]

SIZE = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?)(?:i?B)?\s*$", re.I)


def size(text: str) -> int:
    """Bytes from ``4G``, ``512M``, ``4GiB`` or a plain number of bytes."""
    m = SIZE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"a size such as 4G or 512M (got {text!r})")
    power = "KMGT".find(m["unit"].upper()) + 1 if m["unit"] else 0
    return int(float(m["n"]) * 1024**power)


def deadline(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (``2026-03-01T23:59+01:00``)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an ISO 8601 time (got {text!r})") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"say the time zone, e.g. {text}+00:00")
    return when


def _submissions(paths: list[Path]) -> list[Path]:
    """The notebooks named, a folder standing for the ``*.ipynb`` in it."""
    found = []
    for path in paths:
        found += sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
    return found


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


def _grade_parser(sub) -> None:
    g = sub.add_parser("grade", help="grade submitted notebooks")
    g.add_argument("submissions", nargs="+", type=Path, help="notebooks, or folders of them")
    g.add_argument("--out", type=Path, required=True, help="the per-exercise CSV to write")
    g.add_argument(
        "--feedback", type=Path, help="folder for feedback files (default: feedback/ beside --out)"
    )
    g.add_argument("--chapter", help="the chapter the submissions answer")
    g.add_argument("--manifest", type=Path, help="the release manifest (grading.json)")
    g.add_argument("--book", type=Path, help="the book's folder, for --chapter (default: here)")
    g.add_argument("--hidden", type=Path, action="append", default=[], help="hidden checks folder")
    g.add_argument("--public-points", type=float, help="points of every public check (0: off)")
    g.add_argument("--timeout", type=float, default=300, help="seconds per notebook (300)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once (1)")
    g.add_argument("--threads", type=int, default=1, help="math threads per kernel (1)")
    g.add_argument("--roster", type=Path, help="CSV with a student column (and file, email...)")
    g.add_argument("--lms", choices=["canvas", "gradescope", "moodle"], help="also write this")
    g.add_argument("--deadline", type=deadline, help="ISO time; the totals say how late")
    g.add_argument("--only", action="append", default=[], help="run this student again")
    g.add_argument("--rerun", action="store_true", help="run every submission again")
    g.add_argument("--memory", type=size, help="memory limit (4G)")
    g.add_argument("--cpu-time", type=int, help="CPU seconds per process (timeout x threads + 60)")
    g.add_argument("--processes", type=int, help="processes and threads (256)")
    g.add_argument("--file-size", type=size, help="largest file written (256M)")
    g.add_argument("--disk", type=size, help="bytes written in all (1G)")
    g.add_argument("--python", help="Python of the kernel (default: this one)")
    g.add_argument("--no-sandbox", action="store_true", help="run submissions with your powers")


def _settings(args: argparse.Namespace):
    from signbook.grading import assignment as assignments
    from signbook.grading.grade import Settings
    from signbook.grading.students import Roster
    from signbook.sandbox import Limits

    if args.manifest:
        task = assignments.from_manifest(args.manifest, args.chapter)
    elif args.chapter:
        task = assignments.from_book(args.book or _book_root(), args.chapter)
    else:
        raise ValueError(
            "say what the submissions answer: --chapter NAME (the book's exercises) or "
            "--manifest grading.json (the student release's); never the submissions' own metadata"
        )
    if args.public_points is not None:
        task = task.with_public_points(args.public_points)
    limits = {
        "memory": args.memory,
        "cpu_seconds": args.cpu_time,
        "processes": args.processes,
        "file_size": args.file_size,
        "disk": args.disk,
    }
    given = {k: v for k, v in limits.items() if v is not None}
    settings = Settings(
        assignment=task,
        hidden=REGISTRY,
        timeout=args.timeout,
        jobs=args.jobs,
        sandbox=not args.no_sandbox,
        python=args.python,
        roster=Roster.read(args.roster) if args.roster else None,
        lms=args.lms,
        deadline=args.deadline,
        only=args.only,
        rerun=args.rerun,
        threads=args.threads,
    )
    if given:
        settings.limits = Limits(**{**vars(settings.limits), **given})
    return settings


def _grade(args: argparse.Namespace) -> int:
    from signbook.grading.grade import Outputs, grade
    from signbook.sandbox import SandboxError

    try:
        for folder in args.hidden:
            print(f"{folder}: {load(folder)} hidden check(s)")
        settings = _settings(args)
        grade(_submissions(args.submissions), Outputs(args.out, args.feedback), settings)
    except SandboxError as err:
        print(f"error: {err}\n{NO_SANDBOX_HINT}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


NO_SANDBOX_HINT = (
    "Nothing was graded: every submission runs in bubblewrap's sandbox (the grading part of "
    "book/instructors.md says what it needs). --no-sandbox runs them without it, with your "
    "powers: only for notebooks you trust."
)


def main(argv: list[str] | None = None) -> int:
    """``python -m signbook.course grade|table``: the grader's and the instructor page's command line."""
    parser = argparse.ArgumentParser(
        prog="python -m signbook.course",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _grade_parser(sub)
    sub.add_parser("table", help="print the exercise table of the instructor page")
    args = parser.parse_args(argv)
    if args.command == "table":
        print(exercise_table())
        return 0
    return _grade(args)


if __name__ == "__main__":
    sys.exit(main())
