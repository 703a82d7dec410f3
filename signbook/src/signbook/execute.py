"""Run a notebook the way a reader's Colab does: alone in an empty folder, in a fresh kernel.

The kernel may be another Python than the one running this code (``python=``): a venv set up like Colab,
for the tests and the weekly run, or the grader's environment. ``python -m signbook.execute NB...`` runs
each notebook and reports its time; it exits 1 if any fails (the weekly workflow uses it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

TIMEOUT = "CellTimeoutError"
"""The error ``name`` of a cell that ran past the per-cell ``timeout`` (nbclient's exception)."""

POLL_SLICE = 1.0
"""Longest single wait (seconds) for a kernel message; a longer wait is made of such slices.

nbclient waits for a cell's reply with one ``poll`` as long as the cell's whole timeout, and for its
output with no timeout at all. An asyncio zmq poll wakes on an edge of the socket's file descriptor,
and that edge can be missed (pyzmq issues 1203 and 2173 describe the kind): the reply then sits in
the socket while the client sleeps until the timeout. Seen here twice in one CI run, both times in a
cell with a live widget: the kernel idle, no bytes in flight, the client's shell socket reporting
``POLLIN`` (read with gdb) and 600 s lost per notebook. When a slice ends, pyzmq checks the socket
with a real ``zmq_poll(0)``, so a waiting message is found within one slice.
"""

LATE = 2.0
"""A message older than this (seconds since the kernel sent it) when received is logged as late."""

log = logging.getLogger(__name__)


@dataclass
class Result:
    """How one run of :func:`run_alone` went: its seconds, and the error that stopped it, if any.

    ``errors`` holds that error as ``{"cell": index, "name": ..., "message": ...}``; ``timed_out``
    says the error is a cell that ran past the timeout, so a report can tell slow from broken.
    """

    path: Path
    seconds: float
    errors: list[dict] = field(default_factory=list)
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True when every cell ran without an error and in time."""
        return not self.errors and not self.timed_out


def _kernel_spec(python: str, directory: Path, name: str = "signbook-python") -> Path:
    """Write a kernelspec named ``name`` under ``directory`` that starts ``python -m ipykernel``
    (how :func:`execute` runs a kernel of another Python than this one)."""
    spec = Path(directory) / name
    spec.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )
    return spec


def in_slices(get_msg):
    """Wrap a channel's ``get_msg(timeout=None)`` so that no single wait exceeds :data:`POLL_SLICE`.

    Same contract as the wrapped call: the message, or ``queue.Empty`` once ``timeout`` seconds
    have passed (``None``: wait for ever). A message that arrives :data:`LATE` seconds after the
    kernel sent it is logged, as the trace of a missed wake-up that the slicing recovered.
    """

    async def get_msg_in_slices(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE if deadline is None else deadline - time.monotonic()
            try:
                msg = await get_msg(timeout=max(0.0, min(POLL_SLICE, left)))
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            _log_if_late(msg)
            return msg

    return get_msg_in_slices


def _log_if_late(msg: dict) -> None:
    sent = msg.get("header", {}).get("date")
    if hasattr(sent, "timestamp"):
        age = time.time() - sent.timestamp()
        if age > LATE:
            kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
            log.warning(
                "a %s message reached the client %.1f s after the kernel sent it", kind, age
            )


def notebook_client(nb: nbformat.NotebookNode, **options):
    """An nbclient ``NotebookClient`` for ``nb`` (``options``: its traits) whose shell and iopub
    channels wait in slices (:func:`in_slices`), so a missed wake-up costs a second, not the cell's
    timeout. :func:`execute` and ``tools/notebooks.py run`` use it (the book build runs its
    notebooks through myst-nb's own client)."""
    from nbclient import NotebookClient

    class SlicedPollClient(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel):
                channel.get_msg = in_slices(channel.get_msg)
            return kc

    return SlicedPollClient(nb, **options)


def execute(
    nb: nbformat.NotebookNode,
    cwd: Path,
    *,
    python: str | None = None,
    timeout: int = 600,
    env: dict[str, str] | None = None,
    allow_errors: bool = False,
    on_cell_start: Callable[[int], None] | None = None,
    on_cell_done: Callable[[int, dict | None], None] | None = None,
) -> list[dict]:
    """Execute ``nb`` in place with its working directory ``cwd``; returns the cells' errors.

    With ``allow_errors`` every cell runs even after one raises (the grader wants every answer it can
    get); otherwise the first error stops the run and is the only one returned. A cell that runs past
    ``timeout`` seconds stops the run either way; it is returned as an error named :data:`TIMEOUT`.

    ``on_cell_start(index)`` is called as each code cell starts and ``on_cell_done(index, error)``
    as it ends (``error``: ``{"name", "message"}`` or None), while the run goes on: the grader's
    runner writes them down as they happen, so a run that is killed still says how far it got.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    with tempfile.TemporaryDirectory(prefix="signbook-kernels-") as kernels:
        _kernel_spec(python or sys.executable, Path(kernels))
        # nbclient's own (asynchronous) kind of manager: with a blocking KernelManager its per-cell
        # timeout never fires (nbclient 0.11), and a cell that hangs holds the run forever.
        km = AsyncKernelManager(
            kernel_name="signbook-python",
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[kernels]),
        )
        started: list[int] = []  # the index of each cell as it starts
        client = notebook_client(
            nb,
            km=km,
            timeout=timeout,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(cwd)}},
            on_cell_start=lambda cell, cell_index: _started(
                started, cell, cell_index, on_cell_start
            ),
            on_cell_executed=lambda cell, cell_index, execute_reply: _done(
                cell_index, execute_reply, on_cell_done
            ),
        )
        kernel_env = dict(os.environ if env is None else env)
        kernel_env.pop("SIGNLAB_STATIC_BUILD", None)  # readers' kernels show live widgets
        try:
            # We own km, so nbclient would leave the kernel running (cleanup_kc defaults to
            # owns_km): ask it to shut the kernel down, also after an error or a timeout.
            client.execute(env=kernel_env, cleanup_kc=True)
        except CellExecutionError as err:
            return [{"cell": started[-1], "name": err.ename, "message": str(err.evalue)}]
        except CellTimeoutError:
            late = {"cell": started[-1], "name": TIMEOUT, "message": f"ran past {timeout} s"}
            # The kernel's shutdown interrupts the late cell, which may then print a
            # KeyboardInterrupt: that is our doing, and the timeout is the cell's error.
            earlier = [e for e in _errors(nb) if e["cell"] != late["cell"]]
            return [*earlier, late]
    return _errors(nb)


def _started(started: list[int], cell, index: int, hook) -> None:
    started.append(index)
    if hook is not None and cell.cell_type == "code" and cell.source.strip():
        hook(index)


def _done(index: int, reply: dict, hook) -> None:
    if hook is None:
        return
    content = reply.get("content", {}) if isinstance(reply, dict) else {}
    error = None
    if content.get("status") == "error":
        error = {"name": str(content.get("ename", "")), "message": str(content.get("evalue", ""))}
    hook(index, error)


def _errors(nb: nbformat.NotebookNode) -> list[dict]:
    """The error output of each cell that has one: ``{"cell": index, "name", "message"}``."""
    found = ((k, _error_of(c)) for k, c in enumerate(nb.cells))
    return [{"cell": k, **error} for k, error in found if error is not None]


def _error_of(cell) -> dict | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return {"name": output.get("ename", ""), "message": output.get("evalue", "")}
    return None


def run_alone(
    path: Path,
    *,
    python: str | None = None,
    timeout: int = 600,
    env: dict[str, str] | None = None,
    keep: Path | None = None,
) -> Result:
    """Copy ``path`` alone into an empty folder and execute it there, top to bottom.

    ``keep`` (a folder) receives the executed notebook, for inspection.
    """
    path = Path(path)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="signbook-alone-") as folder:
        copy = Path(folder) / path.name
        shutil.copy2(path, copy)
        nb = nbformat.read(copy, as_version=4)
        errors = execute(nb, Path(folder), python=python, timeout=timeout, env=env)
        if keep is not None:
            Path(keep).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, Path(keep) / path.name)
    timed_out = any(error["name"] == TIMEOUT for error in errors)
    return Result(path, time.perf_counter() - start, errors, timed_out)


def main(argv: list[str] | None = None) -> int:
    """``python -m signbook.execute NB...``: run each notebook alone; exit 1 if any fails.

    The weekly workflow runs the Colab edition this way in Colab's own image; each line reports a
    notebook's seconds and its error.
    """
    parser = argparse.ArgumentParser(prog="python -m signbook.execute", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--python", help="the kernel's Python (default: this one)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--keep", type=Path, help="write the executed notebooks here")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.notebooks:
        result = run_alone(path, python=args.python, timeout=args.timeout, keep=args.keep)
        status = "ok" if result.ok else f"FAILED: {result.errors[0]}"
        print(f"{path}: {result.seconds:.1f} s, {status}", flush=True)
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
