"""One submission through the sandbox, and what it reported, read as plain data.

The sandbox (:class:`signbook.sandbox.Sandbox`) sees a private folder holding only the submission
(``/home/student``, its working folder) and the runner's report folder (``/grading``); the grader
reads the report after the sandbox has ended, every process of it gone. The report is JSON lines
only (never pickle), read with limits on its size, and only as claims about this student's own
answers and cells: a submission that forges it changes nothing but its own messages, and its
answers are judged like any other (:mod:`signbook.grading.judge`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from signbook.checks import RECORD_ENV
from signbook.sandbox import Outcome, Sandbox, SandboxError

HOME = "/home/student"
"""The submission's working folder inside the sandbox."""

REPORT = "/grading"
"""The runner's report folder inside the sandbox."""

MOST_BYTES = 16 * 1024**2
"""Bytes of each report file the grader reads (the rest is ignored)."""

LAUNCH_FAILED = (1, 125, 126, 127)
"""Exit statuses of a sandbox that never started its command: bwrap's own failure (1), the
launcher's (125), a command that cannot run (126, 127)."""

MOST_TEXT = 300
"""Characters of an error message kept."""


@dataclass
class RunReport:
    """What one run of a submission reported, and how the sandbox ended.

    ``answers``: the last answer recorded for each exercise, as JSON data (:func:`signbook.checks.
    to_json`'s form). ``cells``: for each code cell that started (its index in the notebook),
    ``{"done": bool, "error": {"name", "message"} | None}``. ``ended``: the runner finished;
    ``end_error``: why the run ended early from inside (the kernel died). ``stopped``: why the
    sandbox was killed (``"time"``, ``"memory"``, ``"disk"``); ``oom_killed``: the cgroup's
    out-of-memory killer fired.
    """

    answers: dict[str, Any] = field(default_factory=dict)
    cells: dict[int, dict] = field(default_factory=dict)
    ended: bool = False
    end_error: str | None = None
    stopped: str | None = None
    oom_killed: bool = False
    seconds: float = 0.0
    memory_peak: int = 0

    @property
    def running(self) -> int | None:
        """The cell that had started and not finished when the run ended, if one had."""
        open_cells = [k for k, c in self.cells.items() if not c["done"]]
        return max(open_cells) if open_cells else None

    def errors(self) -> list[tuple[int, dict]]:
        """(cell, error) of every cell that raised, in order."""
        return [(k, c["error"]) for k, c in sorted(self.cells.items()) if c.get("error")]

    def to_dict(self) -> dict:
        """This report as JSON data (the results store keeps it)."""
        data = asdict(self)
        data["cells"] = {str(k): v for k, v in self.cells.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunReport:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        data["cells"] = {int(k): v for k, v in data.get("cells", {}).items()}
        return cls(**data)


def _lines(path: Path) -> list[dict]:
    """The JSON objects of the first :data:`MOST_BYTES` of ``path``, one per line; others skipped."""
    if not path.is_file() or path.is_symlink():
        return []
    with open(path, "rb") as f:
        data = f.read(MOST_BYTES)
    found = []
    for line in data.splitlines():
        try:
            item = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def _text(value: Any) -> str:
    return str(value)[:MOST_TEXT] if value is not None else ""


def read_answers(path: Path) -> dict[str, Any]:
    """The last answer recorded for each exercise in the kernel's record file."""
    answers: dict[str, Any] = {}
    for item in _lines(path):
        label = item.get("exercise")
        if isinstance(label, str) and 0 < len(label) <= 200 and "answer" in item:
            answers[label] = item["answer"]
    return answers


def read_events(path: Path, cells: int) -> tuple[dict[int, dict], bool, str | None]:
    """(cells, ended, end_error) from the runner's events, for a notebook of ``cells`` cells."""
    found: dict[int, dict] = {}
    ended, end_error = False, None
    for item in _lines(path):
        event, index = item.get("event"), item.get("cell")
        if event == "end":
            ended, end_error = True, _text(item.get("error")) or None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < cells:
            continue
        if event == "start":
            found[index] = {"done": False, "error": None}
        elif event == "done":
            error = item.get("error")
            if isinstance(error, dict):
                error = {"name": _text(error.get("name")), "message": _text(error.get("message"))}
            else:
                error = None
            found[index] = {"done": True, "error": error}
    return found, ended, end_error


def kernel_env(python: str, threads: int) -> dict[str, str]:
    """The whole environment of the runner and the kernel: nothing of the grader's own."""
    return {
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",  # not the working folder, which holds only the submission
        "USER": "student",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
        RECORD_ENV: f"{REPORT}/answers.jsonl",
    }


def run_submission(
    nb: nbformat.NotebookNode,
    sandbox: Sandbox,
    *,
    timeout: float,
    python: str | None = None,
    threads: int = 1,
) -> RunReport:
    """Run ``nb`` (outputs cleared first) in ``sandbox`` for at most ``timeout`` seconds.

    Raises :class:`SandboxError` when the runner never started: the machine's fault, not the
    student's (the grader then reports it and keeps no result for this submission).
    """
    python = python or sys.executable
    box = Path(tempfile.mkdtemp(prefix="signbook-box-"))
    try:
        folders = {name: box / name.strip("/").replace("/", "-") for name in (HOME, REPORT)}
        folders["/tmp"] = box / "tmp"
        folders["/dev/shm"] = box / "shm"
        for folder in folders.values():
            folder.mkdir()
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(nb, folders[HOME] / "submission.ipynb")
        sandbox.prepare(box)  # the box (mode 700) and all in it: the sandbox user's
        argv = [sys.executable, "-I", "-m", "signbook.grading.runner"]
        argv += [f"{HOME}/submission.ipynb", "--cwd", HOME, "--events", f"{REPORT}/events.jsonl"]
        argv += ["--python", python, "--timeout", str(int(timeout) + 5)]
        outcome = sandbox.run(
            argv, writable=folders, cwd=HOME, env=kernel_env(python, threads), timeout=timeout
        )
        return _report(outcome, folders[REPORT], len(nb.cells))
    finally:
        remove(box)


def remove(folder: Path) -> None:
    """Delete ``folder`` and all in it, even what the submission made unwritable."""
    for root, dirs, _ in os.walk(folder):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    shutil.rmtree(folder, ignore_errors=True)


def _report(outcome: Outcome, folder: Path, cells: int) -> RunReport:
    events = folder / "events.jsonl"
    launch_failed = outcome.returncode in LAUNCH_FAILED or "bwrap:" in outcome.stderr
    if not events.exists() and outcome.stopped is None and launch_failed:
        raise SandboxError(
            f"the runner did not start (exit {outcome.returncode}): "
            f"{outcome.stderr.strip()[-600:] or 'no message'}"
        )
    found, ended, end_error = read_events(events, cells)
    if not events.exists():
        end_error = "the run left no report (its events file is gone)"
    return RunReport(
        answers=read_answers(folder / "answers.jsonl"),
        cells=found,
        ended=ended,
        end_error=end_error,
        stopped=outcome.stopped,
        oom_killed=outcome.oom_killed,
        seconds=round(outcome.seconds, 3),
        memory_peak=outcome.memory_peak,
    )


THREADS = 1
"""Math-library threads of each kernel unless told otherwise (``--threads``). One: on this
project's 2-core machine the geometry chapter ran 2.2 times faster graded with one thread than with
two (2.0-2.4 over 4 rounds, ``benchmarks/grader.md``); parallel jobs, not threads, use the cores."""
