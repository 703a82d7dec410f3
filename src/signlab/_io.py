"""Atomic file writes: :func:`atomic_write`, so a crash never leaves a half-written file behind.

Checkpoints, run logs, token caches and their sidecars are read back by later runs: a file cut
short by a crash, a ``KeyboardInterrupt`` or a full disk would be read as if it were whole (a
truncated checkpoint fails to resume, a truncated token cache trains on less data than its name
says). Writing to a temporary file in the same directory and renaming it over the target with
``os.replace`` makes the change all or nothing: ``os.replace`` is atomic on POSIX and Windows
when both names are on one file system, which a sibling in the same directory guarantees.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from signlab import _validate

_MODES = ("w", "wt", "wb")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on success move it onto ``path``.

    Inside the ``with`` block the caller writes to the yielded file object. When the block ends
    normally, the file is flushed, synced to disk (``os.fsync``, so even a power cut right after
    the rename leaves the old or the new content, never a mix) and renamed onto ``path``. When the
    block raises (any exception, ``KeyboardInterrupt`` included), the temporary file is deleted,
    ``path`` keeps its old content (or stays absent) and the exception propagates.

    The temporary name, ``<name>.<pid>-<random>.tmp``, is unique per call, so two writers of one
    path never write into the same temporary file; the last rename wins. ``mode`` is ``"w"``
    (text; ``open_kwargs`` such as ``encoding`` are passed to :func:`open`) or ``"wb"``.
    """
    _validate.choice("mode", mode, _MODES)
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # "x" creates the file (honouring the umask, unlike tempfile.mkstemp's 0600) and refuses to
    # reuse an existing name
    f = open(tmp, mode.replace("w", "x"), **open_kwargs)
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
