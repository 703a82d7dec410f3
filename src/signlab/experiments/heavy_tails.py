r"""The heavy-tail chapter's computations: tails, averaging, and SGD against the sign methods as ν falls.

The chapter's instance is :func:`heavy_tail_problem`: f(x) = ½‖x‖² in d = 100 with unit-scale
Student-t noise on every coordinate. Step sizes are tuned by :func:`signlab.sim.engine.tune`, which runs a whole
grid of step sizes as one population of the engine (:func:`signlab.sim.engine.simulate`), so a sweep
costs one simulation per method, not one per step size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments._progress import progress
from signlab.experiments.common import initial_point, loglog_slope, race
from signlab.sim.engine import Trajectory, tune
from signlab.sim.noise import Gaussian, StudentT, dense_sigma, student_t
from signlab.sim.problems import SeparableQuadratic
from signlab.sim.tails import sign_flip_probability, survival, tail_index

__all__ = [
    "HEAVY_LRS",
    "HEAVY_METHODS",
    "batch_mean_spread",
    "heavy_tail_problem",
    "heavy_tail_race",
    "heavy_tail_sweep",
    "running_second_moment",
    "sign_flip_table",
    "tail_index_table",
    "tail_survival",
]

HEAVY_METHODS = ("sgd", "signsgd", "signum", "lion")

HEAVY_LRS = tuple(float(x) for x in np.logspace(-3, -1, 5))
"""The step-size grid of the sweep, 10⁻³ … 10⁻¹ in half decades (every best step size is inside it)."""


def _draws(nu: float | None, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Unit-scale Student-t draws (``nu=None``: standard Gaussian), reproducibly from ``seed``."""
    if nu is None:
        return np.random.default_rng(seed).standard_normal(shape)
    return student_t(shape, nu, seed).numpy()


def tail_survival(
    nus: Sequence[float | None] = (1.2, 1.5, 3.0, None),
    *,
    thresholds: Any = None,
    n: int = 1_000_000,
    fit: tuple[float, float] = (10.0, 100.0),
    seed: int = 1,
) -> dict[str, Any]:
    r"""Empirical tails P(|X| > x) of ``n`` draws for each ν, and their log-log slope over ``fit``.

    A power-law tail P(|X| > x) ~ Cx^(−ν) is a line of slope −ν on log-log axes; a Gaussian tail bends
    down faster than any line (its slope is reported as NaN: it has no draws beyond 10).
    Returns ``{"x", "tail": {ν: P}, "slope": {ν: slope}}``.
    """
    x = np.logspace(-1, 2.5, 60) if thresholds is None else np.asarray(thresholds, dtype=float)
    n = _validate.integer("n", n, low=16)
    far = (x >= fit[0]) & (x <= fit[1])
    tails, slopes = {}, {}
    for nu in nus:
        tails[nu] = survival(_draws(nu, (n,), seed), x)
        ok = far & (tails[nu] > 0)
        slopes[nu] = loglog_slope(x[ok], tails[nu][ok]) if ok.sum() >= 2 else math.nan
    return {"x": x, "tail": tails, "slope": slopes}


def running_second_moment(
    nus: Sequence[float | None] = (1.5, 3.0, None),
    *,
    n: int = 1_000_000,
    every: int = 500,
    seed: int = 2,
) -> dict[str, Any]:
    r"""The running mean (1/k)Σ_{j≤k} X_j² of ``n`` draws for each ν, every ``every`` draws.

    It converges to the variance when there is one (ν > 2) and keeps jumping upward when there is
    not (ν ≤ 2). Returns ``{"k", "mean": {ν: values}}``.
    """
    n = _validate.integer("n", n, low=1)
    every = _validate.integer("every", every, low=1)
    k = np.arange(1, n + 1)
    means = {nu: (np.cumsum(_draws(nu, (n,), seed) ** 2) / k)[::every] for nu in nus}
    return {"k": k[::every], "mean": means}


