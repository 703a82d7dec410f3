"""The grader (signbook.course) on made-up submissions, the notebook runner under it (signbook.execute),
and the instructor page's exercise table.

The submissions answer two exercises that exist only in this test: the checkers are registered here for
the grader's process and, in the same words, by each submission's first cell for its own kernel. The
expected rows are written out by hand.
"""

import csv
import sys
import textwrap

import nbformat
import pytest

from signbook import course
from signbook.checks import close, register
from signbook.checks import exercises as registered

LABELS = ["ex-coursetest-1", "ex-coursetest-2"]
REGISTER = textwrap.dedent(
    """
    from signbook.checks import check, close, register, exercises
    if "ex-coursetest-1" not in exercises():
        register("ex-coursetest-1")(lambda a: close("ex-coursetest-1", a, 2.5))
        register("ex-coursetest-2")(lambda a: close("ex-coursetest-2", a, [1.0, 2.0]))
    """
)
if "ex-coursetest-1" not in registered():
    register("ex-coursetest-1")(lambda a: close("ex-coursetest-1", a, 2.5))
    register("ex-coursetest-2")(lambda a: close("ex-coursetest-2", a, [1.0, 2.0]))


def submission(path, *answer_cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["signbook"] = {"edition": "student", "exercises": LABELS}
    nb.cells = [nbformat.v4.new_code_cell(REGISTER)]
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c).strip()) for c in answer_cells]
    nbformat.write(nb, path)
    return path


ANSWER_1 = 'answer = 2.5\ncheck("ex-coursetest-1", answer)'
ANSWER_2 = 'answer = [1, 2]\ncheck("ex-coursetest-2", answer)'


@pytest.fixture
def submissions(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    subs = [
        submission(folder / "alice.ipynb", ANSWER_1, ANSWER_2),
        submission(folder / "bob.ipynb", 'check("ex-coursetest-1", 3.0)', ANSWER_2),
        submission(
            folder / "carol.ipynb", 'answer = 1 / 0\ncheck("ex-coursetest-1", answer)', ANSWER_2
        ),
        submission(
            folder / "dave.ipynb",
            'answer = ...\ncheck("ex-coursetest-1", answer)',
            'check("ex-coursetest-2", undefined_name)',
        ),
        submission(folder / "erin.ipynb", ANSWER_1, "while True:\n    pass", ANSWER_2),
    ]
    junk = folder / "frank.ipynb"
    junk.write_text("this is not a notebook {")
    return [*subs, junk]


@pytest.mark.slow
def test_grader_on_made_up_submissions(submissions, tmp_path, monkeypatch):
    monkeypatch.setattr(course, "_HIDDEN", {})
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "coursetest.py").write_text(
        "from signbook.course import hidden\n\n"
        "@hidden('ex-coursetest-1', points=2)\n"
        "def exact(answer):\n"
        "    return isinstance(answer, float) and answer == 2.5\n"
    )
    assert course.load_hidden(hidden) == 1
    out = tmp_path / "grades.csv"
    rows = course.grade(submissions, out, tmp_path / "feedback", timeout=20)
    with open(out, newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["student"] for r in table] == [r.student for r in rows]
    got = {
        (r["student"], r["exercise"]): (r["points"], r["max_points"], r["message"]) for r in table
    }
    expected = {
        ("alice", "ex-coursetest-1"): ("3", "3", "correct"),
        ("alice", "ex-coursetest-2"): ("1", "1", "correct"),
        ("bob", "ex-coursetest-1"): ("0", "3", "this does not match"),
        ("bob", "ex-coursetest-2"): ("1", "1", "correct"),
        ("carol", "ex-coursetest-1"): ("0", "3", "raised ZeroDivisionError in cell 1"),
        ("carol", "ex-coursetest-2"): ("1", "1", "correct"),  # the run went on after the error
        ("dave", "ex-coursetest-1"): ("0", "3", "not answered yet"),
        ("dave", "ex-coursetest-2"): ("0", "1", "never ran"),
        ("erin", "ex-coursetest-1"): ("3", "3", "correct"),  # answered before the loop
        ("erin", "ex-coursetest-2"): ("0", "1", "ran past its 20 s limit"),
        ("frank", ""): ("0", "0", "not a readable notebook"),
    }
    assert set(got) == set(expected)
    for key, (points, max_points, message) in expected.items():
        assert got[key][:2] == (points, max_points), (key, got[key])
        assert message in got[key][2], (key, got[key])
    assert "NameError" in got[("dave", "ex-coursetest-2")][2]
    feedback = (tmp_path / "feedback" / "alice.md").read_text()
    assert "**Total: 4 / 4**" in feedback
    assert "not a readable notebook" in (tmp_path / "feedback" / "frank.md").read_text()


