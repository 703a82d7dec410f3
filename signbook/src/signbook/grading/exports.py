"""Totals as a learning platform imports them: Canvas, Gradescope or Moodle CSV.

Each is one row per student with the columns the platform's own gradebook files use, filled from
the roster (:class:`signbook.grading.students.Roster`) where it has them:

========== ===========================================================================
canvas     ``Student, ID, SIS User ID, SIS Login ID, Section, <assignment>`` and the
           ``Points Possible`` row, as Canvas's gradebook export writes them (Canvas matches
           rows on ID or SIS ids: roster columns ``canvas_id``/``id``, ``sis_id``,
           ``sis_login``, ``section``, ``name``)
gradescope ``Name, SID, Email, Total Score, Max Points`` (``sis_id``, ``email``)
moodle     ``Name, Email address, ID number, Username, <assignment>``: Moodle's CSV grade
           import asks which column identifies the user and which holds the grade
========== ===========================================================================

A student on the roster without a submission gets an empty score (the platform keeps what it has),
not a zero: that decision is the instructor's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from signbook.grading.results import Total
from signbook.grading.students import Roster

FORMATS = ("canvas", "gradescope", "moodle")


def _field(row: dict[str, str], *names: str) -> str:
    return next((row[n] for n in names if row.get(n)), "")


def _score(total: Total) -> str:
    return "" if total.points is None else f"{total.points:g}"


def _canvas(totals, roster, assignment, out) -> None:
    out.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment])
    most = max((t.max_points for t in totals), default=0)
    out.writerow(["    Points Possible", "", "", "", "", f"{most:g}"])
    for t in totals:
        r = roster.get(t.student) or {}
        out.writerow(
            [
                _field(r, "name") or t.student,
                _field(r, "canvas_id", "id"),
                _field(r, "sis_id", "sis user id"),
                _field(r, "sis_login", "sis login id", "login"),
                _field(r, "section"),
                _score(t),
            ]
        )


def _gradescope(totals, roster, assignment, out) -> None:
    out.writerow(["Name", "SID", "Email", "Total Score", "Max Points"])
    for t in totals:
        r = roster.get(t.student) or {}
        sid = _field(r, "sis_id", "sid")
        out.writerow(
            [
                _field(r, "name") or t.student,
                sid,
                _field(r, "email"),
                _score(t),
                f"{t.max_points:g}",
            ]
        )


def _moodle(totals, roster, assignment, out) -> None:
    out.writerow(["Name", "Email address", "ID number", "Username", assignment])
    for t in totals:
        r = roster.get(t.student) or {}
        out.writerow(
            [
                _field(r, "name") or t.student,
                _field(r, "email"),
                _field(r, "sis_id", "idnumber", "id number"),
                _field(r, "username", "sis_login", "login") or t.student,
                _score(t),
            ]
        )


WRITERS: dict[str, Callable] = {"canvas": _canvas, "gradescope": _gradescope, "moodle": _moodle}


def export(kind: str, totals: list[Total], roster: Roster | None, assignment: str) -> str:
    """The CSV text of ``totals`` for the platform ``kind`` (one of :data:`FORMATS`), the score
    column titled ``assignment``."""
    if kind not in WRITERS:
        raise ValueError(f"kind must be one of {', '.join(FORMATS)} (got {kind!r})")
    text = io.StringIO()
    WRITERS[kind](totals, roster or Roster(), assignment, csv.writer(text))
    return text.getvalue()
