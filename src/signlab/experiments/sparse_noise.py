r"""The sparse-noise chapter's simulations: SGD against SignSGD with k noisy coordinates out of d."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import initial_point, race
from signlab.sim.engine import Trajectory, tune
from signlab.sim.noise import Gaussian, dense_sigma, sparse_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = [
    "SHAPES",
    "d_sweep",
    "d_sweep_problem",
    "lift_problem",
    "noise_comparison",
]

SHAPES = ("dense", "sparse")


def lift_problem(sigma: Any, *, linf: float = 1.0) -> SeparableQuadratic:
    r"""½ Σ L_i x_i² with L_i = (L∞/2)(1/d + σ_i/‖σ‖₁): half of L∞ = ‖L‖₁ spread evenly, half with σ.

    The paper's lower-bound lift gives coordinate i the curvature L_i ∝ σ_i; we keep half of that
    and spread the other half evenly, so that noiseless coordinates still have a little curvature.
    Dense noise gives the isotropic quadratic, sparse noise stiff noisy coordinates. σ = 0 gives
    the isotropic quadratic.
    """
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    _validate.nonnegative_array("sigma", sigma)
    linf = _validate.positive("linf", linf)
    total = float(sigma.sum())
    share = sigma / total if total > 0 else torch.full_like(sigma, 1.0 / sigma.numel())
    return SeparableQuadratic(0.5 * linf * (1.0 / sigma.numel() + share))


def noise_comparison(
    *,
    d: int = 100,
    k: int = 1,
    noise_l1: float = 0.2,
    batch: int = 1,
    sgd_rate: float = 0.25,
    lr_signsgd: float = 0.1,
    steps: int = 300,
    seeds: int = 32,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""SGD and SignSGD on :func:`lift_problem` with Gaussian noise on ``k`` of ``d`` coordinates.

    σ_i = ``noise_l1``/k on the first k coordinates (so ‖σ‖₁ = ``noise_l1`` and φ = k/d), x₀ ~ N(0, I).
    SGD's step is η = ``sgd_rate``/max_i L_i (it diverges for ``sgd_rate`` ≥ 2), SignSGD's is
    ``lr_signsgd``. Both methods see the same noise draws (common random numbers) and record ‖∇f‖₁
    at every step. float32, for speed: this is the chapter's live simulation.
    """
    d = _validate.integer("d", d, low=1)
    k = _validate.integer("k", k, low=1, high=d)
    noise_l1 = _validate.positive("noise_l1", noise_l1)
    sgd_rate = _validate.positive("sgd_rate", sgd_rate)
    sigma = sparse_sigma(d, k, noise_l1 / k)
    problem = lift_problem(sigma)
    noise = Gaussian(sigma.float())
    x0 = initial_point(seeds, d, seed, dtype=torch.float32)
    lrs = {"sgd": sgd_rate / float(problem.L.max()), "signsgd": lr_signsgd}
    return race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed)


def d_sweep_problem(
    d: int, shape: str, *, noise_l1: float = 0.2, linf: float = 1.0
) -> tuple[SeparableQuadratic, Gaussian]:
    r"""The problem of the d-sweep: :func:`lift_problem` of σ, and Gaussian noise σ.

    σ is ``"dense"`` (σ_i = S/d) or ``"sparse"`` (σ_1 = S), both with ‖σ‖₁ = S = ``noise_l1``,
    so SignSGD's noise term ‖σ‖₁² is the same for both and only φ differs (1 versus 1/d). The
    curvature follows the noise (L_i = (L∞/2)(1/d + σ_i/‖σ‖₁)): dense noise gives the isotropic
    quadratic, sparse noise one stiff noisy coordinate. L∞ and (for x₀ ~ N(0, I)) E[Δ] = L∞/2 do
    not depend on d or on the shape.
    """
    d = _validate.integer("d", d, low=1)
    shape = _validate.choice("shape", shape, SHAPES)
    noise_l1 = _validate.positive("noise_l1", noise_l1)
    sigma = dense_sigma(d, noise_l1 / d) if shape == "dense" else sparse_sigma(d, 1, noise_l1)
    return lift_problem(sigma, linf=linf), Gaussian(sigma)


def d_sweep(
    ds: Sequence[int] = (10, 100, 1000, 10000),
    *,
    shapes: Sequence[str] = SHAPES,
    methods: Sequence[str] = ("sgd", "signsgd"),
    eps: float = 0.1,
    noise_l1: float = 0.2,
    seeds: int = 32,
    grid: int = 6,
    steps: int = 200_000,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    r"""Gradients needed to reach E‖∇f‖₁ ≤ ε, per (shape, method), for each d in ``ds``.

    Problem: :func:`d_sweep_problem` (L∞ = 1, ‖σ‖₁ = ``noise_l1``), x₀ ~ N(0, I), batch 1, so
    E‖∇f(x₀)‖₁ = √(2/π) ≈ 0.8. Step sizes: ``grid`` values spaced by factors of 2 downward from
    a natural scale, 1/max L_i for SGD (the stability limit is 2/max L_i) and 2ε/L∞ for SignSGD
    (its error floor is about L∞η/2); :func:`signlab.sim.engine.tune` picks the best. Returns, per
    (shape, method), ``{"d", "gradients", "lr"}`` arrays (``inf`` / NaN where nothing reached ε).
    """
    eps = _validate.positive("eps", eps)
    grid = _validate.integer("grid", grid, low=1)
    for shape in shapes:
        _validate.choice("shapes", shape, SHAPES)
    out: dict[tuple[str, str], dict[str, list]] = {
        (s, m): {"d": [], "gradients": [], "lr": []} for s in shapes for m in methods
    }
    for d in ds:
        x0 = initial_point(seeds, d, seed, dtype=dtype)
        for shape in shapes:
            problem, noise = d_sweep_problem(d, shape, noise_l1=noise_l1)
            for method in methods:
                scale = 1.0 / float(problem.L.max()) if method == "sgd" else 2.0 * eps
                lrs = [scale * 2.0**-j for j in range(grid)]
                lr, n = tune(
                    problem, noise, method, x0, lrs, eps, steps=steps, seed=seed, record=()
                )
                row = out[(shape, method)]
                row["d"].append(d)
                row["gradients"].append(n)
                row["lr"].append(math.nan if lr is None else lr)
    return {
        key: {k: np.asarray(v, dtype=float) for k, v in row.items()} for key, row in out.items()
    }