def batch_mean_spread(
    nus: Sequence[float | None] = (1.2, 1.5, None),
    *,
    batches: Sequence[int] = (1, 4, 16, 64, 256, 1024, 4096),
    n: int = 1000,
    fit_from: int = 64,
    seed: int = 3,
) -> dict[str, Any]:
    r"""Median |mean of B draws| over ``n`` batches, for each ν and B, with the slope for B ≥ ``fit_from``.

    For noise in the domain of attraction of an α-stable law (α = min(ν, 2)) the median shrinks like
    B^(1/α − 1) (:func:`signlab.sim.tails.mean_scale`) once B is large. Returns
    ``{"batches", "median": {ν: values}, "slope": {ν: slope}, "alpha": {ν: α}}``.
    """
    b = np.asarray(batches, dtype=int)
    n = _validate.integer("n", n, low=2)
    medians, slopes, alphas = {}, {}, {}
    for nu in nus:
        medians[nu] = np.array(
            [np.median(np.abs(_draws(nu, (n, int(size)), seed).mean(axis=1))) for size in b]
        )
        slopes[nu] = loglog_slope(b[b >= fit_from], medians[nu][b >= fit_from])
        alphas[nu] = 2.0 if nu is None else min(nu, 2.0)
    return {"batches": b, "median": medians, "slope": slopes, "alpha": alphas}


def tail_index_table(
    nus: Sequence[float | None] = (1.2, 1.5, 1.8, 3.0, None),
    *,
    n: int = 1_000_000,
    seed: int = 4,
) -> dict[float | None, float]:
    r"""The block estimator :func:`signlab.sim.tails.tail_index` on ``n`` draws for each ν.

    It estimates the stable index α = min(ν, 2) of the law the draws are attracted to: for ν > 2 the
    target is 2, not ν.
    """
    return {nu: tail_index(_draws(nu, (n,), seed)) for nu in nus}


def sign_flip_table(
    grad: float = -0.5,
    nus: Sequence[float | None] = (1.2, 1.5, None),
    *,
    batches: Sequence[int] = (1, 16, 256),
    n: int = 40_000,
    seed: int = 5,
) -> dict[float | None, np.ndarray]:
    r"""P(sign(g + ξ̄_B) ≠ sign g) for each ν and B (:func:`signlab.sim.tails.sign_flip_probability`)."""
    return {
        nu: np.array(
            [sign_flip_probability(grad, nu, batch=int(b), n=n, seed=seed) for b in batches]
        )
        for nu in nus
    }


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
    lrs: Sequence[float] = HEAVY_LRS,
    seeds: int = 2,
    steps: int = 1200,
    first: int = 150,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    r"""Gradients each method needs to reach E‖∇f‖₁ ≤ ε at its best step size, for each ν in ``nus``.

    :func:`heavy_tail_problem` with x₀ ~ N(0, I) (E‖∇f(x₀)‖₁ = d√(2/π) ≈ 80 for d = 100), batch 1,
    the step size picked from ``lrs`` by :func:`signlab.sim.engine.tune`. The problem is separable and isotropic
    and every method moves each coordinate on its own, so ``seeds`` starts in d = 100 are
    ``seeds``·d independent one-dimensional runs: the mean of ‖∇f‖₁ is measured over 200 of them
    by default. Returns, per method, ``{"gradients", "lr"}`` arrays aligned with ``nus`` (``inf`` /
    NaN where no step size reached ε within ``steps`` steps). Signum and Lion use their default
    momenta (0.9; 0.9 and 0.99). ``show_progress``: a progress bar over the (ν, method) pairs.
    """
    eps = _validate.positive("eps", eps)
    x0 = initial_point(seeds, d, seed, dtype=torch.float32)
    out = {m: {"gradients": [], "lr": []} for m in methods}
    pairs = [(nu, m) for nu in nus for m in methods]
    for nu, method in progress(pairs, show=show_progress, desc="sweep over ν"):
        problem, noise = heavy_tail_problem(d, nu)
        tuned = tune(
            problem, noise, method, x0, lrs, eps, steps=steps, first=first, seed=seed, every=1
        )
        out[method]["gradients"].append(tuned.best)
        out[method]["lr"].append(math.nan if tuned.lr is None else tuned.lr)
    return {m: {k: np.asarray(v, dtype=float) for k, v in row.items()} for m, row in out.items()}


def heavy_tail_race(
    lrs: dict[str, float],
    nu: float | None = 1.5,
    *,
    d: int = 100,
    steps: int = 800,
    seeds: int = 16,
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
