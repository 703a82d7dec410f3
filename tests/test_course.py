"""The grader's pieces without a kernel (signbook.grading), then the grader on real submissions
(slow: each runs a kernel in the sandbox), the notebook runner under it (signbook.execute), and the
instructor page's exercise table.

Expected points and messages are written out by hand. The submissions answer the geometry chapter's
first two exercises, whose right answers are 8 (the l1 norm of (3, -4, 1)) and 0.3 (3 of 10
entries non-zero).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from sandboxing import processes_with, require_sandbox

from signbook import course
from signbook.checks import Feedback
from signbook.grading import assignment, exports, hidden, judge, run, students
from signbook.grading.assignment import Assignment, Exercise
from signbook.grading.grade import Outputs, Settings, grade
from signbook.grading.hidden import REGISTRY, HiddenCheck, HiddenChecks
from signbook.grading.results import (
    Result,
    Store,
    Total,
    feedback_text,
    grades_csv,
    late_hours,
    mtime,
    totals_csv,
    write_atomic,
)
from signbook.grading.run import RunReport

ROOT = Path(__file__).resolve().parents[1]
TWO = Assignment("geometry", (Exercise("ex-geometry-1"), Exercise("ex-geometry-2")))
LIMITS = {"memory": "4 GiB", "time": "60 s", "disk": "1 GiB", "processes": "256", "cpu": "120 s"}


@pytest.fixture
def registry():
    """The hidden-check registry, empty before and after the test."""
    REGISTRY.clear()
    yield REGISTRY
    REGISTRY.clear()


def checks(*items: tuple) -> HiddenChecks:
    """Hidden checks from (exercise, fn, points[, replaces_public])."""
    found = HiddenChecks()
    for exercise, fn, points, *rest in items:
        found.add(HiddenCheck(exercise, fn, points, bool(rest and rest[0])))
    return found


# ---- hidden checks -------------------------------------------------------------------------------
def test_hidden_checks_register_in_one_registry_and_load_says_what_it_found(tmp_path, registry):
    with pytest.raises(ValueError, match="points must be positive"):
        course.hidden("ex-geometry-1", points=0)
    folder = tmp_path / "hidden"
    with pytest.raises(ValueError, match="does not exist"):
        hidden.load(folder)
    folder.mkdir()
    with pytest.raises(ValueError, match="holds no"):
        hidden.load(folder)
    (folder / "a.py").write_text(
        "from signbook.course import hidden\n\n"
        "@hidden('ex-geometry-1', points=2)\ndef exact(answer):\n    return answer == 8\n\n"
        "@hidden('ex-geometry-2', replaces_public=True)\ndef other(answer):\n    return True\n"
    )
    assert hidden.load(folder) == 2
    assert registry.points("ex-geometry-1") == 2 and registry.of("ex-geometry-1")[0].fn(8)
    assert registry.replace_public("ex-geometry-2") and not registry.replace_public("ex-geometry-1")
    (folder / "b.py").write_text("from signbook.course import hidden  # and no check\n")
    with pytest.raises(ValueError, match="b.py registers no hidden check"):
        hidden.load(folder)


def test_a_hidden_check_that_raises_fails_and_says_so():
    def broken(answer):
        raise RuntimeError("instructor bug")

    check = HiddenCheck("ex-geometry-1", broken, 1.0)
    assert check.run(8) == (False, "hidden check failed (RuntimeError)")
    assert HiddenCheck("x", lambda a: Feedback("x", False, "too big"), 1).run(9) == (
        False,
        "too big",
    )
    assert HiddenCheck("x", lambda a: a == 8, 1).run(8) == (True, "")


# ---- judging one answer ------------------------------------------------------------------------
def test_grade_answer_public_and_hidden_points():
    none = HiddenChecks()
    assert judge.grade_answer("ex-geometry-1", 8, 1.0, none) == (1.0, 1.0, "correct")
    points, most, message = judge.grade_answer("ex-geometry-1", 7, 1.0, none)
    assert (points, most) == (0.0, 1.0) and "ℓ1" in message
    assert judge.grade_answer("ex-geometry-1", {"ellipsis": True}, 1.0, none)[2] == (
        "not answered yet"
    )
    assert judge.grade_answer("ex-geometry-1", {"unsupported": "function"}, 1.0, none) == (
        0.0,
        1.0,
        "an answer of type function cannot be graded",
    )
    exact = checks(("ex-geometry-1", lambda a: isinstance(a, int) and a == 8, 2.0))
    assert judge.grade_answer("ex-geometry-1", 8, 1.0, exact) == (3.0, 3.0, "correct")
    assert judge.grade_answer("ex-geometry-1", 8.0000001, 1.0, exact) == (
        1.0,
        3.0,
        "a hidden check failed",
    )


def test_public_points_can_be_turned_off_and_replaced_by_a_hidden_check():
    """The instructor changes g to (3, -4, 2): the right answer is now 9, the book's 8 is wrong."""
    renumbered = checks(("ex-geometry-1", lambda a: a == 9, 2.0, True))
    task = TWO
    assert task.public_points("ex-geometry-1", renumbered) == 0
    assert task.max_points("ex-geometry-1", renumbered) == 2
    assert judge.grade_answer("ex-geometry-1", 9, 0.0, renumbered) == (2.0, 2.0, "correct")
    assert judge.grade_answer("ex-geometry-1", 8, 0.0, renumbered) == (
        0.0,
        2.0,
        "a hidden check failed",
    )
    off = task.with_public_points(0)
    assert off.max_points("ex-geometry-1", HiddenChecks()) == 0
    assert off.problems(HiddenChecks(), {"ex-geometry-1", "ex-geometry-2"}) == [
        "ex-geometry-1 is worth 0 points (no public points, no hidden check)",
        "ex-geometry-2 is worth 0 points (no public points, no hidden check)",
    ]
    with pytest.raises(ValueError, match="public points must be >= 0"):
        task.with_public_points(-1)


