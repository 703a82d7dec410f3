"""Checkers for the book's exercises: ``check("ex-geometry-1", answer)`` says whether an answer is right.

Each chapter has a module here (``signbook.checks.geometry``, ...) whose checkers compute the right
answer with signlab itself, so an answer key can never drift from the library the chapter teaches.
A checker returns :class:`Feedback`, which renders as ✅ or ❌ with a hint in a notebook.

These are the *public* checks: the book's readers get them (the public book shows the solutions anyway).
Checks that students must not see are the instructor's and live outside this package
(:mod:`signbook.course`). When the grader runs a submission it sets ``SIGNBOOK_RECORD`` to a file, and
:func:`check` appends each answer it is given there (as JSON), so the grader can judge the answers in
its own process, with the hidden checks, whatever the submitted code did to its own kernel. While
recording, an exercise without a public check (one an instructor added) is recorded too, for the
hidden checks, instead of raising.
"""

from __future__ import annotations

import importlib
import json
import numbers
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_REGISTRY: dict[str, Callable[[Any], Feedback]] = {}
RECORD_ENV = "SIGNBOOK_RECORD"
NOT_ANSWERED = "not answered yet: replace the placeholder `...` with your answer"


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``correct`` and a message for the student.

    ``answered`` is False for the placeholder: an exercise not tried yet reads as an invitation
    ("✎ Your turn"), not as a wrong answer.
    """

    exercise: str
    correct: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        if not self.answered:
            mark = "✎ Your turn"
        else:
            mark = "✅ Correct" if self.correct else "❌ Not yet"
        return f"{mark} ({self.exercise}): {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{str(self)}**" if self.correct else str(self)


def register(exercise: str) -> Callable[[Callable[[Any], Feedback]], Callable[[Any], Feedback]]:
    """Decorator registering ``fn(answer) -> Feedback`` as the checker of ``exercise``."""

    def decorate(fn: Callable[[Any], Feedback]) -> Callable[[Any], Feedback]:
        if exercise in _REGISTRY and _REGISTRY[exercise] is not fn:
            raise ValueError(f"exercise {exercise!r} already has a checker")
        _REGISTRY[exercise] = fn
        return fn

    return decorate


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def exercises() -> list[str]:
    """The labels of all exercises that have a checker."""
    _load_all()
    return sorted(_REGISTRY)


def check(exercise: str, answer: Any) -> Feedback:
    """Check ``answer`` to ``exercise`` (its label in the book, e.g. ``"ex-geometry-1"``)."""
    _load_all()
    recording = bool(os.environ.get(RECORD_ENV))
    if recording and isinstance(exercise, str):
        _record(os.environ[RECORD_ENV], exercise, answer)
    if exercise not in _REGISTRY:
        if recording:  # an instructor's own exercise, judged by the grader's hidden checks
            return Feedback(str(exercise), False, "recorded for grading (no public check)")
        raise ValueError(
            f"exercise must be one of {', '.join(sorted(_REGISTRY))} (got {exercise!r})"
        )
    return judge(exercise, answer)


def judge(exercise: str, answer: Any) -> Feedback:
    """The public checker's verdict, without recording (``...`` and ``None`` are "not answered yet")."""
    _load_all()
    if answer is None or answer is Ellipsis:
        return Feedback(exercise, False, NOT_ANSWERED, answered=False)
    try:
        return _REGISTRY[exercise](answer)
    except Exception as err:  # a malformed answer must give feedback, not a traceback
        return Feedback(
            exercise, False, f"could not check this answer ({type(err).__name__}: {err})"
        )


def to_json(value: Any) -> Any:
    """``value`` as JSON data: numbers, strings, lists (tuples, arrays and tensors via ``tolist``).

    ``...`` becomes ``{"ellipsis": true}``; anything else becomes ``{"unsupported": "<type>"}``, which
    the grader reports instead of guessing.
    """
    if value is Ellipsis:
        return {"ellipsis": True}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, numbers.Complex):
        return {"unsupported": "complex"}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):
        try:
            return to_json(value.tolist())
        except Exception:
            pass
    try:
        return float(value)
    except Exception:
        return {"unsupported": type(value).__name__}


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json` for what it can represent (lists stay lists)."""
    if isinstance(value, dict):
        return Ellipsis if value.get("ellipsis") else _Unsupported(value.get("unsupported", "?"))
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


@dataclass(frozen=True)
class _Unsupported:
    type_name: str


def _record(path: str, exercise: str, answer: Any) -> None:
    try:
        line = json.dumps({"exercise": exercise, "answer": to_json(answer)})
    except (TypeError, ValueError, RecursionError):
        line = json.dumps({"exercise": exercise, "answer": {"unsupported": "unserializable"}})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def close(
    exercise: str,
    answer: Any,
    expected: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hint: str = "",
    praise: str = "",
) -> Feedback:
    """Feedback for a numeric answer (scalar or array) compared with ``expected`` to a tolerance."""
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        return Feedback(
            exercise, False, f"expected a number or an array of numbers, got {answer!r}"
        )
    want = np.asarray(expected, dtype=float)
    if got.shape != want.shape:
        return Feedback(
            exercise, False, f"expected shape {want.shape}, got {got.shape}. {hint}".strip()
        )
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return Feedback(exercise, True, praise or "matches the value computed with signlab.")
    return Feedback(exercise, False, hint or "this does not match; recheck your computation.")
