"""The seed every chapter starts from: 0 by default, ``SIGNLAB_SEED`` for a whole build or one notebook.

A claim the book makes must hold for any reader's run, not only for the seed the page was written
with. Every chapter therefore draws its randomness from :func:`chapter_seed` (and seeds derived from
it, ``seed + 1``, ...), and the build can be repeated at other seeds::

    SIGNLAB_SEED=1 make rebuild                                  # the whole site at seed 1
    SIGNLAB_SEED=2 python tools/notebooks.py run book/muon.ipynb   # one chapter at seed 2

What a chapter asserts is therefore stated with its spread (:mod:`signlab.stats`), never as a bare
comparison of two numbers that another seed could swap.
"""

from __future__ import annotations

import os

SEED_ENV = "SIGNLAB_SEED"
"""The environment variable that changes the chapters' seed (a non-negative integer)."""

DEFAULT_SEED = 0


def chapter_seed() -> int:
    """The seed a chapter starts from: ``SIGNLAB_SEED`` if set (a non-negative integer), else 0.

    Read at each call, so a notebook run with the variable set (a build, a test, Colab's
    ``%env SIGNLAB_SEED=3``) sees it without restarting Python.
    """
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return DEFAULT_SEED
    try:
        seed = int(raw)
    except ValueError:
        seed = -1
    if seed < 0 or seed >= 2**32:
        raise ValueError(f"{SEED_ENV} must be an integer in [0, 2**32) (got {raw!r})")
    return seed
