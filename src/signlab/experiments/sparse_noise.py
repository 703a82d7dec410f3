r"""The sparse-noise chapter's simulations: SGD against SignSGD with k noisy coordinates out of d.

Two effects are measured apart, each with tuned step sizes (every step size of a grid, as one
population of the engine: :func:`signlab.sim.engine.tune`), 32 seeds and fitted log-log slopes:

- :func:`d_factor`: the *noiseless* d factor of Theorem 3's first term, on one stiff coordinate
  (L₁ = L∞/2) and d − 1 flat ones sharing the other half of L∞, with exact gradients;
- :func:`phi_factor`: k noisy coordinates out of d (φ = k/d) on a curvature that does not depend
  on k, beside the same runs without noise (``noise_l1=0``), the control.

Both reach large d exactly through multiplicities: noiseless coordinates with the same curvature
and the same start move identically under SGD and SignSGD, so one stored coordinate stands for all
of them (:mod:`signlab.sim.problems`). (An earlier single sweep, whose curvature followed the noise,
measured mostly the noiseless effect and called it the noise's; :func:`phi_factor`'s "follows"
curvature without noise is that sweep's control.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import initial_point, loglog_fit, race
from signlab.sim.engine import Trajectory, tune
from signlab.sim.noise import Gaussian, sparse_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = [
    "CURVATURES",
    "d_factor",
    "d_factor_problem",
    "density_estimates",
    "factor_slopes",
    "lift_problem",
    "noise_comparison",
    "noise_moments",
    "phi_factor",
    "phi_factor_problem",
    "sgd_grid",
    "toy_stochastic_prediction",
]


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


# ---------------------------------------------------------------------------------------------
# The two factors, measured apart.

CURVATURES = ("isotropic", "follows")
"""Curvatures of :func:`phi_factor_problem`: L_i = L∞/d, or L_i = (L∞/2)(1/d + 1[i < k]/k)."""


def sgd_grid(L: Any) -> np.ndarray:
    r"""SGD's step sizes for curvatures ``L``: η = (1.9/max L)·2^j, j = −11, …, ⌊log₂(max L/min L)⌋.

    From far below the stability limit 2/max L of the stiffest coordinate up to that of the
    flattest one, by factors of 2: a step beyond 2/max L diverges unless the stiff coordinates sit
    at their minimum (then only the noise moves them), so the grid must reach that far too.
    """
    L = np.asarray(L, dtype=float)
    L = L[L > 0]
    top = int(math.floor(math.log2(L.max() / L.min()) + 1e-9))
    return 1.9 / L.max() * 2.0 ** np.arange(top, -12, -1)


SIGNSGD_GRID = tuple(2.0 ** (np.arange(8, -8, -1) / 2))
"""SignSGD's step sizes in units of ε/L∞ (its oscillation floor is about L∞η/2): 16, 11.3, …, 0.09."""

BOOTSTRAP = 200
"""Bootstrap resamples of the seeds behind every slope's uncertainty."""


