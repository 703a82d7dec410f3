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


def psd_matrix(name: str, M: Any) -> None:
    """Reject a matrix that is not square, finite, symmetric and positive semidefinite.

    One tolerance for every check in signlab, relative to the matrix's scale s = max(1, max|M_ij|):
    symmetric when |M − Mᵀ| ≤ 1e-8·s entrywise, semidefinite when every eigenvalue is ≥ −1e-8·s·n
    (round-off of a PSD matrix built in float64 stays far inside both).
    """
    shape = tuple(M.shape) if hasattr(M, "shape") else np.shape(M)
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix (got shape {shape})")
    finite_array(name, M)
    a = M.detach().cpu().double().numpy() if hasattr(M, "detach") else np.asarray(M, dtype=float)
    scale = max(1.0, float(np.abs(a).max()))
    if not np.allclose(a, a.T, rtol=0.0, atol=1e-8 * scale):
        raise ValueError(f"{name} must be symmetric positive semidefinite (it is not symmetric)")
    smallest = float(np.linalg.eigvalsh(a).min())
    if smallest < -1e-8 * scale * len(a):
        raise ValueError(
            f"{name} must be symmetric positive semidefinite (smallest eigenvalue {smallest:.3g})"
        )