# ---- what to expect ----------------------------------------------------------------------------
def manifest(path: Path, chapters: dict) -> Path:
    path.write_text(json.dumps({"format": 1, "chapters": chapters}))
    return path


def test_the_assignment_comes_from_the_manifest(tmp_path):
    one = {
        "geometry": {"exercises": [{"label": "ex-geometry-1", "public_points": 2}, "ex-geometry-2"]}
    }
    task = assignment.from_manifest(manifest(tmp_path / "m.json", one))
    assert task == Assignment(
        "geometry", (Exercise("ex-geometry-1", 2.0), Exercise("ex-geometry-2"))
    )
    two = {**one, "muon": {"exercises": ["ex-muon-1"]}}
    path = manifest(tmp_path / "m2.json", two)
    with pytest.raises(ValueError, match="say which one with --chapter"):
        assignment.from_manifest(path)
    assert assignment.from_manifest(path, "muon").labels == ["ex-muon-1"]
    with pytest.raises(ValueError, match="chapter must be one of geometry, muon"):
        assignment.from_manifest(path, "lion")
    bad = {"geometry": {"exercises": [{"label": "ex-geometry-1", "public_points": -1}]}}
    with pytest.raises(ValueError, match="public_points of ex-geometry-1 must be >= 0"):
        assignment.from_manifest(manifest(tmp_path / "bad.json", bad))
    twice = {"geometry": {"exercises": ["ex-geometry-1", "ex-geometry-1"]}}
    with pytest.raises(ValueError, match="lists an exercise twice"):
        assignment.from_manifest(manifest(tmp_path / "twice.json", twice))
    (tmp_path / "junk.json").write_text("{")
    with pytest.raises(ValueError, match="cannot read the manifest"):
        assignment.from_manifest(tmp_path / "junk.json")


def test_the_assignment_problems_name_what_cannot_be_graded():
    task = Assignment("x", (Exercise("ex-geometry-1"), Exercise("ex-mine-1", 1.0)))
    extra = checks(("ex-other-1", lambda a: True, 1.0))
    assert task.problems(extra, {"ex-geometry-1"}) == [
        "ex-mine-1 has no public check: give it public_points 0 and a hidden check",
        "a hidden check is for ex-other-1, which this assignment does not have",
    ]
    mine = Assignment("x", (Exercise("ex-mine-1", 0.0),))
    assert mine.problems(checks(("ex-mine-1", lambda a: True, 1.0)), set()) == []


