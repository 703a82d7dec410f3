"""Hidden checks: the instructor's own checks of an exercise, which students never see.

They live in a folder the instructor keeps (``--hidden DIR``), each file registering checks with
:func:`hidden`::

    from signbook.course import hidden

    @hidden("ex-geometry-4", points=2, replaces_public=True)
    def renumbered(answer):
        return answer == [-2.5, 2.5, -2.5]

The registry is this module's :data:`REGISTRY`, never a module that can run as ``__main__``: under
``python -m signbook.course`` the command line is a second copy of ``signbook.course``, and a
registry there would not be the one a hidden file's ``from signbook.course import hidden`` fills
(the checks were silently ignored). :func:`load` also says when a file registers nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signbook.checks import Feedback


@dataclass(frozen=True)
class HiddenCheck:
    """One hidden check: ``fn(answer) -> bool | Feedback`` worth ``points`` for ``exercise``."""

    exercise: str
    fn: Callable[[Any], Any]
    points: float
    replaces_public: bool = False
    source: str = ""

    def run(self, answer: Any) -> tuple[bool, str]:
        """(passed, message) for ``answer``; a check that raises fails, saying so."""
        try:
            result = self.fn(answer)
        except Exception as err:  # an instructor's bug must not stop the grading
            return False, f"hidden check failed ({type(err).__name__})"
        if isinstance(result, Feedback):
            return result.correct, result.message
        return bool(result), "" if result else "a hidden check failed"


@dataclass
class HiddenChecks:
    """The hidden checks of a grading run, by exercise."""

    checks: dict[str, list[HiddenCheck]] = field(default_factory=dict)

    def add(self, check: HiddenCheck) -> None:
        """Register ``check``."""
        self.checks.setdefault(check.exercise, []).append(check)

    def of(self, exercise: str) -> list[HiddenCheck]:
        """The hidden checks of ``exercise`` (none: an empty list)."""
        return self.checks.get(exercise, [])

    def points(self, exercise: str) -> float:
        """What the hidden checks of ``exercise`` are worth together."""
        return sum(c.points for c in self.of(exercise))

    def replace_public(self, exercise: str) -> bool:
        """True when a hidden check of ``exercise`` replaces its public check (worth 0 then)."""
        return any(c.replaces_public for c in self.of(exercise))

    def clear(self) -> None:
        """Forget every check (tests; a long-lived process grading twice)."""
        self.checks.clear()


REGISTRY = HiddenChecks()
"""The checks :func:`hidden` registers, which the grader uses."""


def hidden(exercise: str, points: float = 1.0, *, replaces_public: bool = False) -> Callable:
    """Decorator for an instructor's hidden check of ``exercise``: ``fn(answer) -> bool | Feedback``.

    ``points`` (> 0) is what passing it is worth. ``replaces_public=True`` sets the exercise's public
    check to 0 points: use it when you changed the exercise's numbers, so that the book's answer no
    longer scores. The answer arrives as plain data (numbers, strings, lists; tuples, arrays and
    tensors as lists).
    """
    if not isinstance(points, (int, float)) or points <= 0:
        raise ValueError(f"points must be positive (got {points!r})")
    if not isinstance(exercise, str) or not exercise:
        raise ValueError(f"exercise must be a label such as 'ex-geometry-1' (got {exercise!r})")

    def decorate(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        source = getattr(sys.modules.get(fn.__module__), "__file__", "") or ""
        REGISTRY.add(HiddenCheck(exercise, fn, float(points), replaces_public, source))
        return fn

    return decorate


def load(folder: Path) -> int:
    """Import every ``*.py`` in ``folder`` (their :func:`hidden` checks register in
    :data:`REGISTRY`); returns how many checks they registered.

    Raises ``ValueError`` for a missing folder, a folder without ``*.py`` files, or a file that
    registers no check (a typo in the import would otherwise drop its points without a word).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"hidden checks folder {folder} does not exist")
    files = sorted(folder.glob("*.py"))
    if not files:
        raise ValueError(f"hidden checks folder {folder} holds no *.py file")
    total = 0
    for path in files:
        before = sum(len(v) for v in REGISTRY.checks.values())
        name = f"signbook_hidden_{zlib.crc32(str(path.resolve()).encode()):08x}_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"hidden checks file {path} cannot be imported")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        added = sum(len(v) for v in REGISTRY.checks.values()) - before
        if added == 0:
            raise ValueError(
                f"{path} registers no hidden check: decorate its checks with "
                "@hidden(...) from signbook.course (or signbook.grading.hidden)"
            )
        total += added
    return total
