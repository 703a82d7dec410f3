"""A run's JSONL log and its progress display, as one context manager: :class:`RunLog`.

Every record is one JSON line in ``<out>/log.jsonl``, flushed as it is written, so a crash loses
nothing already logged. Progress goes to stderr: a tqdm bar on a terminal, a notebook progress bar in Jupyter and
Colab, and when stderr is a file or a pipe (a batch job, ``> run.log 2>&1``) about ten plain
lines per run instead of the thousands of carriage-return updates a bar would write.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from signlab._io import atomic_write

if TYPE_CHECKING:
    from tqdm import tqdm as _Bar

LOG_NAME = "log.jsonl"
PLAIN_LINES = 10  # progress lines per run when stderr is not a terminal


def read_log(out: str | os.PathLike) -> list[dict]:
    """The JSONL records of the run in directory ``out``, in order (empty if it has no log)."""
    path = Path(out) / LOG_NAME
    if not path.exists():
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_records(path: Path, records: list[dict]) -> None:
    """Replace the file at ``path`` by ``records`` as JSON lines, atomically (all or nothing)."""
    with atomic_write(path) as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def in_notebook() -> bool:
    """True inside a Jupyter or Colab kernel (where tqdm draws a notebook progress bar)."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None else None
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class Progress:
    """Progress of steps ``start … total``: a tqdm bar on a terminal or in a notebook, else plain
    periodic lines."""

    def __init__(self, total: int, start: int, desc: str, enabled: bool = True, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.desc, self.enabled = total, desc, enabled
        self.every = max(1, total // PLAIN_LINES)
        self.t0 = time.perf_counter()
        self.bar: _Bar[Any] | None = None
        if enabled and in_notebook() and stream is None:
            from tqdm.notebook import tqdm as notebook_tqdm

            try:
                self.bar = notebook_tqdm(total=total, initial=start, desc=desc)
            except ImportError:  # no ipywidgets: plain lines below
                self.bar = None
        if enabled and self.bar is None and getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, initial=start, desc=desc, file=self.stream, mininterval=0.5
            )

    def update(self, done: int, record: dict | None) -> None:
        """Steps done so far is ``done``; ``record`` (if any) is the latest log record."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            if record is not None:
                self.bar.set_postfix(loss=f"{record['train_loss']:.3f}", refresh=False)
            return
        if record is not None and (done % self.every == 0 or done == self.total):
            val = f"  val loss {record['val_loss']:.3f}" if "val_loss" in record else ""
            elapsed = time.perf_counter() - self.t0
            print(
                f"{self.desc}: step {done}/{self.total}  train loss {record['train_loss']:.3f}"
                f"{val}  ({elapsed:.0f} s)",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        """Close the tqdm bar, if there is one (plain lines need no closing)."""
        if self.bar is not None:
            self.bar.close()


class RunLog:
    """The log file of one run (written by rank 0 only) and its progress display.

    Entering rewrites ``<out>/log.jsonl`` to hold only ``kept`` (the records before a resumed
    step) and opens it for appending; :meth:`write` appends one record and remembers it in
    ``new``; leaving closes the file and the progress display, also on an exception.
    """

    def __init__(self, out: Path, kept: list[dict], progress: Progress, writer: bool = True):
        self.path = Path(out) / LOG_NAME
        self.kept = list(kept)
        self.new: list[dict] = []
        self.progress, self.writer = progress, writer
        self._file: IO[str] | None = None

    def __enter__(self) -> RunLog:
        if self.writer:
            write_records(self.path, self.kept)
            self._file = open(self.path, "a")  # noqa: SIM115 (closed in __exit__)
        return self

    def write(self, record: dict, keep: bool = True) -> None:
        """Append ``record`` to the file (and to :attr:`new` unless ``keep`` is False)."""
        if keep:
            self.new.append(record)
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()
        self.progress.close()

    @property
    def records(self) -> list[dict]:
        """All records of the run: the kept ones, then the ones this process wrote."""
        return self.kept + self.new