def book_exercise_labels(chapter: Path) -> list[str]:
    """The labels of a chapter's ``{exercise}`` directives, read with a regex (independently of
    signbook.edition)."""
    nb = json.loads(chapter.read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    blocks = re.findall(r"```\{exercise\}[^\n]*\n(.*?)```", text, re.S)
    return [m for b in blocks for m in re.findall(r":label:\s*(\S+)", b)]


def test_the_release_manifest_lists_every_chapter_s_exercises(tmp_path):
    from signbook.edition import Book

    written = assignment.write_manifest(Book(ROOT), tmp_path)
    assert written == tmp_path / assignment.MANIFEST
    data = json.loads(written.read_text())
    expected = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        if labels := book_exercise_labels(path):
            expected[path.stem] = labels
    got = {name: [e["label"] for e in ch["exercises"]] for name, ch in data["chapters"].items()}
    assert got == expected
    assert {e["public_points"] for ch in data["chapters"].values() for e in ch["exercises"]} == {1}
    task = assignment.from_manifest(written, "geometry")
    assert task.labels == expected["geometry"]
    assert assignment.from_book(ROOT, "geometry") == task
    with pytest.raises(ValueError, match="chapter must be one of"):
        assignment.from_book(ROOT, "intro")


# ---- who a submission belongs to ----------------------------------------------------------------
def notebook(path: Path, *sources: str, meta: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["signbook"] = meta if meta is not None else {"exercises": TWO.labels}
    nb.cells = [nbformat.v4.new_code_cell(textwrap.dedent(s).strip()) for s in sources]
    nbformat.write(nb, path)
    return path


def test_student_ids_from_the_roster_the_metadata_or_the_file(tmp_path):
    (tmp_path / "roster.csv").write_text(
        "Student,file,Email\nalice@uni,geometry (3).ipynb,alice@uni.edu\nbob@uni,,bob@uni.edu\n"
    )
    roster = students.Roster.read(tmp_path / "roster.csv")
    assert roster.get("bob@uni") == {"student": "bob@uni", "file": "", "email": "bob@uni.edu"}
    a = notebook(tmp_path / "geometry (3).ipynb", "x = 1")
    b = notebook(tmp_path / "geometry.ipynb", "x = 1", meta={"student": "bob@uni"})
    c = notebook(tmp_path / "carol.ipynb", "x = 1", meta={"student": "mallory@uni"})
    ids = students.identify([a, b, c], roster)
    assert ids == {a: "alice@uni", b: "bob@uni", c: "carol"}  # mallory@uni is on no roster
    assert students.identify([c]) == {c: "mallory@uni"}
    d = notebook(tmp_path / "dave.ipynb", "x = 1", meta={"student": "bob@uni"})
    with pytest.raises(
        ValueError,
        match=r"several submissions claim one student \(fix the files or the roster\):\n  bob@uni: ",
    ):
        students.identify([b, d], roster)
    (tmp_path / "twice.csv").write_text("student\nx\nx\n")
    with pytest.raises(ValueError, match="students listed twice: x"):
        students.Roster.read(tmp_path / "twice.csv")
    (tmp_path / "none.csv").write_text("name\nx\n")
    with pytest.raises(ValueError, match="needs a 'student' column"):
        students.Roster.read(tmp_path / "none.csv")


def test_a_student_id_becomes_a_safe_and_distinct_file_name():
    assert students.slug("alice_smith") == "alice_smith"
    assert students.slug("alice@uni.edu") == "alice@uni.edu"
    odd = [students.slug(s) for s in ("a/b", "a b", "a\\b", "../x", ".x", "a:b")]
    assert len(set(odd)) == len(odd)
    assert all("/" not in s and not s.startswith(".") and " " not in s for s in odd)


# ---- messages --------------------------------------------------------------------------------
SOURCES = [
    None,  # a Markdown cell
    "from signbook.checks import check",
    'assert False, "a cell of the chapter"',
    'answer = f(3)\ncheck("ex-geometry-1", answer)',
    'answer = 0.3\ncheck("ex-geometry-2", answer)',
    "while True: pass",
]


def report(**fields) -> RunReport:
    base = {"cells": {1: {"done": True, "error": None}}, "ended": True}
    return RunReport(**{**base, **fields})


def test_messages_name_the_answer_cell_and_its_own_exception():
    """The issue's case: a TypeError in one answer cell, after an AssertionError in another cell."""
    cells = {
        1: {"done": True, "error": None},
        2: {"done": True, "error": {"name": "AssertionError", "message": "a cell of the chapter"}},
        3: {"done": True, "error": {"name": "TypeError", "message": "'int' is not callable"}},
        4: {"done": True, "error": None},
    }
    got = judge.rows(
        "al",
        TWO,
        HiddenChecks(),
        report(cells=cells, answers={"ex-geometry-2": 0.3}),
        SOURCES,
        LIMITS,
    )
    assert got == [
        judge.Row(
            "al",
            "ex-geometry-1",
            0.0,
            1.0,
            "no answer: the answer cell, cell 4 (`answer = f(3)`), raised TypeError: "
            "'int' is not callable",
        ),
        judge.Row("al", "ex-geometry-2", 1.0, 1.0, "correct"),
    ]
    assert judge.status(report(cells=cells), SOURCES, LIMITS) == (
        'raised errors in 2 cells, first AssertionError in cell 3 (`assert False, "a cell of the chapter"`)'
    )


def test_messages_when_the_run_stopped_or_the_answer_is_missing():
    cells = {
        1: {"done": True, "error": None},
        3: {"done": True, "error": None},
        5: {"done": False, "error": None},
    }
    timed = report(cells=cells, ended=False, stopped="time", answers={"ex-geometry-1": 8})
    rows = judge.rows("al", TWO, HiddenChecks(), timed, SOURCES, LIMITS)
    assert rows[0].message == "correct"
    assert rows[1].message == (
        "no answer: the answer cell, cell 5 (`answer = 0.3`), never ran: the notebook was "
        "stopped at its 60 s time limit, in cell 6 (`while True: pass`)"
    )
    memory = report(cells=cells, ended=False, stopped="memory")
    assert judge.status(memory, SOURCES, LIMITS) == (
        "was stopped at the sandbox's 4 GiB memory limit, in cell 6 (`while True: pass`)"
    )
    oom = {3: {"done": True, "error": {"name": "MemoryError", "message": ""}}}
    rows = judge.rows("al", TWO, HiddenChecks(), report(cells=oom), SOURCES, LIMITS)
    assert rows[0].message == (
        "no answer: the answer cell, cell 4 (`answer = f(3)`), raised MemoryError: "
        "it hit the sandbox's 4 GiB memory limit"
    )
    assert judge.status(report(cells=oom), SOURCES, LIMITS) == (
        "raised MemoryError in cell 4 (`answer = f(3)`): it hit the sandbox's 4 GiB memory limit"
    )
    ran = report(cells={3: {"done": True, "error": None}})
    assert judge.rows("al", TWO, HiddenChecks(), ran, SOURCES, LIMITS)[0].message == (
        "no answer: the answer cell, cell 4 (`answer = f(3)`), ran but never called "
        'check("ex-geometry-1", answer)'
    )
    deleted = [s if k != 4 else "x = 1" for k, s in enumerate(SOURCES)]
    assert judge.rows("al", TWO, HiddenChecks(), ran, deleted, LIMITS)[1].message == (
        'no answer: no cell of the submission calls check("ex-geometry-2", ...)'
    )
    dead = report(
        cells={3: {"done": False, "error": None}}, end_error="DeadKernelError: Kernel died"
    )
    assert judge.status(dead, SOURCES, LIMITS) == (
        "stopped early, in cell 4 (`answer = f(3)`): DeadKernelError: Kernel died"
    )
    bomb = report(cells={3: {"done": False, "error": None}}, ended=False, stopped="processes")
    assert judge.status(bomb, SOURCES, LIMITS) == (
        "was stopped at the sandbox's limit of 256 processes, in cell 4 (`answer = f(3)`)"
    )
    busy = report(cells={}, ended=False, stopped="cpu")
    assert judge.status(busy, SOURCES, LIMITS) == "was stopped after its 120 s of CPU time"
    assert judge.status(report(), SOURCES, LIMITS) == "ok"


def test_an_unreadable_notebook_scores_zero_out_of_the_assignment_s_points():
    rows = judge.unreadable("al", TWO, checks(("ex-geometry-1", lambda a: True, 2.0)), "bad JSON")
    assert [(r.exercise, r.points, r.max_points) for r in rows] == [
        ("ex-geometry-1", 0.0, 3.0),
        ("ex-geometry-2", 0.0, 1.0),
    ]
    assert {r.message for r in rows} == {"not a readable notebook (bad JSON)"}


# ---- what the sandbox reported, read defensively -------------------------------------------------
def test_the_report_is_read_as_plain_data_and_only_what_makes_sense(tmp_path):
    answers = tmp_path / "answers.jsonl"
    lines = [
        json.dumps({"exercise": "ex-geometry-1", "answer": 7}),
        "not json",
        "[" * 100_000 + "]" * 100_000,  # too deep for the parser
        json.dumps({"exercise": 3, "answer": 1}),
        json.dumps({"exercise": "x" * 300, "answer": 1}),
        json.dumps({"exercise": "ex-geometry-2"}),
        json.dumps(["a list"]),
        json.dumps({"exercise": "ex-geometry-1", "answer": [8, {"ellipsis": True}]}),
    ]
    answers.write_text("\n".join(lines) + "\n")
    assert run.read_answers(answers) == {"ex-geometry-1": [8, {"ellipsis": True}]}
    events = tmp_path / "events.jsonl"
    items = [
        {"event": "begin", "cells": 3},
        {"event": "start", "cell": 0},
        {"event": "done", "cell": 0, "error": None},
        {"event": "start", "cell": 1},
        {"event": "done", "cell": 1, "error": {"name": "E" * 1000, "message": 5}},
        {"event": "start", "cell": 7},
        {"event": "start", "cell": True},
        {"event": "start", "cell": 2},
    ]
    events.write_text("\n".join(json.dumps(i) for i in items) + "\n")
    cells, ended, end_error = run.read_events(events, 3)
    assert cells == {
        0: {"done": True, "error": None},
        1: {"done": True, "error": {"name": "E" * run.MOST_TEXT, "message": "5"}},
        2: {"done": False, "error": None},
    }
    assert (ended, end_error) == (False, None)
    link = tmp_path / "link.jsonl"
    link.symlink_to(answers)
    assert run.read_answers(link) == {}
    big = tmp_path / "big.jsonl"
    with open(big, "w") as f:
        f.write((json.dumps({"exercise": "a", "answer": "x" * 1000}) + "\n") * 20_000)
        f.write(json.dumps({"exercise": "b", "answer": 1}) + "\n")
    assert list(run.read_answers(big)) == ["a"]  # what is past MOST_BYTES is not read


def test_a_report_round_trips_through_the_store(tmp_path):
    r = RunReport(
        {"ex-geometry-1": [1, 2]},
        {3: {"done": True, "error": None}},
        True,
        None,
        "time",
        False,
        1.5,
        10,
    )
    result = Result("al", "al.ipynb", "abc", "2026-01-01T00:00:00+00:00", [None, "x"], r)
    store = Store(tmp_path / "grades.runs")
    store.save(result)
    assert store.load("al") == result and store.all() == [result]
    assert store.load("bob") is None
    (tmp_path / "grades.runs" / "junk.json").write_text("{")
    assert store.all() == [result]


def test_answers_travel_as_json():
    import numpy as np

    from signbook.checks import _Unsupported, from_json, to_json

    assert to_json((1, np.float32(2.5), np.array([[1, 2]]))) == [1, 2.5, [[1, 2]]]
    assert from_json(to_json(...)) is Ellipsis
    assert from_json(to_json(object())) == _Unsupported("object")
    assert to_json("sgd") == "sgd" and to_json(None) is None and to_json(True) is True


def test_while_recording_an_exercise_without_a_public_check_is_recorded(tmp_path, monkeypatch):
    from signbook.checks import RECORD_ENV, check

    with pytest.raises(ValueError, match="exercise must be one of"):
        check("ex-mine-1", 3)
    monkeypatch.setenv(RECORD_ENV, str(tmp_path / "answers.jsonl"))
    feedback = check("ex-mine-1", (3, 4))
    assert not feedback.correct and feedback.message == "recorded for grading (no public check)"
    assert check("ex-geometry-1", 8).correct
    assert run.read_answers(tmp_path / "answers.jsonl") == {"ex-mine-1": [3, 4], "ex-geometry-1": 8}


def test_which_cell_answers_and_how_a_cell_is_named():
    assert judge.answer_cells(SOURCES) == {"ex-geometry-1": 3, "ex-geometry-2": 4}
    assert judge.cell_name(3, SOURCES) == "cell 4 (`answer = f(3)`)"
    assert judge.cell_name(0, SOURCES) == "cell 1"
    long = ["x = '" + "y" * 60 + "'"]
    assert judge.cell_name(0, long) == "cell 1 (`x = '" + "y" * 34 + "…`)"  # 39 + …


def test_the_kernel_environment_holds_nothing_of_the_grader_s():
    env = run.kernel_env("/opt/py/bin/python", 3)
    assert env["PATH"].startswith("/opt/py/bin:") and env["HOME"] == "/tmp"
    assert env["OMP_NUM_THREADS"] == "3" and env["SIGNBOOK_RECORD"] == "/grading/answers.jsonl"
    assert not set(env) & {
        "USER_TOKEN",
        "SSH_AUTH_SOCK",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "SIGNLAB_SEED",
    }
    assert set(env) == {
        "PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE",
        "PYDEVD_DISABLE_FILE_VALIDATION", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS", "SIGNBOOK_RECORD",
    }  # fmt: skip
    assert run.THREADS == 1 and Settings(TWO).threads == run.THREADS
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        Settings(TWO, threads=0)


def test_a_box_is_removed_even_where_the_submission_locked_itself_in(tmp_path):
    box = tmp_path / "box"
    (box / "a" / "b").mkdir(parents=True)
    (box / "a" / "b" / "f").write_text("x")
    os.chmod(box / "a" / "b", 0)
    os.chmod(box / "a", 0)
    run.remove(box)
    assert not box.exists()


# ---- files ------------------------------------------------------------------------------------
def test_the_class_files_columns_and_formats(tmp_path):
    rows = [
        judge.Row("al", "ex-geometry-1", 1.0, 1.0, "correct"),
        judge.Row("al", "ex-geometry-2", 0.0, 2.5, 'a "b", c'),
    ]
    assert grades_csv(rows) == (
        "student,exercise,points,max_points,message\r\n"
        "al,ex-geometry-1,1,1,correct\r\n"
        'al,ex-geometry-2,0,2.5,"a ""b"", c"\r\n'
    )
    deadline = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    assert late_hours("2026-03-01T11:00:00+00:00", deadline) is None
    assert late_hours("2026-03-01T13:30:00+00:00", deadline) == 1.5
    totals = [
        Total("al", 1.0, 3.5, "ok", "2026-03-01T13:30:00+00:00", 1.5, "al.ipynb", 2.04, "t"),
        Total("bo", None, 3.5, "no submission"),
    ]
    assert totals_csv(totals).splitlines() == [
        "student,points,max_points,percent,status,submitted,late_hours,file,run_seconds,graded_at",
        "al,1,3.5,28.6,ok,2026-03-01T13:30:00+00:00,1.5,al.ipynb,2.0,t",
        "bo,,3.5,,no submission,,,,,",
    ]
    text = feedback_text("al", rows, "was stopped at its 60 s time limit")
    assert text.splitlines()[:5] == [
        "# Feedback for al",
        "",
        "**Total: 1 / 3.5**",
        "",
        "Your notebook was stopped at its 60 s time limit.",
    ]
    stamp = tmp_path / "stamp"
    stamp.write_text("x")
    os.utime(stamp, (0, 1_700_000_000))
    assert mtime(stamp) == "2023-11-14T22:13:20+00:00"
    target = tmp_path / "x" / "file.csv"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two" and [p.name for p in target.parent.iterdir()] == ["file.csv"]


def test_exports_for_the_learning_platforms():
    roster = students.Roster(
        [
            {
                "student": "al",
                "name": "Al Smith",
                "id": "101",
                "sis_id": "S1",
                "sis_login": "als",
                "section": "A",
                "email": "al@u",
            },
            {"student": "bo", "name": "Bo Li", "email": "bo@u"},
        ]
    )
    totals = [Total("al", 2.5, 4.0, "ok"), Total("bo", None, 4.0, "no submission")]
    assert exports.export("canvas", totals, roster, "Geometry").splitlines() == [
        "Student,ID,SIS User ID,SIS Login ID,Section,Geometry",
        "    Points Possible,,,,,4",
        "Al Smith,101,S1,als,A,2.5",
        "Bo Li,,,,,",
    ]
    assert exports.export("gradescope", totals, roster, "Geometry").splitlines() == [
        "Name,SID,Email,Total Score,Max Points",
        "Al Smith,S1,al@u,2.5,4",
        "Bo Li,,bo@u,,4",
    ]
    assert exports.export("moodle", totals, None, "Geometry").splitlines() == [
        "Name,Email address,ID number,Username,Geometry",
        "al,,,al,2.5",
        "bo,,,bo,",
    ]
    with pytest.raises(ValueError, match="kind must be one of canvas, gradescope, moodle"):
        exports.export("blackboard", totals, roster, "G")


def test_a_loosely_written_notebook_is_mended_and_a_broken_one_is_not(tmp_path):
    from signbook.grading.grade import _read

    loose = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "code", "source": ["x = 1\n", "check('ex-geometry-1', 8)"]},
            {"cell_type": "markdown", "source": "text", "metadata": {}},
        ],
    }
    (tmp_path / "loose.ipynb").write_text(json.dumps(loose))
    nb, reason = _read(tmp_path / "loose.ipynb")
    assert reason is None
    assert nb.cells[0].source == "x = 1\ncheck('ex-geometry-1', 8)" and nb.cells[0].outputs == []
    nbformat.validate(nb)
    broken = {**loose, "cells": [{"cell_type": "widget", "source": "x"}]}
    (tmp_path / "broken.ipynb").write_text(json.dumps(broken))
    assert _read(tmp_path / "broken.ipynb") == (None, "cell 1 has no known cell type")
    (tmp_path / "none.ipynb").write_text(json.dumps({**loose, "cells": {"a": 1}}))
    assert _read(tmp_path / "none.ipynb")[0] is None


