r"""The heavy-tail chapter's races: SGD and the sign methods under Student-t noise as ν falls to 1."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import initial_point, race
from signlab.sim.engine import Trajectory, tune
from signlab.sim.noise import Gaussian, StudentT, dense_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = [
    "HEAVY_METHODS",
    "heavy_tail_problem",
    "heavy_tail_race",
    "heavy_tail_sweep",
]

HEAVY_METHODS = ("sgd", "signsgd", "signum", "lion")


def heavy_tail_problem(
    d: int = 100, nu: float | None = 1.5, *, scale: float = 1.0
) -> tuple[SeparableQuadratic, Any]:
    r"""f(x) = ½‖x‖² in float32 with noise ``scale``·t_ν on every coordinate (``nu=None``: Gaussian).

    The noise has the same scale for every ν, not the same variance: for ν ≤ 2 there is no variance
    to match. The problem is isotropic on purpose, so that any gap between the methods comes from
    the noise's tails, not from the geometry of the curvature.
    """
    d = _validate.integer("d", d, low=1)
    scale = _validate.positive("scale", scale)
    problem = SeparableQuadratic(torch.ones(d, dtype=torch.float32))
    sigma = dense_sigma(d, scale, dtype=torch.float32)
    return problem, (Gaussian(sigma) if nu is None else StudentT(sigma, nu=nu))


def heavy_tail_sweep(
    nus: Sequence[float | None] = (1.2, 1.5, 2.0, 3.0, None),
    *,
    methods: Sequence[str] = HEAVY_METHODS,
    d: int = 100,
    eps: float = 15.0,
    lrs: Sequence[float] = tuple(float(x) for x in np.logspace(-4, -0.5, 8)),
    seeds: int = 16,
    steps: int = 4000,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    r"""Gradients each method needs to reach E‖∇f‖₁ ≤ ε at its best step size, for each ν in ``nus``.

    :func:`heavy_tail_problem` with x₀ ~ N(0, I) (E‖∇f(x₀)‖₁ = d√(2/π) ≈ 80 for d = 100), batch 1,
    step sizes from ``lrs`` picked by :func:`signlab.sim.engine.tune`. Returns, per method,
    ``{"gradients", "lr"}`` arrays aligned with ``nus`` (``inf`` / NaN where no step size reached ε
    within ``steps`` steps). Signum and Lion use their default momenta (0.9; 0.9 and 0.99).
    """
    eps = _validate.positive("eps", eps)
    x0 = initial_point(seeds, d, seed, dtype=torch.float32)
    out = {m: {"gradients": [], "lr": []} for m in methods}
    for nu in nus:
        problem, noise = heavy_tail_problem(d, nu)
        for method in methods:
            lr, n = tune(problem, noise, method, x0, lrs, eps, steps=steps, seed=seed, record=())
            out[method]["gradients"].append(n)
            out[method]["lr"].append(math.nan if lr is None else lr)
    return {m: {k: np.asarray(v, dtype=float) for k, v in row.items()} for m, row in out.items()}


def heavy_tail_race(
    lrs: dict[str, float],
    nu: float | None = 1.5,
    *,
    d: int = 100,
    steps: int = 1000,
    seeds: int = 32,
    batch: int = 1,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""Each method of ``lrs`` (method → step size) on :func:`heavy_tail_problem`, ‖∇f‖₁ per step.

    All methods see the same noise draws (common random numbers), so a spike in SGD's curve is a
    large draw that the sign methods received too.
    """
    x0 = initial_point(seeds, d, seed, dtype=torch.float32)
    problem, noise = heavy_tail_problem(d, nu)
    return race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed)
