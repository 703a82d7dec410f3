r"""Estimates with their standard errors, and comparisons that respect them.

A simulation over seeds gives a number *and* its spread. The book states both (``2.79 ± 0.12``) and
asserts a comparison only beyond the spread: :func:`clearly_greater` asks that a − b exceed z
combined standard errors, :func:`consistent` that |a − b| stay within them. Comparing two bare floats
(``a < b``) is what these replace: two numbers that agree up to rounding are a tie, and which way a
tie falls depends on the CPU, the thread count and the seed.

The standard error of a mean of n independent samples with sample standard deviation s is s/√n; of a
ratio a/b of independent estimates, by the delta method, |a/b|·√((se_a/a)² + (se_b/b)²); of any other
statistic of the seeds, the standard deviation of its bootstrap replicates (Efron & Tibshirani,
*An Introduction to the Bootstrap*, 1993, ch. 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from signlab import _validate

__all__ = ["Estimate", "bootstrap", "clearly_greater", "consistent", "mean_se", "ratio"]


@dataclass(frozen=True)
class Estimate:
    """A measured ``value`` with its standard error ``se`` (from ``n`` independent samples).

    Formats as ``value ± se`` with the format spec applied to both: ``f"{e:.3g}"`` → ``2.79 ± 0.118``.
    """

    value: float
    se: float
    n: int = 0

    def __format__(self, spec: str) -> str:
        return f"{format(self.value, spec)} ± {format(self.se, spec)}"

    def __str__(self) -> str:
        return format(self, ".4g")

    def interval(self, z: float = 2.0) -> tuple[float, float]:
        """(value − z·se, value + z·se): about 95% coverage for z = 2 when the estimate is normal."""
        z = _validate.nonnegative("z", z)
        return self.value - z * self.se, self.value + z * self.se


def _as_estimate(name: str, x: Any) -> Estimate:
    """An :class:`Estimate`, or a plain number taken as exact (se = 0)."""
    if isinstance(x, Estimate):
        return x
    try:
        value = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an Estimate or a number (got {x!r})") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite (got {x!r})")
    return Estimate(value, 0.0)


def mean_se(samples: Any) -> Estimate:
    """The mean of independent ``samples`` (one per seed) and its standard error s/√n.

    Needs at least two samples, since one sample has no measurable spread.
    """
    x = np.asarray(samples, dtype=float).ravel()
    if x.size < 2:
        raise ValueError(f"samples must hold at least 2 values (got {x.size})")
    _validate.finite_array("samples", x)
    return Estimate(float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size)), int(x.size))


def ratio(a: Any, b: Any) -> Estimate:
    """a/b for independent estimates, its standard error by the delta method
    |a/b|·√((se_a/a)² + (se_b/b)²). ``b`` must be nonzero."""
    a, b = _as_estimate("a", a), _as_estimate("b", b)
    if b.value == 0:
        raise ValueError("b must be nonzero")
    r = a.value / b.value
    rel = np.hypot(a.se / a.value if a.value else 0.0, b.se / b.value)
    se = abs(r) * rel if a.value else abs(a.se / b.value)
    return Estimate(r, float(se), min(a.n, b.n))


def bootstrap(
    samples: Any,
    statistic: Callable[[np.ndarray], float],
    *,
    replicates: int = 1000,
    seed: int | np.random.Generator = 0,
) -> Estimate:
    """``statistic(samples)`` and its bootstrap standard error over ``replicates`` resamples.

    ``samples`` has one row per seed (shape (n, ...)); each replicate draws n rows with replacement
    and recomputes the statistic. Use it for statistics whose spread has no formula: a median, the
    first step at which a mean crosses a target, a fitted slope.
    """
    x = np.asarray(samples, dtype=float)
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(f"samples must hold at least 2 rows (got shape {x.shape})")
    replicates = _validate.integer("replicates", replicates, low=2)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = x.shape[0]
    values = np.array([statistic(x[rng.integers(0, n, n)]) for _ in range(replicates)], dtype=float)
    finite = values[np.isfinite(values)]
    se = float(finite.std(ddof=1)) if finite.size > 1 else float("inf")
    return Estimate(float(statistic(x)), se, n)


def _margin(a: Estimate, b: Estimate, z: float) -> float:
    return _validate.nonnegative("z", z) * float(np.hypot(a.se, b.se))


def clearly_greater(a: Any, b: Any, z: float = 3.0) -> bool:
    """True when a exceeds b by more than z combined standard errors, a − b > z·√(se_a² + se_b²).

    With both standard errors zero (two exact numbers) it is a plain ``a > b``; that is the one case
    where a tie can decide it, so give exact numbers only when they are exact.
    """
    a, b = _as_estimate("a", a), _as_estimate("b", b)
    return a.value - b.value > _margin(a, b, z)


def consistent(a: Any, b: Any, z: float = 3.0) -> bool:
    """True when a and b agree within z combined standard errors, |a − b| ≤ z·√(se_a² + se_b²)."""
    a, b = _as_estimate("a", a), _as_estimate("b", b)
    return abs(a.value - b.value) <= _margin(a, b, z)
