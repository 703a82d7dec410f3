"""A progress bar for the longer experiments, shown only when asked (Jupyter, Colab, a terminal)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def progress(items: Iterable[Any], *, show: bool, desc: str, total: int | None = None) -> Any:
    """``items`` wrapped in a ``tqdm.auto`` bar when ``show`` is true, else ``items`` unchanged.

    The book passes ``show=not is_static_build()``: a bar helps a reader waiting in a live kernel
    and would only clutter the static site.
    """
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, total=total, leave=False)