def _values(name: str, values: Any, low: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of integers")
    for v in arr.tolist():
        _validate.integer(name, v, low=low)
    return arr.astype(int)


def d_factor_problem(d: int, *, linf: float = 1.0) -> SeparableQuadratic:
    r"""f(x) = ½(L∞/2)x₁² + ½ Σ_{i≥2} (L∞/(2(d−1))) x_i², stored as two coordinates.

    Theorem 3's noiseless allocation, ‖L‖∞ = L₁ = L∞/2 and ‖L‖₁ = L∞, on a quadratic: the d − 1
    flat coordinates are one class (multiplicity d − 1) and must share their start. SGD's one step
    size must stay below 2/L₁ = 4/L∞ (else x₁ diverges), so a flat coordinate contracts by at most
    1 − 2/(d − 1) per step: its count grows like d. SignSGD moves every coordinate by η per step,
    whatever its curvature. L∞ and, for the same start, Δ and ‖∇f(x₀)‖₁ do not depend on d.
    """
    d = _validate.integer("d", d, low=2)
    linf = _validate.positive("linf", linf)
    L = torch.tensor([linf / 2, linf / (2 * (d - 1))], dtype=torch.float64)
    return SeparableQuadratic(L, multiplicity=torch.tensor([1.0, d - 1.0], dtype=torch.float64))


def _boot_indices(seeds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng((seed, 0xB007))
    return rng.integers(0, seeds, size=(BOOTSTRAP, seeds))


def _sweep(cases, eps: float, seeds: int, seed: int, budget) -> dict[str, np.ndarray]:
    """Run both methods on every (problem, oracle, x₀, max L) of ``cases``; tuned counts and
    their bootstrap replicates over the seeds."""
    boot = _boot_indices(seeds, seed)
    out: dict[str, list] = {k: [] for k in ("sgd", "signsgd", "sgd_lr", "signsgd_lr")}
    reps: dict[str, list] = {"sgd": [], "signsgd": []}
    for problem, oracle, x0, steps in cases:
        grids = {
            "sgd": sgd_grid(problem.L),
            "signsgd": np.asarray(SIGNSGD_GRID) * eps / problem.linf_smoothness,
        }
        for method, lrs in grids.items():
            run = tune(problem, oracle, method, x0, lrs, eps, steps=steps, seed=seed, margin=1.3)
            out[method].append(run.best)
            out[f"{method}_lr"].append(math.nan if run.lr is None else run.lr)
            reps[method].append(run.resampled(boot))
    result = {k: np.asarray(v, dtype=float) for k, v in out.items()}
    for method, r in reps.items():
        result[f"{method}_boot"] = np.asarray(r, dtype=float).T
    return result


def d_factor(d_values: Any, *, eps: float, seeds: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    r"""The noiseless d factor: gradients N(ε) for E‖∇f‖₁ ≤ ε on :func:`d_factor_problem`, per d.

    Exact gradients, L∞ = 1; x₀: per seed, one N(0, 1) value for the stiff coordinate and one
    shared by the d − 1 flat ones (``initial_point(seeds, 2, seed)``), so E‖∇f(x₀)‖₁ = √(2/π).
    Each method runs every step size of its grid (:func:`sgd_grid`, :data:`SIGNSGD_GRID` in units of
    ε/L∞) and keeps the best. Returns ``{"d", "sgd", "signsgd"}``
    (inf where no step size reached ε), the best step sizes ``"sgd_lr"``, ``"signsgd_lr"``, and
    ``"sgd_boot"``, ``"signsgd_boot"``: the counts for :data:`BOOTSTRAP` resamples of the seeds
    (for :func:`~signlab.experiments.common.loglog_fit`).
    """
    ds = _values("d_values", d_values, low=2)
    eps = _validate.positive("eps", eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    seed = _validate.integer("seed", seed, low=0)
    x0 = initial_point(seeds, 2, seed)
    cases = []
    for d in ds.tolist():
        problem = d_factor_problem(d)
        cases.append((problem, None, x0, 40 * d + 10_000))
    return {"d": ds.astype(float), **_sweep(cases, eps, seeds, seed, None)}


def phi_factor_problem(
    d: int, k: int, *, noise_l1: float, curvature: str = "isotropic", linf: float = 1.0
) -> tuple[SeparableQuadratic, Gaussian | None]:
    r"""½ Σ L_i x_i² with Gaussian noise σ_i = ``noise_l1``/k on k of d coordinates (φ = k/d).

    ``curvature="isotropic"``: L_i = L∞/d for every i, the same for every k, so the runs without
    noise are one and the same problem whatever k (Theorem 3's noise term then has no 1/φ:
    (Σσ_i√L_i)² = ‖σ‖₁²L∞/d). ``"follows"``: L_i = (L∞/2)(1/d + 1[i < k]/k), the curvature of
    :func:`lift_problem` (the noisy coordinates are the stiff ones), kept for the control too.
    Stored as the k noisy coordinates and one class of the d − k noiseless ones (multiplicity
    d − k); the oracle is None when ``noise_l1`` is 0.
    """
    d = _validate.integer("d", d, low=1)
    k = _validate.integer("k", k, low=1, high=d)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    curvature = _validate.choice("curvature", curvature, CURVATURES)
    linf = _validate.positive("linf", linf)
    stored = k + (1 if k < d else 0)
    if curvature == "isotropic":
        L = torch.full((stored,), linf / d, dtype=torch.float64)
    else:
        L = torch.full((stored,), linf / (2 * d), dtype=torch.float64)
        L[:k] += linf / (2 * k)
    m = torch.ones(stored, dtype=torch.float64)
    if k < d:
        m[-1] = d - k
    sigma = torch.zeros(stored, dtype=torch.float64)
    sigma[:k] = noise_l1 / k
    oracle = Gaussian(sigma) if noise_l1 > 0 else None
    return SeparableQuadratic(L, multiplicity=m), oracle


def phi_factor(
    k_values: Any,
    *,
    d: int,
    noise_l1: float,
    eps: float,
    seeds: int = 32,
    seed: int = 0,
    curvature: str = "isotropic",
    at_rest: bool = False,
) -> dict[str, np.ndarray]:
    r"""The noise factor: N(ε) for E‖∇f‖₁ ≤ ε with k noisy coordinates out of d, per k.

    Problem: :func:`phi_factor_problem` (L∞ = 1, ‖σ‖₁ = ``noise_l1``); ``noise_l1=0`` runs the
    same curvature without noise, the control: a gain that is still there without noise is not
    the noise effect. x₀: ``initial_point(seeds, stored, seed)`` (the class of noiseless
    coordinates shares its value); ``at_rest=True`` starts the k noisy coordinates at their
    minimum 0, as in Theorem 3's noise-term instance, so that only the noise moves them. B = 1,
    each method tuned over its grid (see :func:`d_factor`).
    Returns ``{"phi", "k", "sgd", "signsgd", "sgd_lr", "signsgd_lr", "sgd_boot",
    "signsgd_boot"}``.
    """
    d = _validate.integer("d", d, low=1)
    ks = _values("k_values", k_values, low=1)
    if bool((ks > d).any()):
        raise ValueError(f"k_values must be <= d = {d} (got {ks.tolist()})")
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    eps = _validate.positive("eps", eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    seed = _validate.integer("seed", seed, low=0)
    if at_rest is not True and at_rest is not False:
        raise ValueError(f"at_rest must be True or False (got {at_rest!r})")
    if at_rest and bool((ks == d).any()):
        raise ValueError("k_values must be < d with at_rest=True (some coordinate must start away)")
    cases = []
    for k in ks.tolist():
        problem, oracle = phi_factor_problem(d, k, noise_l1=noise_l1, curvature=curvature)
        x0 = initial_point(seeds, problem.shape[0], seed)
        if at_rest:
            x0[:, :k] = 0.0
        cases.append((problem, oracle, x0, 200_000))
    return {"phi": ks / d, "k": ks.astype(float), **_sweep(cases, eps, seeds, seed, None)}


def factor_slopes(result: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    r"""Fitted log-log slopes, with their bootstrap uncertainty, of a :func:`d_factor` or
    :func:`phi_factor` result against its x values: ``{"sgd", "signsgd", "ratio"}`` → (slope, se).

    The ratio is N_SGD/N_SignSGD; its replicates are the ratios of the two methods' replicates
    over the same resampled seeds (replicates with a non-finite count at some x are left out).
    """
    x = result["d"] if "d" in result else result["phi"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = result["sgd"] / result["signsgd"]
        ratio_boot = result["sgd_boot"] / result["signsgd_boot"]
    return {
        "sgd": loglog_fit(x, result["sgd"], result["sgd_boot"]),
        "signsgd": loglog_fit(x, result["signsgd"], result["signsgd_boot"]),
        "ratio": loglog_fit(x, ratio, ratio_boot),
    }


def toy_stochastic_prediction(
    lrs: dict[str, float], *, d: int = 100, sigma: float = 100.0, steps: int = 3000
) -> dict[str, np.ndarray]:
    r"""E f(x_t), t = 0 … steps − 1, of :func:`~signlab.experiments.toys.toy_stochastic`, predicted.

    f = ½‖x‖², x₀ ~ N(0, I), noise σξ on x₁ only. **SGD**: x₁ ← (1 − η)x₁ − ησξ, so
    E x₁² = v + (1 − v)(1 − η)^{2t} with v = ησ²/(2 − η), and each noiseless coordinate has
    E x² = (1 − η)^{2t}. **SignSGD**: while |x₁| ≪ σ, a step moves x₁ by ±η with
    E[sign(x₁ + σξ)] = erf(x₁/(σ√2)) ≈ √(2/π)x₁/σ, so m_t = E x₁² obeys
    m_{t+1} = m_t(1 − 2η√(2/π)/σ) + η²: m_t = v + (1 − v)ρ^t, ρ = 1 − 2η√(2/π)/σ, with the floor
    v = ησ√(π/8), set by the step size. A noiseless coordinate walks to 0 at speed η and then
    alternates between r and r − η (r ∈ [0, η), ≈ uniform), so E x² → η²/3 once t ≥ |x₀|/η;
    before that E x² = E[(|x₀| − tη)²; |x₀| > tη] + (η²/3)·P(|x₀| ≤ tη). Returns method → curve.
    """
    d = _validate.integer("d", d, low=1)
    sigma = _validate.positive("sigma", sigma)
    steps = _validate.integer("steps", steps, low=1)
    t = np.arange(steps, dtype=float)
    out = {}
    for method, lr in lrs.items():
        eta = _validate.positive(f"lrs[{method!r}]", lr)
        if method == "sgd":
            v = eta * sigma**2 / (2 - eta)
            noisy = v + (1 - v) * (1 - eta) ** (2 * t)
            flat = (1 - eta) ** (2 * t)
        elif method == "signsgd":
            v = eta * sigma * math.sqrt(math.pi / 8)
            noisy = v + (1 - v) * (1 - 2 * eta * math.sqrt(2 / math.pi) / sigma) ** t
            a = t * eta  # E[(|z| − a)²; |z| > a] for z ~ N(0, 1), in closed form
            sf = 0.5 * torch.special.erfc(torch.from_numpy(a) / math.sqrt(2)).numpy()
            pdf = np.exp(-(a**2) / 2) / math.sqrt(2 * math.pi)
            tail = 2 * ((1 + a**2) * sf - a * pdf)
            flat = tail + (eta**2 / 3) * (1 - 2 * sf)
        else:
            raise ValueError(f"lrs must map 'sgd' or 'signsgd' to a step size (got {method!r})")
        out[method] = 0.5 * (noisy + (d - 1) * flat)
    return out


def noise_moments(
    models: dict[str, Any], grad: torch.Tensor, batch: int, *, seed: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    r"""Sample every oracle of ``models`` at ``grad`` (shape (n, d): n draws of a mean of
    ``batch``), one generator seeded ``seed`` for all, in order: per model the draws, their mean
    and σ̂·√B (:func:`signlab.sim.noise.estimate_sigma` times √B, to compare with σ; NaN when
    n = 1)."""
    from signlab.sim.noise import estimate_sigma

    batch = _validate.integer("batch", batch, low=1)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    out = {}
    for name, model in models.items():
        draws = model.sample(grad, batch, generator)
        spread = (
            estimate_sigma(draws).numpy() * math.sqrt(batch)
            if draws.shape[0] >= 2
            else np.full(draws.shape[1:], np.nan)
        )
        out[name] = {"draws": draws.numpy(), "mean": draws.mean(0).numpy(), "sigma": spread}
    return out


def density_estimates(sigma: Any, ns: Any, *, seed: int = 0) -> dict[str, np.ndarray]:
    r"""φ̂ from the first n of max(ns) Gaussian gradient samples with noise σ, for each n in ``ns``.

    ``"over_n_minus_1"``: :func:`signlab.sim.noise.estimate_density` (σ̂ with the n − 1 divisor);
    ``"over_n"``: the same with the 1/n variance; ``"true"``: φ(σ). φ is scale-invariant and the two σ̂ differ by the
    factor √(n/(n − 1)) in every coordinate, so the two rows agree to rounding.
    """
    from signlab.geometry import density
    from signlab.sim.noise import estimate_density

    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    ns = _values("ns", ns, low=2)
    gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    zeros = torch.zeros(int(ns.max()), sigma.numel(), dtype=torch.float64)
    samples = Gaussian(sigma).sample(zeros, 1, gen)
    biased = [float(density(samples[:n].std(dim=0, correction=0))) for n in ns.tolist()]
    return {
        "over_n": np.asarray(biased),
        "over_n_minus_1": np.asarray([estimate_density(samples[:n]) for n in ns.tolist()]),
        "true": float(density(sigma)),
    }