@pytest.mark.slow
def test_grade_command_line(submissions, tmp_path):
    import subprocess

    out = tmp_path / "cli.csv"
    result = subprocess.run(
        [sys.executable, "-m", "signbook.course", "grade", str(submissions[5]), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "not a readable notebook" in out.read_text()
    assert (tmp_path / "feedback" / "frank.md").exists()


def test_grade_writes_a_row_and_a_feedback_file_even_for_what_it_cannot_run(tmp_path):
    """Submissions graded without starting a kernel: one that is not a notebook, one without exercises."""
    junk = tmp_path / "frank.ipynb"
    junk.write_text("this is not a notebook {")
    empty = tmp_path / "grace.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1  # never checks anything")]
    nbformat.write(nb, empty)
    rows = course.grade([junk, empty], tmp_path / "grades.csv", tmp_path / "fb")
    frank, grace = rows
    assert (frank.student, frank.exercise, frank.points, frank.max_points) == ("frank", "", 0, 0)
    assert frank.message.startswith("not a readable notebook (")
    assert grace == course.Row("grace", "", 0.0, 0.0, "no exercises found in this notebook")
    with open(tmp_path / "grades.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["student", "exercise", "points", "max_points", "message"]
    assert table[2] == ["grace", "", "0", "0", "no exercises found in this notebook"]
    assert (tmp_path / "fb" / "grace.md").read_text() == (
        "# Feedback for grace\n\n**Total: 0 / 0**\n\n"
        "| exercise | points | message |\n|---|---|---|\n"
        "| - | 0 / 0 | no exercises found in this notebook |\n"
    )


def test_grade_answer_without_running_anything(monkeypatch):
    monkeypatch.setattr(course, "_HIDDEN", {})
    assert course.grade_answer("ex-coursetest-1", 2.5) == (1.0, 1.0, "correct")
    assert course.grade_answer("ex-coursetest-1", ...)[2] == "not answered yet"
    points, _, message = course.grade_answer("ex-coursetest-2", "two")
    assert points == 0 and "expected a number" in message

    @course.hidden("ex-coursetest-2", points=0.5)
    def broken(answer):
        raise RuntimeError("instructor bug")

    assert course.grade_answer("ex-coursetest-2", [1, 2]) == (
        1.0,
        1.5,
        "hidden check failed (RuntimeError)",
    )
    with pytest.raises(ValueError, match="points must be positive"):
        course.hidden("ex-coursetest-2", points=0)


def test_answers_travel_as_json():
    import numpy as np

    from signbook.checks import _Unsupported, from_json, to_json

    assert to_json((1, np.float32(2.5), np.array([[1, 2]]))) == [1, 2.5, [[1, 2]]]
    assert from_json(to_json(...)) is Ellipsis
    assert from_json(to_json(object())) == _Unsupported("object")
    assert to_json("sgd") == "sgd" and to_json(None) is None and to_json(True) is True


def test_expected_exercises_from_metadata_or_check_calls():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('check("ex-a-1", 1)\ncheck("ex-a-2", x)\ncheck("ex-a-1", 2)')
    ]
    assert course.expected_exercises(nb) == ["ex-a-1", "ex-a-2"]
    nb.metadata["signbook"] = {"exercises": ["ex-b-1"]}
    assert course.expected_exercises(nb) == ["ex-b-1"]


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
def notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)
    return path


def test_run_alone_runs_in_an_empty_folder_and_stops_at_the_first_error(tmp_path):
    from signbook.execute import run_alone

    path = notebook(
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

    nb = nbformat.read(notebook(tmp_path / "nb.ipynb", "x = 1 / 0", "y = 1", "z = y + w"), 4)
    errors = execute(nb, tmp_path, allow_errors=True)
    assert [(e["cell"], e["name"]) for e in errors] == [(0, "ZeroDivisionError"), (2, "NameError")]
    assert nb.cells[1].execution_count == 2


def test_a_cell_past_the_timeout_stops_the_run_and_is_reported(tmp_path):
    from signbook.execute import TIMEOUT, Result, run_alone

    path = notebook(tmp_path / "slow.ipynb", "x = 1", "import time\ntime.sleep(60)", "y = 2")
    result = run_alone(path, timeout=2, keep=tmp_path / "kept")
    assert result.errors == [{"cell": 1, "name": TIMEOUT, "message": "ran past 2 s"}]
    assert result.timed_out and not result.ok
    assert Result(path, 1.0).ok and not Result(path, 1.0, timed_out=True).ok  # ok means both
    kept = nbformat.read(tmp_path / "kept" / "slow.ipynb", as_version=4)
    assert kept.cells[2].execution_count is None  # the run stopped at the slow cell
