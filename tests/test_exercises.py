"""Every exercise checker accepts the book's solution and rejects wrong answers."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from signbook.checks import Feedback, check, close, exercises

ROOT = Path(__file__).resolve().parents[1]


def solution_calls():
    """(label, answer source) of every `check("ex-...", answer)` call in the chapters."""
    calls = {}
    for path in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            for label, answer in re.findall(r'check\("(ex-[\w-]+)",\s*(.+?)\)\s*$', source, re.M):
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
