"""torch's intra-op thread count for one block of code, written once for every module.

Small tensors in a loop (the simulations, the tiny GPT, the exact SGD expectations) run fastest on
one thread, and on a shared machine a second thread made them up to 20 times slower
(``benchmarks/simulate.md``, ``benchmarks/gpt.md``); every such loop caps the threads with
:func:`torch_threads` and leaves the caller's setting as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from signlab import _validate


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch on ``threads`` intra-op threads (None: leave them as they are),
    then restore the previous count, also when the block raises."""
    if threads is None:
        yield
        return
    threads = _validate.integer("threads", threads, low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
