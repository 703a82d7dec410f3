"""Checkers for the book's exercises: ``check("ex-geometry-1", answer)`` says whether an answer is right.

Each chapter has a module here (``signbook.checks.geometry``, ...) whose checkers compute the right
answer with signlab itself, so an answer key can never drift from the library the chapter teaches.
A checker returns :class:`Feedback`, which renders as ✅ or ❌ with a hint in a notebook.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_REGISTRY: dict[str, Callable[[Any], Feedback]] = {}


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``correct`` and a message for the student."""

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
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
    if exercise not in _REGISTRY:
        raise ValueError(
            f"exercise must be one of {', '.join(sorted(_REGISTRY))} (got {exercise!r})"
        )
    if answer is None or answer is Ellipsis:
        return Feedback(exercise, False, "replace the placeholder with your answer")
    return _REGISTRY[exercise](answer)


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