# ---- the command line, without a kernel ---------------------------------------------------------
def test_the_command_line_refuses_to_guess_what_to_expect(tmp_path, capsys):
    junk = tmp_path / "junk.ipynb"
    junk.write_text("{")
    code = course.main(["grade", str(junk), "--out", str(tmp_path / "g.csv")])
    assert code == 2
    assert "--chapter NAME" in capsys.readouterr().err


def test_the_command_line_without_bubblewrap_grades_nothing_and_names_no_sandbox(
    tmp_path, capsys, monkeypatch
):
    from signbook import sandbox as sb

    junk = tmp_path / "junk.ipynb"
    junk.write_text("{")
    monkeypatch.setattr(sb, "bwrap", lambda: None)
    out = tmp_path / "out" / "g.csv"
    args = ["--chapter", "geometry", "--book", str(ROOT)]
    code = course.main(["grade", str(junk), "--out", str(out), *args])
    assert code == 2
    err = capsys.readouterr().err
    assert "bubblewrap (bwrap) is not installed" in err
    assert "Nothing was graded" in err and "--no-sandbox runs them without it" in err
    assert not out.parent.exists()


def test_sizes_and_deadlines_on_the_command_line():
    assert course.size("4G") == 4 * 1024**3 and course.size("512MiB") == 512 * 1024**2
    assert course.size("1000") == 1000
    with pytest.raises(Exception, match="a size such as 4G"):
        course.size("lots")
    assert course.deadline("2026-03-01T23:59+01:00").utcoffset().total_seconds() == 3600
    with pytest.raises(Exception, match="say the time zone"):
        course.deadline("2026-03-01T23:59")


