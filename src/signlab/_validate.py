"""Argument checks shared by every module, so that bad input fails early with one message style.

Every check raises ``ValueError`` naming the argument and the allowed range, e.g.
``ValueError: lr must be > 0 (got -0.1)``; none of them ever lets a NaN through silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


def _is_real(value: Any) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def positive(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is a finite number > 0."""
    if not _is_real(value) or float(value) <= 0:
        raise ValueError(f"{name} must be a finite number > 0 (got {value!r})")
    return float(value)


def nonnegative(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is a finite number >= 0."""
    if not _is_real(value) or float(value) < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (got {value!r})")
    return float(value)


def unit_interval(name: str, value: Any) -> float:
    """Return ``float(value)`` if it lies in [0, 1) (momentum, betas)."""
    if not _is_real(value) or not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must lie in [0, 1) (got {value!r})")
    return float(value)


def integer(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    """Return ``int(value)`` if it is an integer in [low, high]."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise ValueError(f"{name} must be an integer >= {low}{upper} (got {value!r})")
    return int(value)


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))} (got {value!r})")
    return value


def finite_array(name: str, x: Any) -> None:
    """Reject arrays (numpy or torch) that are empty or contain NaN/inf."""
    size = x.numel() if hasattr(x, "numel") else np.size(x)
    if size == 0:
        raise ValueError(f"{name} must be non-empty")
    if hasattr(x, "isfinite"):
        finite = bool(x.isfinite().all())
    else:
        finite = bool(np.isfinite(np.asarray(x, dtype=float)).all())
    if not finite:
        raise ValueError(f"{name} must contain only finite values (found NaN or inf)")


def nonnegative_array(name: str, x: Any) -> None:
    """Reject arrays that are empty, non-finite or have a negative entry (e.g. noise scales σ)."""
    finite_array(name, x)
    if bool((x < 0).any()):
        raise ValueError(f"{name} must be >= 0 entrywise (found a negative entry)")
