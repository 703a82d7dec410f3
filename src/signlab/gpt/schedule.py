"""Learning-rate schedule: linear warmup, then cosine decay to a floor.

    η_t / η = (t + 1) / W                                   for t < W
    η_t / η = m + ½ (1 − m) (1 + cos(π (t − W) / (T − W)))   for W ≤ t < T

with W warmup steps, T total steps and floor m = η_min / η. It is the recipe of the paper's GPT-2
runs (10% warmup, then cosine; Tao et al., 2026).
"""

from __future__ import annotations

import math

from signlab import _validate


def fraction(name: str, value) -> float:
    """``float(value)`` if it lies in [0, 1], else ``ValueError`` naming ``name``: a share of the
    steps, or a floor of the rate (1 keeps the rate constant, where ``_validate.unit_interval``
    would refuse it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must lie in [0, 1] (got {value!r})")
    return float(value)


def lr_multiplier(step: int, total: int, warmup: int, min_frac: float = 0.1) -> float:
    """The factor η_t / η at step t (0-based) of a T-step run with W warmup steps."""
    total = _validate.integer("total", total)
    warmup = _validate.integer("warmup", warmup, low=0, high=total)
    _validate.integer("step", step, low=0)
    min_frac = fraction("min_frac", min_frac)
    if step < warmup:
        return (step + 1) / warmup
    if total == warmup:
        return 1.0
    progress = min(step - warmup, total - warmup) / (total - warmup)
    return min_frac + 0.5 * (1.0 - min_frac) * (1.0 + math.cos(math.pi * progress))


def warmup_steps(total: int, warmup_frac: float) -> int:
    """W = round(fraction · T), the number of warmup steps."""
    _validate.unit_interval("warmup_frac", warmup_frac)
    return int(round(warmup_frac * _validate.integer("total", total)))