def test_without_bubblewrap_the_grader_refuses_and_no_sandbox_says_what_it_means(
    tmp_path, monkeypatch
):
    from signbook import sandbox as sb
    from signbook.sandbox import SandboxError

    junk = tmp_path / "junk.ipynb"
    junk.write_text("{")
    monkeypatch.setattr(sb, "bwrap", lambda: None)
    with pytest.raises(SandboxError, match="bubblewrap .bwrap. is not installed: `make grader`"):
        grade([junk], Outputs(tmp_path / "g.csv"), Settings(TWO, HiddenChecks()))
    assert not (tmp_path / "g.csv").exists()  # refused before writing anything
    said = []
    grade(
        [junk],
        Outputs(tmp_path / "g.csv"),
        Settings(TWO, HiddenChecks(), sandbox=False),
        said.append,
    )
    assert "--no-sandbox: SUBMISSIONS RUN WITH YOUR POWERS" in said[0]
    assert "read your hidden checks" in said[0]
    assert "junk,ex-geometry-1,0,1,not a readable notebook" in (tmp_path / "g.csv").read_text()


# ---- the grader on real submissions (a kernel each, in the sandbox) -------------------------------
CHECK = "from signbook.checks import check"
RIGHT_1 = 'answer = 8\ncheck("ex-geometry-1", answer)'
RIGHT_2 = 'answer = 0.3\ncheck("ex-geometry-2", answer)'


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_the_grader_on_made_up_submissions(tmp_path, registry):
    require_sandbox()
    subs = tmp_path / "subs"
    subs.mkdir()
    notebook(subs / "alice.ipynb", CHECK, RIGHT_1, RIGHT_2)
    notebook(subs / "bob.ipynb", CHECK, 'check("ex-geometry-1", 7)', RIGHT_2)
    notebook(  # the case: an AssertionError in one cell, a TypeError in an answer cell
        subs / "carol.ipynb",
        CHECK,
        "assert 1 == 2, 'no'",
        'answer = (8)(3)\ncheck("ex-geometry-1", answer)',
        RIGHT_2,
    )
    notebook(
        subs / "dave.ipynb",
        CHECK,
        'answer = ...\ncheck("ex-geometry-1", answer)',
        'check("ex-geometry-2", nothing)',
    )
    notebook(subs / "erin.ipynb", CHECK, RIGHT_1, "while True:\n    pass", RIGHT_2)
    (subs / "frank.ipynb").write_text("this is not a notebook {")
    # trims its metadata to the exercise it got right and deletes the other answer cell
    notebook(subs / "grace.ipynb", CHECK, RIGHT_1, meta={"exercises": ["ex-geometry-1"]})
    notebook(subs / "geometry.ipynb", CHECK, RIGHT_1, RIGHT_2, meta={"student": "heidi@uni"})

    @course.hidden("ex-geometry-1", points=2)
    def exact(answer):
        return isinstance(answer, int) and answer == 8

    (tmp_path / "roster.csv").write_text(
        "student,name,file,id\nalice,Alice A,,11\nheidi@uni,Heidi H,,12\nivan,Ivan I,,13\n"
    )
    for path in subs.iterdir():  # handed in an hour before the deadline, but erin's: 2.5 h late
        os.utime(path, (0, 1_800_000_000 - 3600 if path.stem != "erin" else 1_800_000_000 + 9000))
    settings = Settings(
        TWO,
        REGISTRY,
        timeout=40,
        jobs=2,
        roster=students.Roster.read(tmp_path / "roster.csv"),
        lms="canvas",
        deadline=datetime.fromtimestamp(1_800_000_000, timezone.utc),
    )
    out = Outputs(tmp_path / "out" / "grades.csv")
    said = []
    rows = grade(sorted(subs.iterdir()), out, settings, said.append)
    table = read_csv(out.out)
    assert [(r["student"], r["exercise"]) for r in table] == [(r.student, r.exercise) for r in rows]
    got = {
        (r["student"], r["exercise"]): (r["points"], r["max_points"], r["message"]) for r in table
    }
    expected = {
        ("alice", "ex-geometry-1"): ("3", "3", "correct"),
        ("alice", "ex-geometry-2"): ("1", "1", "correct"),
        ("bob", "ex-geometry-1"): ("0", "3", "the dual of ℓ∞ is ℓ1"),
        ("bob", "ex-geometry-2"): ("1", "1", "correct"),
        ("carol", "ex-geometry-1"): (
            "0",
            "3",
            "the answer cell, cell 3 (`answer = (8)(3)`), raised TypeError: 'int' object is not callable",
        ),
        ("carol", "ex-geometry-2"): ("1", "1", "correct"),  # the run went on after the errors
        ("dave", "ex-geometry-1"): ("0", "3", "not answered yet"),
        ("dave", "ex-geometry-2"): (
            "0",
            "1",
            'cell 3 (`check("ex-geometry-2", nothing)`), raised NameError',
        ),
        ("erin", "ex-geometry-1"): ("3", "3", "correct"),  # answered before the loop
        ("erin", "ex-geometry-2"): (
            "0",
            "1",
            "never ran: the notebook was stopped at its 40 s time limit, in cell 3 (`while True:`)",
        ),
        ("frank", "ex-geometry-1"): ("0", "3", "not a readable notebook"),
        ("frank", "ex-geometry-2"): ("0", "1", "not a readable notebook"),
        ("grace", "ex-geometry-1"): ("3", "3", "correct"),
        ("grace", "ex-geometry-2"): (
            "0",
            "1",
            'no cell of the submission calls check("ex-geometry-2", ...)',
        ),
        ("heidi@uni", "ex-geometry-1"): ("3", "3", "correct"),
        ("heidi@uni", "ex-geometry-2"): ("1", "1", "correct"),
    }
    assert set(got) == set(expected)
    for key, (points, most, message) in expected.items():
        assert got[key][:2] == (points, most), (key, got[key])
        assert message in got[key][2], (key, got[key])
    totals = {r["student"]: r for r in read_csv(out.totals)}
    assert totals["alice"]["points"] == "4" and totals["alice"]["percent"] == "100.0"
    assert totals["alice"]["status"] == "ok"
    assert totals["erin"]["status"].startswith("was stopped at its 40 s time limit")
    assert (
        totals["carol"]["status"]
        == "raised errors in 2 cells, first AssertionError in cell 2 (`assert 1 == 2, 'no'`)"
    )
    assert totals["frank"]["points"] == "0" and totals["frank"]["max_points"] == "4"
    assert totals["ivan"]["status"] == "no submission" and totals["ivan"]["points"] == ""
    assert totals["erin"]["late_hours"] == "2.5" and totals["alice"]["late_hours"] == ""
    assert totals["alice"]["submitted"] == "2027-01-15T07:00:00+00:00"
    canvas = (tmp_path / "out" / "grades-canvas.csv").read_text().splitlines()
    assert canvas[:2] == [
        "Student,ID,SIS User ID,SIS Login ID,Section,geometry",
        "    Points Possible,,,,,4",
    ]
    assert "Alice A,11,,,,4" in canvas and "Ivan I,13,,,," in canvas and "erin,,,,,3" in canvas
    assert (out.feedback / "alice.md").read_text().splitlines()[2] == "**Total: 4 / 4**"
    assert (out.feedback / "heidi@uni.md").exists()
    assert sorted(p.name for p in out.store.iterdir()) == sorted(
        f"{s}.json"
        for s in totals
        if s != "ivan"  # on the roster, without a submission
    )
    assert any("8 to run (2 at a time)" in line for line in said)


