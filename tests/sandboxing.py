"""Helpers of the sandbox and grader tests: is bubblewrap here, and running a command as ``nobody``.

Tests that need bubblewrap call :func:`require_sandbox`: without it they fail under ``CI`` (with the
command that installs it) and are skipped elsewhere, with the reason.
"""

from __future__ import annotations

import functools
import os
import pwd
import shlex
import sys
from pathlib import Path

import pytest

from signbook.sandbox import Sandbox, SandboxError, bwrap, python_paths, reachable


@functools.cache
def _sandbox_problem() -> str | None:
    if bwrap() is None:
        return "bubblewrap (bwrap) is not installed: `make grader` installs it"
    try:
        Sandbox(python_paths(sys.executable)).probe(sys.executable)
    except SandboxError as err:
        return str(err)
    return None


def require_sandbox() -> None:
    """Fail (under CI) or skip (elsewhere) the calling test when the sandbox cannot run."""
    problem = _sandbox_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the grader's sandbox is required in CI: {problem}")
    pytest.skip(f"the grader's sandbox cannot run here: {problem}")


def nobody() -> tuple[int, int]:
    """(uid, gid) of ``nobody``."""
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def give(folder: Path) -> None:
    """Give ``folder`` and what is in it to ``nobody`` (a grader run as nobody writes there)."""
    uid, gid = nobody()
    for root, dirs, files in os.walk(folder):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid)


def as_nobody(command: list[str], stage: Path) -> list[str]:
    """``command`` run as ``nobody``, for a test run as root (as an ordinary user: unchanged).

    Where this Python lives in a folder ``nobody`` cannot enter (``/root``, mode 700, on this
    machine), the command runs in a private mount namespace where that folder is an empty,
    enterable tmpfs holding only the Python's folders, bound back in place: nothing of the
    machine changes, and nobody gets no right it would not have on a machine with its Python in
    ``/usr`` or ``/opt``. ``stage``: an empty folder for the bind mounts' staging.
    """
    if os.geteuid() != 0:
        return command
    uid, gid = nobody()
    steps = []
    for k, path in enumerate(python_paths(sys.executable)):
        if reachable(path, uid, gid):
            continue
        top = next(p for p in reversed([path, *path.parents]) if not reachable(p, uid, gid))
        steps.append((k, top, path))
    script = ["set -e"]
    for k, _, path in steps:
        place = shlex.quote(str(stage / str(k)))
        script.append(f"mkdir -p {place} && mount --bind {shlex.quote(str(path))} {place}")
    for top in dict.fromkeys(top for _, top, _ in steps):
        script.append(f"mount -t tmpfs -o mode=755 signbook-test {shlex.quote(str(top))}")
    for k, _, path in steps:
        place = shlex.quote(str(stage / str(k)))
        script.append(
            f"mkdir -p {shlex.quote(str(path))} && mount --bind {place} {shlex.quote(str(path))}"
        )
    drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    script.append("exec " + shlex.join([*drop, *command]))
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "\n".join(script)]


def processes_with(marker: str) -> list[int]:
    """The processes whose command line holds ``marker``."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if marker.encode() in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found
