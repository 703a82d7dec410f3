r"""The simulation experiments of the book: the paper's two toy problems and the d-factor sweep.

- :func:`toy_deterministic` and :func:`toy_stochastic` reproduce the toy experiments of Tao, Yu &
  Zhang (arXiv:2605.06615) with their settings as defaults.
- :func:`noise_comparison` is the live simulation of the sparse-noise chapter: SGD and SignSGD
  with k noisy coordinates out of d.
- :func:`d_sweep` measures the gradients SGD and SignSGD need to reach E‖∇f‖₁ ≤ ε as the
  dimension d grows, for dense and for sparse noise, each at its best step size.
- :func:`heavy_tail_sweep` and :func:`heavy_tail_race` compare SGD with the sign methods under
  Student-t noise as its tail index ν falls towards 1 (the heavy-tail chapter).

All of them are thin layers over :func:`signlab.simulate.simulate`, with fixed seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.noise import Gaussian, HeavyTailed, dense_sigma, sparse_sigma
from signlab.problems import SeparableQuadratic
from signlab.simulate import Trajectory, simulate, tune

__all__ = [
    "Losses",
    "PAPER_LRS",
    "SHAPES",
    "d_sweep",
    "d_sweep_problem",
    "HEAVY_METHODS",
    "heavy_tail_problem",
    "heavy_tail_race",
    "heavy_tail_sweep",
    "initial_point",
    "lift_problem",
    "loglog_slope",
    "noise_comparison",
    "toy_deterministic",
    "toy_stochastic",
]

PAPER_LRS = tuple(10.0**-k for k in range(2, 9))
SHAPES = ("dense", "sparse")


class Losses(dict):
    """method → losses f(x_t), shape (seeds, steps), t = 0 … steps − 1; ``lrs``: the step sizes."""

    def __init__(self, losses: dict[str, np.ndarray], lrs: dict[str, float]) -> None:
        super().__init__(losses)
        self.lrs = dict(lrs)


def initial_point(
    seeds: int, d: int, seed: int, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """x₀ ~ N(0, I_d) for each of ``seeds`` problems, drawn from ``torch.manual_seed(seed)``."""
    seeds = _validate.integer("seeds", seeds, low=1)
    d = _validate.integer("d", d, low=1)
    seed = _validate.integer("seed", seed, low=0)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(seeds, d, generator=generator, dtype=dtype)


def _losses(run: Trajectory, steps: int) -> np.ndarray:
    return run["f"][:, :steps]


def toy_deterministic(
    *,
    d: int = 5000,
    stiff: float = 1000.0,
    steps: int = 3000,
    lrs: Sequence[float] = PAPER_LRS,
    seeds: int = 1,
    seed: int = 0,
    methods: Sequence[str] = ("sgd", "signsgd"),
) -> Losses:
    r"""The paper's deterministic toy: f(x) = ½ Σ L_i x_i², L_1 = ``stiff``, L_i = 1 otherwise.

    x₀ is Gaussian with its first coordinate divided by L_1; exact gradients; each method runs
    ``steps`` steps at every step size in ``lrs`` (the paper's grid 10⁻², …, 10⁻⁸) and keeps
    the one with the lowest final mean loss (a diverged run counts as +inf). The paper describes a
    single initial point; ``seeds`` > 1 averages over several. float64, since steps of 10⁻⁸ vanish
    in float32 rounding.
    """
    d = _validate.integer("d", d, low=1)
    stiff = _validate.positive("stiff", stiff)
    steps = _validate.integer("steps", steps, low=1)
    L = torch.ones(d, dtype=torch.float64)
    L[0] = stiff
    x0 = initial_point(seeds, d, seed)
    x0[:, 0] /= stiff
    problem = SeparableQuadratic(L)
    losses, best = {}, {}
    for method in methods:
        runs = [
            simulate(problem, None, method, x0, lr=lr, steps=steps - 1, record=("f",)) for lr in lrs
        ]
        with np.errstate(over="ignore"):  # a diverging run's huge losses average to inf
            final = [float(np.mean(run["f"][:, -1])) for run in runs]
        k = int(np.argmin(final))
        losses[method], best[method] = _losses(runs[k], steps), runs[k].lr
    return Losses(losses, best)


def toy_stochastic(
    *,
    d: int = 100,
    sigma: float = 100.0,
    steps: int = 3000,
    seeds: int = 42,
    lrs: dict[str, float] | None = None,
    seed: int = 0,
    batch: int = 1,
) -> Losses:
    r"""The paper's stochastic toy: f(x) = ½‖x‖², Gaussian noise of std ``sigma`` on x_1 only.

    Defaults are the paper's: d = 100, σ = 100, 3000 steps, 42 seeds, SGD at lr 10⁻³ and
    SignSGD at lr 10⁻² (``lrs`` maps method → step size). x₀ ~ N(0, I) per seed (our choice;
    the paper's description does not fix it). The noise is φ = 1/d sparse.
    """
    d = _validate.integer("d", d, low=1)
    sigma = _validate.nonnegative("sigma", sigma)
    steps = _validate.integer("steps", steps, low=1)
    lrs = {"sgd": 1e-3, "signsgd": 1e-2} if lrs is None else dict(lrs)
    problem = SeparableQuadratic(torch.ones(d, dtype=torch.float64))
    noise = Gaussian(sparse_sigma(d, 1, sigma))
    x0 = initial_point(seeds, d, seed)
    losses = {
        method: _losses(
            simulate(
                problem,
                noise,
                method,
                x0,
                lr=lr,
                steps=steps - 1,
                batch=batch,
                seed=seed,
                record=("f",),
            ),
            steps,
        )
        for method, lr in lrs.items()
    }
    return Losses(losses, lrs)


def _race(problem, noise, x0, lrs, *, steps, batch, seed) -> dict[str, Trajectory]:
    """Each method of ``lrs`` (method → step size) from ``x0`` with the same seed, recording ‖∇f‖₁."""
    return {
        method: simulate(
            problem,
            noise,
            method,
            x0,
            lr=lr,
            steps=steps,
            batch=batch,
            seed=seed,
            record=("grad_l1",),
        )
        for method, lr in lrs.items()
    }


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
    return _race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed)


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
    (its error floor is about L∞η/2); :func:`signlab.simulate.tune` picks the best. Returns, per
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


def loglog_slope(x: Any, y: Any) -> float:
    r"""Least-squares slope of log y against log x: y ∝ x^slope (finite points only)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("x and y must have at least two finite positive pairs for a slope")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


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
    return problem, (Gaussian(sigma) if nu is None else HeavyTailed(sigma, nu=nu))


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
    step sizes from ``lrs`` picked by :func:`signlab.simulate.tune`. Returns, per method,
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
    return _race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed)