@pytest.mark.slow
def test_the_documented_command_counts_hidden_checks_and_they_can_replace_the_public_one(tmp_path):
    """``python -m signbook.course grade`` itself, as a subprocess (the __main__ double import)."""
    require_sandbox()
    subs = tmp_path / "subs"
    subs.mkdir()
    # the instructor changed g to (3, -4, 2): the right answer is 9, the book's old answer 8
    notebook(subs / "new.ipynb", CHECK, 'check("ex-geometry-1", 9)', RIGHT_2)
    notebook(subs / "old.ipynb", CHECK, RIGHT_1, RIGHT_2)
    folder = tmp_path / "hidden"
    folder.mkdir()
    (folder / "geometry.py").write_text(
        "from signbook.course import hidden\n\n"
        "@hidden('ex-geometry-1', points=2, replaces_public=True)\n"
        "def renumbered(answer):\n    return answer == 9\n\n"
        "@hidden('ex-geometry-2')\n"
        "def exact(answer):\n    return answer == 0.3\n"
    )
    m = manifest(tmp_path / "grading.json", {"geometry": {"exercises": TWO.labels}})
    out = tmp_path / "grades.csv"
    command = [sys.executable, "-m", "signbook.course", "grade", str(subs), "--out", str(out)]
    command += ["--manifest", str(m), "--hidden", str(folder), "--timeout", "60", "--jobs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 hidden check(s)" in done.stdout
    got = {
        (r["student"], r["exercise"]): (r["points"], r["max_points"], r["message"])
        for r in read_csv(out)
    }
    assert got == {
        ("new", "ex-geometry-1"): ("2", "2", "correct"),
        ("new", "ex-geometry-2"): ("2", "2", "correct"),
        ("old", "ex-geometry-1"): ("0", "2", "a hidden check failed"),
        ("old", "ex-geometry-2"): ("2", "2", "correct"),
    }


@pytest.mark.slow
def test_one_submission_in_the_sandbox_sees_nothing_of_the_grader_s_environment(
    tmp_path, monkeypatch
):
    require_sandbox()
    from signbook.sandbox import Limits, Sandbox, python_paths

    monkeypatch.setenv("INSTRUCTOR_TOKEN", "s3cret")
    nb = nbformat.read(
        notebook(
            tmp_path / "env.ipynb",
            CHECK,
            'import os\ncheck("ex-geometry-1", sorted(os.environ))',
            "1 / 0",
            'check("ex-geometry-2", os.getcwd() + " " + " ".join(sorted(os.listdir("."))))',
        ),
        as_version=4,
    )
    box = Sandbox(python_paths(sys.executable), Limits())
    got = run.run_submission(nb, box, timeout=120, threads=1)
    assert got.ended and got.stopped is None and got.end_error is None
    seen = set(got.answers["ex-geometry-1"])
    # beyond what the grader gives, only what Jupyter sets for a kernel (and PWD, set by the shell)
    leaked = (seen - set(run.kernel_env(sys.executable, 1))) & set(os.environ)
    assert leaked <= {"PWD", "TERM", "CLICOLOR", "PAGER", "GIT_PAGER", "MPLBACKEND"}, leaked
    assert "INSTRUCTOR_TOKEN" not in got.answers["ex-geometry-1"]
    assert got.answers["ex-geometry-2"] == f"{run.HOME} submission.ipynb"
    assert got.cells[2] == {
        "done": True,
        "error": {"name": "ZeroDivisionError", "message": "division by zero"},
    }
    assert [k for k, c in sorted(got.cells.items()) if c["done"]] == [0, 1, 2, 3]


def _wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_a_killed_grader_loses_nothing_a_rerun_resumes_and_only_regrades_one(tmp_path):
    require_sandbox()
    subs = tmp_path / "subs"
    subs.mkdir()
    notebook(subs / "a.ipynb", CHECK, RIGHT_1, RIGHT_2)
    notebook(subs / "b.ipynb", CHECK, 'check("ex-geometry-1", 7)', RIGHT_2)
    marker = f"signbook-c-{uuid.uuid4().hex}"
    slow = (
        f"import subprocess, time\nsubprocess.Popen(['sleep', '300', '{marker}'])\ntime.sleep(300)"
    )
    notebook(subs / "c.ipynb", CHECK, RIGHT_1, slow, RIGHT_2)
    out = tmp_path / "grades.csv"
    store = tmp_path / "grades.runs"
    command = [sys.executable, "-m", "signbook.course", "grade", str(subs), "--out", str(out)]
    m = manifest(tmp_path / "grading.json", {"geometry": {"exercises": TWO.labels}})
    command += ["--manifest", str(m), "--timeout", "250"]
    grader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait_for(lambda: (store / "b.json").exists(), 200), "a and b were not graded"
        time.sleep(3)  # c is running now
        grader.kill()  # SIGKILL: nothing of the grader runs after this
        grader.wait(30)
    finally:
        grader.kill()
    assert _wait_for(lambda: not processes_with(marker), 10)  # the sandbox died with the grader
    table = read_csv(out)  # whole, with the two students done
    assert sorted({r["student"] for r in table}) == ["a", "b"]
    assert len(table) == 2 * 2 and {
        r["student"] for r in read_csv(tmp_path / "grades-totals.csv")
    } == {"a", "b"}
    kept = {name: (store / f"{name}.json").read_text() for name in "ab"}
    notebook(subs / "c.ipynb", CHECK, RIGHT_1, RIGHT_2)  # c fixed: changed, so it runs again
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "1 to run (1 at a time), 2 kept" in done.stdout
    assert {name: (store / f"{name}.json").read_text() for name in "ab"} == kept
    points = {r["student"]: r["points"] for r in read_csv(tmp_path / "grades-totals.csv")}
    assert points == {"a": "2", "b": "1", "c": "2"}
    again = subprocess.run([*command, "--only", "b"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 to run (1 at a time), 2 kept" in again.stdout  # a and c
    assert (store / "a.json").read_text() == kept["a"] and (store / "b.json").read_text() != kept[
        "b"
    ]
    assert sorted({r["student"] for r in read_csv(out)}) == ["a", "b", "c"]


def test_exercise_table_lists_every_exercise_of_the_book_and_no_solution():
    from test_editions import ROOT, solution_lines

    from signbook.edition import Book

    table = str(course.exercise_table(ROOT))
    book = Book(ROOT, ref="main")
    labels = [e.label for c in book.project.notebooks() for e in book.exercises(c)]
    assert labels, "the book has no exercises"
    for label in labels:
        assert f"{{ref}}`{label}`" in table
    assert table.count("\n") == len(labels) + 1
    for chapter in book.project.notebooks():
        for line in solution_lines(chapter.path):
            assert line not in table, line


def test_every_exercise_of_the_book_says_what_it_assesses_and_no_label_is_stale():
    from test_editions import ROOT

    from signbook.assesses import ASSESSES
    from signbook.edition import Book

    book = Book(ROOT, ref="main")
    labels = [e.label for c in book.project.notebooks() for e in book.exercises(c)]
    assert sorted(set(labels) - set(ASSESSES)) == [], "exercises without an assesses sentence"
    assert sorted(set(ASSESSES) - set(labels)) == [], "assesses sentences of no exercise"
    for label, text in ASSESSES.items():
        # one sentence, plain text: no pipes (they split a table cell), no MyST roles or math
        assert text[0].isupper() and text.endswith(".") and text.count(". ") == 0, label
        assert not set(text) & set("|$`{}"), label
    table = str(course.exercise_table(ROOT))
    for label in labels:
        row = next(ln for ln in table.splitlines() if f"`{label}`" in ln)
        assert ASSESSES[label] in row and "**missing**" not in row


@pytest.mark.parametrize(
    "title, bold",
    [
        ("Dual of ℓ∞", "**Dual of ℓ∞.**"),
        ("Which curvature carries the 1/φ?", "**Which curvature carries the 1/φ?**"),
        ("Stop!", "**Stop!**"),
        ("A title ending in a full stop.", "**A title ending in a full stop.**"),
    ],
)
def test_titles_become_sentences_without_a_doubled_stop(title, bold):
    assert course._title_sentence(title) == bold


# ---- signbook.execute: what the grader and the weekly Colab run execute notebooks with ---------------
def plain_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def test_run_alone_runs_in_an_empty_folder_and_stops_at_the_first_error(tmp_path):
    from signbook.execute import run_alone

    path = plain_notebook(
        tmp_path / "broken.ipynb",
        "import os\nseen = sorted(os.listdir('.'))",
        "assert seen == ['broken.ipynb'], seen",  # alone: nothing of tmp_path is there
        "1 / 0",
        "print('after the error')",
    )
    (tmp_path / "neighbour.txt").write_text("not copied")
    result = run_alone(path, keep=tmp_path / "kept")
    assert result.errors == [
        {"cell": 2, "name": "ZeroDivisionError", "message": "division by zero"}
    ]
    assert not result.ok and not result.timed_out
    kept = nbformat.read(tmp_path / "kept" / "broken.ipynb", as_version=4)
    assert [c.execution_count for c in kept.cells] == [1, 2, 3, None]


def test_execute_with_allow_errors_runs_every_cell_and_returns_every_error(tmp_path):
    from signbook.execute import execute

    nb = nbformat.read(plain_notebook(tmp_path / "nb.ipynb", "x = 1 / 0", "y = 1", "z = y + w"), 4)
    errors = execute(nb, tmp_path, allow_errors=True)
    assert [(e["cell"], e["name"]) for e in errors] == [(0, "ZeroDivisionError"), (2, "NameError")]
    assert nb.cells[1].execution_count == 2


def test_a_cell_past_the_timeout_stops_the_run_and_is_reported(tmp_path):
    from signbook.execute import TIMEOUT, Result, run_alone

    path = plain_notebook(tmp_path / "slow.ipynb", "x = 1", "import time\ntime.sleep(60)", "y = 2")
    result = run_alone(path, timeout=2, keep=tmp_path / "kept")
    assert result.errors == [{"cell": 1, "name": TIMEOUT, "message": "ran past 2 s"}]
    assert result.timed_out and not result.ok
    assert Result(path, 1.0).ok and not Result(path, 1.0, timed_out=True).ok  # ok means both
    kept = nbformat.read(tmp_path / "kept" / "slow.ipynb", as_version=4)
    assert kept.cells[2].execution_count is None  # the run stopped at the slow cell
