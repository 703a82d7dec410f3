"""Results that survive a crash: one file per student as each finishes, and the class's files from them.

The store (``grades.runs/`` beside ``--out grades.csv``) holds one JSON file per student, written
atomically (a temporary file, then a rename) the moment that student's run ends: what the run
reported and the submission's checksum, never a judgement. The CSV files and the feedback are
rewritten from the store after each student, also atomically, so a crash or a kill at any moment
leaves every file whole and loses no student already graded. A rerun judges the stored runs again
with the current checks (fast: nothing runs) and runs only submissions that are new or changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from signbook.grading.judge import Row
from signbook.grading.run import RunReport
from signbook.grading.students import slug

COLUMNS = ["student", "exercise", "points", "max_points", "message"]
"""The per-exercise CSV's columns."""

TOTAL_COLUMNS = [
    "student", "points", "max_points", "percent", "status",
    "submitted", "late_hours", "file", "run_seconds", "graded_at",
]  # fmt: skip
"""The per-student totals CSV's columns."""


def now() -> str:
    """The time now, UTC, ISO 8601 to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def mtime(path: Path) -> str:
    """When ``path`` was last written, UTC, ISO 8601 (a submission's time, as the file says)."""
    stamp = datetime.fromtimestamp(Path(path).stat().st_mtime, timezone.utc)
    return stamp.replace(microsecond=0).isoformat()


def sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that ``path`` is always whole: the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Result:
    """One student's graded run: the submission it came from and what the run reported.

    ``report`` is None and ``unreadable`` says why when the file is not a notebook; ``sources``
    holds the submission's cells as graded (None for a cell that is not code), for the messages.
    """

    student: str
    file: str
    sha256: str
    submitted: str
    sources: list[str | None] = field(default_factory=list)
    report: RunReport | None = None
    unreadable: str | None = None
    graded_at: str = field(default_factory=now)

    def to_dict(self) -> dict:
        """This result as JSON data."""
        data = dict(vars(self))
        data["report"] = self.report.to_dict() if self.report else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        report = data.pop("report", None)
        return cls(**data, report=RunReport.from_dict(report) if report else None)


@dataclass
class Store:
    """The folder of per-student results."""

    folder: Path

    def path(self, student: str) -> Path:
        """Where ``student``'s result is kept."""
        return Path(self.folder) / f"{slug(student)}.json"

    def load(self, student: str) -> Result | None:
        """``student``'s stored result, or None (none yet, or unreadable)."""
        try:
            return Result.from_dict(json.loads(self.path(student).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, result: Result) -> None:
        """Keep ``result`` (atomically)."""
        write_atomic(self.path(result.student), json.dumps(result.to_dict()) + "\n")

    def all(self) -> list[Result]:
        """Every stored result, by student id."""
        found = []
        for path in sorted(Path(self.folder).glob("*.json")):
            try:
                found.append(Result.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue
        return sorted(found, key=lambda r: r.student)


def _number(x: float) -> str:
    return f"{x:g}"


def _csv(header: list[str], lines: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows([header, *lines])
    return out.getvalue()


def grades_csv(rows: list[Row]) -> str:
    """The per-exercise CSV: :data:`COLUMNS`, one row per student and exercise."""
    lines = [
        [r.student, r.exercise, _number(r.points), _number(r.max_points), r.message] for r in rows
    ]
    return _csv(COLUMNS, lines)


@dataclass
class Total:
    """One student's line of the totals file."""

    student: str
    points: float | None
    max_points: float
    status: str
    submitted: str = ""
    late_hours: float | None = None
    file: str = ""
    run_seconds: float | None = None
    graded_at: str = ""

    @property
    def percent(self) -> float | None:
        """Points as a percentage of the maximum (None without points)."""
        if self.points is None or self.max_points <= 0:
            return None
        return 100 * self.points / self.max_points


def late_hours(submitted: str, deadline: datetime | None) -> float | None:
    """Hours after ``deadline`` the submission came (None: on time, or no deadline)."""
    if deadline is None or not submitted:
        return None
    hours = (datetime.fromisoformat(submitted) - deadline).total_seconds() / 3600
    return round(hours, 2) if hours > 0 else None


def totals_csv(totals: list[Total]) -> str:
    """The per-student CSV: :data:`TOTAL_COLUMNS`."""

    def blank_or(value, text) -> str:
        return "" if value is None else text(value)

    lines = [
        [
            t.student,
            blank_or(t.points, _number),
            _number(t.max_points),
            blank_or(t.percent, lambda x: f"{x:.1f}"),
            t.status,
            t.submitted,
            blank_or(t.late_hours, _number),
            t.file,
            blank_or(t.run_seconds, lambda x: f"{x:.1f}"),
            t.graded_at,
        ]
        for t in totals
    ]
    return _csv(TOTAL_COLUMNS, lines)


def feedback_text(student: str, rows: list[Row], status: str = "") -> str:
    """The Markdown feedback of one student: the total, how the run went, a row per exercise."""
    total = sum(r.points for r in rows)
    out = sum(r.max_points for r in rows)
    lines = [f"# Feedback for {student}", "", f"**Total: {total:g} / {out:g}**", ""]
    if status and status != "ok":
        lines += [f"Your notebook {status}.", ""]
    lines += ["| exercise | points | message |", "|---|---|---|"]
    for r in rows:
        message = r.message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.exercise or '-'} | {r.points:g} / {r.max_points:g} | {message} |")
    return "\n".join(lines) + "\n"
