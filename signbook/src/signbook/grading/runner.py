"""Inside the sandbox: run a submitted notebook cell by cell and write down what happens, as it happens.

    python -I -m signbook.grading.runner NOTEBOOK --cwd DIR --events FILE --python PY --timeout S

Every code cell runs, even after one raises. Each event is one JSON line appended to ``--events``
the moment it happens (``begin``, ``start`` of a cell, ``done`` with its error or null, ``end``), so
the grader knows how far a run got even when it is killed for time or memory. The kernel records
each ``check(label, answer)`` it reaches in the file named by ``SIGNBOOK_RECORD``
(:mod:`signbook.checks`). Nothing here judges anything: the submission controls this process's
whole sandbox, so what it writes is read by the grader as a claim about the student's own answers,
never trusted beyond that (:mod:`signbook.grading.run`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


class _Events:
    """Appends one JSON object per line to a file, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the whole run)

    def write(self, event: str, **fields) -> None:
        """Append ``{"event": event, **fields}``."""
        self.file.write(json.dumps({"event": event, **fields}) + "\n")
        self.file.flush()


def run(notebook: Path, cwd: Path, events: _Events, python: str, timeout: int) -> None:
    """Execute ``notebook`` in ``cwd`` with every cell run, writing its events."""
    import nbformat

    from signbook.execute import execute

    events.write("begin")
    try:
        nb = nbformat.read(notebook, as_version=4)
        execute(
            nb,
            cwd,
            python=python,
            timeout=timeout,
            allow_errors=True,
            on_cell_start=lambda index: events.write("start", cell=index),
            on_cell_done=lambda index, error: events.write("done", cell=index, error=error),
        )
    except Exception as err:  # nbclient's DeadKernelError among them
        events.write("end", error=f"{type(err).__name__}: {err}"[:500])
        return
    events.write("end", error=None)


def main(argv: list[str] | None = None) -> int:
    """The command line above (the grader's sandbox runs it; not for people)."""
    parser = argparse.ArgumentParser(prog="python -m signbook.grading.runner")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--cwd", type=Path, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--timeout", type=int, required=True, help="seconds per cell")
    args = parser.parse_args(argv)
    run(args.notebook, args.cwd, _Events(args.events), args.python, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
