"""What a submission is graded on: the exercises and their points, from the instructor.

Never from the submission: a student who trims the notebook's metadata or deletes answer cells still
has every exercise of the assignment counted, at zero where there is no answer. The exercises come
from the book's chapter (``--chapter NAME``) or from the **release manifest** (``--manifest``), a
JSON file that ``python -m signbook.edition student`` writes beside the student notebooks
(:data:`MANIFEST`) and the instructor keeps, and may edit::

    {"format": 1, "source": "https://github.com/OWNER/signlab@<commit>",
     "chapters": {"geometry": {"exercises": [{"label": "ex-geometry-1", "public_points": 1}, ...]}}}

``public_points`` is what the book's public check of the exercise is worth (0 turns it off); the
instructor's hidden checks add their own points (:mod:`signbook.grading.hidden`), and one marked
``replaces_public`` sets the public check to 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from signbook.grading.hidden import HiddenChecks

MANIFEST = "grading.json"
"""The release manifest's file name, in the student release's folder."""

FORMAT = 1


@dataclass(frozen=True)
class Exercise:
    """One exercise of an assignment and what its public check is worth."""

    label: str
    public_points: float = 1.0


@dataclass(frozen=True)
class Assignment:
    """The exercises a submission is graded on, in order; ``name`` titles the grade-book column."""

    name: str
    exercises: tuple[Exercise, ...]

    @property
    def labels(self) -> list[str]:
        """The exercises' labels, in order."""
        return [e.label for e in self.exercises]

    def public_points(self, label: str, hidden: HiddenChecks) -> float:
        """What the public check of ``label`` is worth: 0 when a hidden check replaces it."""
        if hidden.replace_public(label):
            return 0.0
        return next(e.public_points for e in self.exercises if e.label == label)

    def max_points(self, label: str, hidden: HiddenChecks) -> float:
        """What ``label`` is worth in all: its public check and its hidden checks."""
        return self.public_points(label, hidden) + hidden.points(label)

    def with_public_points(self, points: float) -> Assignment:
        """This assignment with every public check worth ``points`` (the ``--public-points``)."""
        if points < 0:
            raise ValueError(f"public points must be >= 0 (got {points!r})")
        return Assignment(self.name, tuple(Exercise(e.label, points) for e in self.exercises))

    def problems(self, hidden: HiddenChecks, public: set[str]) -> list[str]:
        """What makes this assignment ungradable, with ``public`` the labels that have a public
        check: an exercise worth nothing, a public check that does not exist, a hidden check of
        no exercise here. Empty when all is well."""
        found = []
        for label in self.labels:
            if self.max_points(label, hidden) <= 0:
                found.append(f"{label} is worth 0 points (no public points, no hidden check)")
            if self.public_points(label, hidden) > 0 and label not in public:
                found.append(
                    f"{label} has no public check: give it public_points 0 and a hidden check"
                )
        for label in sorted(set(hidden.checks) - set(self.labels)):
            found.append(f"a hidden check is for {label}, which this assignment does not have")
        return found


def _exercise(item: object, where: str) -> Exercise:
    if isinstance(item, str):
        item = {"label": item}
    if not isinstance(item, dict) or not isinstance(item.get("label"), str) or not item["label"]:
        raise ValueError(f"{where}: each exercise needs a label (got {item!r})")
    points = item.get("public_points", 1)
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise ValueError(f"{where}: public_points of {item['label']} must be >= 0 (got {points!r})")
    return Exercise(item["label"], float(points))


def from_manifest(path: Path, chapter: str | None = None) -> Assignment:
    """The assignment of ``chapter`` in the manifest at ``path`` (its only chapter when None)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the manifest {path}: {err}") from None
    chapters = data.get("chapters") if isinstance(data, dict) else None
    if not isinstance(chapters, dict) or not chapters:
        raise ValueError(f"{path}: no chapters (is it a signbook grading manifest?)")
    if chapter is None:
        if len(chapters) > 1:
            raise ValueError(
                f"{path} has chapters {', '.join(chapters)}: say which one with --chapter"
            )
        chapter = next(iter(chapters))
    if chapter not in chapters:
        raise ValueError(f"chapter must be one of {', '.join(chapters)} (got {chapter!r})")
    items = chapters[chapter].get("exercises") if isinstance(chapters[chapter], dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path}: chapter {chapter} lists no exercises")
    exercises = tuple(_exercise(item, f"{path}, chapter {chapter}") for item in items)
    if len({e.label for e in exercises}) != len(exercises):
        raise ValueError(f"{path}: chapter {chapter} lists an exercise twice")
    return Assignment(chapter, exercises)


def manifest(book) -> dict:
    """The release manifest of ``book`` (a :class:`signbook.edition.Book`): every chapter with
    exercises, each exercise's public check worth 1 point."""
    chapters = {}
    for chapter in book.project.notebooks():
        labels = [e.label for e in book.exercises(chapter)]
        if labels:
            chapters[chapter.name] = {
                "exercises": [{"label": label, "public_points": 1} for label in labels]
            }
    return {
        "format": FORMAT,
        "source": f"{book.project.repository_url}@{book.ref}",
        "chapters": chapters,
    }


def write_manifest(book, out: Path) -> Path:
    """Write :func:`manifest` of ``book`` to ``out/grading.json``; returns its path."""
    path = Path(out) / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest(book), indent=1) + "\n", encoding="utf-8")
    return path


def from_book(root: Path, chapter: str) -> Assignment:
    """The assignment of ``chapter`` as the book at ``root`` has it (each public check 1 point)."""
    from signbook.edition import Book

    data = manifest(Book(Path(root)))
    if chapter not in data["chapters"]:
        names = ", ".join(data["chapters"])
        raise ValueError(f"chapter must be one of {names} (got {chapter!r})")
    items = data["chapters"][chapter]["exercises"]
    return Assignment(chapter, tuple(_exercise(item, chapter) for item in items))
