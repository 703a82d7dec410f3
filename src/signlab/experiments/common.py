r"""What every experiment shares: seeded starting points, races of methods, log-log slopes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.sim.engine import Trajectory, simulate

__all__ = [
    "initial_point",
    "loglog_fit",
    "loglog_slope",
    "race",
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


def loglog_fit(x: Any, y: Any, replicates: Any = None) -> tuple[float, float]:
    r"""The least-squares slope of log y on log x and its uncertainty: (slope, standard error).

    With ``replicates`` (shape (B, len(x)): y recomputed on B bootstrap resamples of the seeds) the
    uncertainty is the standard deviation of the replicates' slopes, so it says how much the slope
    owes to the particular seeds; without, the usual least-squares standard error from the
    residuals (needs ≥ 3 finite points). Points with a non-finite or non-positive y are left out.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("x and y must have at least two finite positive pairs for a slope")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    slope, intercept = np.polyfit(lx, ly, 1)
    if replicates is not None:
        reps = np.asarray(replicates, dtype=float)[:, ok]
        good = np.all(np.isfinite(reps) & (reps > 0), axis=1)
        if good.sum() < 2:
            raise ValueError("replicates must have at least two rows with finite positive values")
        slopes = [np.polyfit(lx, np.log(r), 1)[0] for r in reps[good]]
        return float(slope), float(np.std(slopes, ddof=1))
    if ok.sum() < 3:
        return float(slope), math.nan
    resid = ly - (slope * lx + intercept)
    se = math.sqrt(resid @ resid / (ok.sum() - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    return float(slope), se


def loglog_slope(x: Any, y: Any) -> float:
    r"""The least-squares slope of log y against log x alone (y ∝ x^slope; see :func:`loglog_fit`)."""
    return loglog_fit(x, y)[0]
