"""Who a submission belongs to: a roster, the notebook's metadata, or its file name.

Colab downloads of one chapter all have the chapter's name, and learning platforms rename files
their own way, so the file name alone is a poor student id. In order:

1. the **roster** (``--roster roster.csv``): the row whose ``file`` column is the submission's file
   name (with or without ``.ipynb``) gives its ``student`` id;
2. the notebook's metadata ``{"signbook": {"student": ID}}`` (JupyterLab: *Property Inspector → Notebook
   metadata*); with a roster it must be one of the roster's ids;
3. the file name without ``.ipynb``.

Two submissions with one id are refused before anything runs: a student who copies another's id
into the metadata cannot overwrite that student's grade. The roster's other columns (``name``,
``email``, ``sis_id``, ``canvas_id``, ``section``, ...) feed the exports of
:mod:`signbook.grading.exports`.
"""

from __future__ import annotations

import csv
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SAFE = re.compile(r"[^A-Za-z0-9._@+-]")


@dataclass
class Roster:
    """The class list: one dict per student (the CSV's columns, lower-cased), ``student`` in each."""

    rows: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Roster:
        """Read a roster CSV: a header with a ``student`` column (the id the grades carry), and
        optionally ``file`` and any columns for the exports."""
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            if "student" not in header:
                raise ValueError(f"{path}: the roster needs a 'student' column (has {header})")
            rows = []
            for raw in reader:
                row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
                if row.get("student"):
                    rows.append(row)
        ids = [r["student"] for r in rows]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"{path}: students listed twice: {', '.join(twice)}")
        return cls(rows)

    def get(self, student: str) -> dict[str, str] | None:
        """The roster row of ``student``, if listed."""
        return next((r for r in self.rows if r["student"] == student), None)

    def by_file(self, path: Path) -> str | None:
        """The student whose ``file`` column names ``path`` (with or without its suffix)."""
        names = {Path(path).name, Path(path).stem}
        return next((r["student"] for r in self.rows if r.get("file") in names), None)


def _metadata_id(nb: nbformat.NotebookNode) -> str | None:
    """The id in the notebook's metadata (``"student"`` under ``"signbook"``), if a short string."""
    meta = nb.get("metadata", {}).get("signbook", {})
    value = meta.get("student") if isinstance(meta, dict) else None
    if isinstance(value, str) and 0 < len(value.strip()) <= 100:
        return value.strip()
    return None


def _student_id(path: Path, nb: nbformat.NotebookNode | None, roster: Roster | None) -> str:
    """The id of the submission at ``path`` (``nb``: its notebook, None if unreadable)."""
    if roster is not None and (found := roster.by_file(path)):
        return found
    meta = _metadata_id(nb) if nb is not None else None
    if meta and (roster is None or roster.get(meta) is not None):
        return meta
    return Path(path).stem


def identify(paths: list[Path], roster: Roster | None = None) -> dict[Path, str]:
    """The student id of each submission; ``ValueError`` naming the files when two share one."""
    ids: dict[Path, str] = {}
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            nb = None
        ids[Path(path)] = _student_id(Path(path), nb, roster)
    by_id: dict[str, list[str]] = {}
    for path, sid in ids.items():
        by_id.setdefault(sid, []).append(str(path))
    clashes = {sid: files for sid, files in by_id.items() if len(files) > 1}
    if clashes:
        lines = [f"  {sid}: {', '.join(files)}" for sid, files in sorted(clashes.items())]
        raise ValueError(
            "several submissions claim one student (fix the files or the roster):\n"
            + "\n".join(lines)
        )
    return ids


def slug(student: str) -> str:
    """``student`` as a file name: safe characters only, and a checksum when any was replaced
    (so two ids never share a feedback file)."""
    safe = SAFE.sub("_", student)[:80] or "_"
    if safe != student or safe.startswith("."):
        safe = f"{safe.lstrip('.') or '_'}-{zlib.crc32(student.encode()):08x}"
    return safe
