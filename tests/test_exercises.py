"""Every exercise checker accepts the book's solution and rejects wrong answers."""

import math
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

from signbook.checks import NOT_ANSWERED, Feedback, check, close, exercises
from signbook.edition import Book, Cell, Exercise, Solution, segments

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))


def solution_calls():
    """(label, answer source) of every `check("ex-...", answer)` call inside a solution."""
    calls = {}
    for path in CHAPTERS:
        for item in segments(nbformat.read(path, as_version=4), path.name):
            if not isinstance(item, Solution):
                continue
            for part in item.parts:
                if isinstance(part, Cell):
                    pattern = r'check\("(ex-[\w-]+)",\s*(.+?)\)\s*$'
                    for label, answer in re.findall(pattern, part.cell.source, re.M):
                        calls[label] = answer
    return calls


def exercise_labels():
    labels = set()
    for path in (ROOT / "book").glob("*.ipynb"):
        text = path.read_text()
        labels |= set(re.findall(r":label: (ex-[\w-]+)", text))
    return labels


def test_every_exercise_in_the_book_has_a_checker_and_a_solution_check():
    labels = exercise_labels()
    assert labels, "no exercises found"
    assert labels <= set(exercises()), labels - set(exercises())
    assert labels <= set(solution_calls()), labels - set(solution_calls())


@pytest.mark.parametrize("label", sorted(exercise_labels()))
def test_checker_accepts_solution_and_rejects_perturbations(label):
    namespace = {"np": np, "math": math, **{k: v for k, v in vars(math).items() if k[0] != "_"}}
    answer = eval(
        solution_calls()[label], namespace
    )  # the chapters' answers: literals or arithmetic
    assert check(label, answer).correct
    wrong = np.asarray(answer, dtype=float) * 1.37 + 0.11
    assert not check(label, wrong).correct
    assert not check(label, None).correct


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_follows_the_convention(path):
    """Exercise, then an answer cell (`answer = ...`, check), then the gated solution (CONTRIBUTING.md)."""
    book = Book(ROOT, ref="main")
    chapter = next(c for c in book.project.notebooks() if c.path == path)
    not_converted = [e.label for e in book.exercises(chapter) if e.answer_cell is None]
    assert not not_converted, (
        f"{path.name} is not converted to the exercise convention: no answer cell "
        f"(tag 'exercise-answer') after {', '.join(not_converted)}"
    )
    for ex in book.exercises(chapter):
        assert f'check("{ex.label}"' in ex.answer_cell, (path.name, ex.label)
        assert re.search(r"=\s*\.\.\.", ex.answer_cell), (path.name, ex.label, "placeholder ...")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exercise_records_are_the_chapters_exercise_directives(path):
    """Book.exercises gives one Exercise per ```{exercise} directive, in order, with its chapter,
    label, title and question as the notebook's JSON writes them (read here with a regex)."""
    book = Book(ROOT, ref="main")
    chapter = next(c for c in book.project.notebooks() if c.path == path)
    records = book.exercises(chapter)
    directive = (
        r"```\{exercise\} ?(.*)\n:label: (ex-[\w-]+)\n(?::[\w-]+:.*\n)*((?:(?!```).*\n?)*)```"
    )
    sources = ["".join(c.source) for c in nbformat.read(path, as_version=4).cells]
    stated = [m for s in sources for m in re.findall(directive, s)]
    assert all(isinstance(e, Exercise) for e in records)
    assert [(e.chapter, e.label, e.title) for e in records] == [
        (path.stem, label, title.strip()) for title, label, _ in stated
    ]
    for e, (_, _, question) in zip(records, stated, strict=True):
        assert e.question.strip() == question.strip() and "solution" not in e.question.lower()
        assert re.fullmatch(r"\d+\.\d+", e.number), (e.label, e.number)


def test_the_placeholder_is_not_answered_yet():
    label = exercises()[0]
    assert check(label, ...).message == NOT_ANSWERED
    assert not check(label, ...).correct and not check(label, None).correct


def test_feedback_rendering_and_errors():
    good, bad = close("x", 1.0, 1.0), close("x", 2.0, 1.0, hint="try again")
    assert bool(good) and not bool(bad)
    assert "✅" in good._repr_markdown_() and "try again" in str(bad)
    assert not close("x", "abc", 1.0).correct
    assert not close("x", [1.0, 2.0], 1.0).correct
    assert isinstance(good, Feedback)
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("ex-none", 1)


def test_register_refuses_a_second_checker_for_the_same_label():
    from signbook.checks import register

    @register("ex-test-only")
    def first(answer):
        return close("ex-test-only", answer, 1.0)

    assert check("ex-test-only", 1.0).correct
    with pytest.raises(ValueError, match="already has a checker"):
        register("ex-test-only")(lambda answer: close("ex-test-only", answer, 2.0))


def test_judge_gives_the_verdict_without_recording_while_check_records(tmp_path, monkeypatch):
    """The grader judges recorded answers with `judge`: no second record, no traceback."""
    import json

    from signbook.checks import RECORD_ENV, judge, register

    label = "ex-judgetest-1"
    if label not in exercises():
        register(label)(lambda answer: close(label, 1 / answer, 0.5))
    record = tmp_path / "answers.jsonl"
    monkeypatch.setenv(RECORD_ENV, str(record))
    assert judge(label, 2).correct and not judge(label, 3).correct
    assert not record.exists()
    broken = judge(label, 0)  # the checker itself raises ZeroDivisionError
    assert not broken.correct
    assert broken.message.startswith("could not check this answer (ZeroDivisionError")
    assert judge(label, ...) == judge(label, None) == Feedback(label, False, NOT_ANSWERED, False)
    assert str(judge(label, ...)).startswith("✎ Your turn") and "❌" in str(judge(label, 3))
    assert check(label, 2).correct and check(label, [2, 3]).correct is False
    assert [json.loads(line) for line in record.read_text().splitlines()] == [
        {"exercise": label, "answer": 2},
        {"exercise": label, "answer": [2, 3]},
    ]
