r"""What every experiment shares: seeded starting points, races of methods, log-log slopes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.sim.engine import Trajectory, simulate

__all__ = [
    "initial_point",
    "race",
    "loglog_slope",
]


def initial_point(
    seeds: int, d: int, seed: int, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """x₀ ~ N(0, I_d) for each of ``seeds`` problems, drawn from ``torch.manual_seed(seed)``."""
    seeds = _validate.integer("seeds", seeds, low=1)
    d = _validate.integer("d", d, low=1)
    seed = _validate.integer("seed", seed, low=0)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(seeds, d, generator=generator, dtype=dtype)


def race(
    problem: Any,
    oracle: Any,
    x0: torch.Tensor,
    lrs: dict[str, float],
    *,
    steps: int,
    batch: int = 1,
    seed: int = 0,
    record: tuple = ("grad_l1",),
    every: int = 1,
) -> dict[str, Trajectory]:
    """Each method of ``lrs`` (method → step size) from ``x0`` with the same seed and oracle.

    With an additive oracle every method sees the same draws (common random numbers), so the gaps
    between their curves are the methods', not the luck of the draw. Records ``record`` (default
    ‖∇f‖₁) every ``every`` steps.
    """
    if not lrs:
        raise ValueError("lrs must map at least one method to a step size")
    return {
        method: simulate(
            problem,
            oracle,
            method,
            x0,
            lr=lr,
            steps=steps,
            batch=batch,
            seed=seed,
            record=record,
            every=every,
        )
        for method, lr in lrs.items()
    }


def loglog_slope(x: Any, y: Any) -> float:
    r"""Least-squares slope of log y against log x: y ∝ x^slope (finite points only)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("x and y must have at least two finite positive pairs for a slope")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])
