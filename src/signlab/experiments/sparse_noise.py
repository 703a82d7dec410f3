r"""The sparse-noise chapter's simulations: SGD against SignSGD with k noisy coordinates out of d.

Two effects are measured apart, each with tuned step sizes (every step size of a grid, as one
population of the engine: :func:`signlab.sim.engine.tune`), 32 seeds, and for a range of targets ε
read off the same runs (a target decides what a count says, so no claim rests on one):

- :func:`d_factor`: the *noiseless* d factor of Theorem 3's first term, on one stiff coordinate
  (L₁ = L∞/2) and d − 1 flat ones sharing the other half of L∞, with exact gradients;
- :func:`phi_factor`: k noisy coordinates out of d (φ = k/d), beside the same runs without noise
  (``noise_l1=0``), the control.

Every count N(ε) comes with bootstrap replicates over the seeds, the step size chosen again inside
each (:class:`Counts`), so counts, their ratios (:func:`count_ratio`) and fitted slopes
(:func:`factor_slopes`) carry their uncertainty. Large d is exact through multiplicities:
noiseless coordinates with the same curvature and the same start move identically under SGD and
SignSGD, so one stored coordinate stands for all of them (:mod:`signlab.sim.problems`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    "METHODS",
    "Counts",
    "count_ratio",
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
    "signsgd_grid",
    "signsgd_threshold",
    "spread",
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
    every: int = 1,
) -> dict[str, Trajectory]:
    r"""SGD and SignSGD on :func:`lift_problem` with Gaussian noise on ``k`` of ``d`` coordinates.

    σ_i = ``noise_l1``/k on the first k coordinates (so ‖σ‖₁ = ``noise_l1`` and φ = k/d), x₀ ~ N(0, I).
    SGD's step is η = ``sgd_rate``/max_i L_i (it diverges for ``sgd_rate`` ≥ 2), SignSGD's is
    ``lr_signsgd``. Both methods see the same noise draws (common random numbers) and record ‖∇f‖₁
    every ``every`` steps. float32, for speed: this is the chapter's live simulation.
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
    return race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed, every=every)


# ---------------------------------------------------------------------------------------------
# The two factors, measured apart, over a range of targets ε.

CURVATURES = ("isotropic", "follows")
"""Curvatures of :func:`phi_factor_problem`: L_i = L∞/d, or L_i = (L∞/2)(1/d + 1[i < k]/k)."""

SGD_HALVINGS = 11
"""SGD's grid reaches 2⁻¹¹ times the stiffest coordinate's stability limit (more where noise asks)."""

SIGNSGD_SPAN = (4.0, 1 / 32)
"""SignSGD's grid runs from 4·max ε/L∞ down to min ε/(32 L∞), by factors of √2."""

BOOTSTRAP = 200
"""Bootstrap resamples of the seeds behind every count's and every slope's uncertainty."""


def sgd_grid(L: Any, *, noise_l1: float = 0.0, eps: float | None = None) -> np.ndarray:
    r"""SGD's step sizes for curvatures ``L``, by factors of 2, largest first.

    From the stability limit 2/min L of the flattest coordinate (a step beyond 2/max L diverges
    unless the stiff coordinates sit at their minimum, where only the noise moves them) down to
    (1.9/max L)·2⁻¹¹. With noise, SGD settles where E‖∇f‖₁ ≈ ‖σ‖₁√(ηL/π) on a coordinate of
    curvature L; to reach a target ``eps`` its step must fall to about π(ε/‖σ‖₁)²/max L, and
    the grid then goes a factor 4 below that.
    """
    L = np.asarray(L, dtype=float)
    L = L[L > 0]
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    top = int(math.floor(math.log2(L.max() / L.min()) + 1e-9))
    low = SGD_HALVINGS
    if noise_l1 > 0 and eps is not None:
        eps = _validate.positive("eps", eps)
        needed = 4 * 1.9 * noise_l1**2 / (math.pi * eps**2)
        low = max(low, int(math.ceil(math.log2(needed))))
    return 1.9 / L.max() * 2.0 ** np.arange(top, -low - 1, -1)


def signsgd_grid(eps: Any, *, linf: float = 1.0) -> np.ndarray:
    r"""SignSGD's step sizes for the targets ``eps``, by factors of √2, largest first.

    SignSGD's step sets its floor (about L∞η/2 without noise, more with dense noise, where the best
    step was measured near ε/(10 L∞)), so the grid spans :data:`SIGNSGD_SPAN`: 4·max ε/L∞ down to
    min ε/(32 L∞).
    """
    targets = _targets(eps)
    linf = _validate.positive("linf", linf)
    hi, lo = SIGNSGD_SPAN[0] * targets.max() / linf, SIGNSGD_SPAN[1] * targets.min() / linf
    count = int(math.floor(2 * math.log2(hi / lo) + 1e-9)) + 1
    return hi * 2.0 ** (-np.arange(count) / 2)


def _targets(eps: Any) -> np.ndarray:
    """One target or several, as a sorted 1-D array of positive floats (largest first)."""
    arr = np.atleast_1d(np.asarray(eps, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError("eps must be a target or a non-empty 1-D sequence of targets")
    for value in arr.tolist():
        _validate.positive("eps", value)
    if len(set(arr.tolist())) != arr.size:
        raise ValueError(f"eps must not repeat a target (got {arr.tolist()})")
    return np.sort(arr)[::-1]


def _values(name: str, values: Any, low: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of integers")
    for v in arr.tolist():
        _validate.integer(name, v, low=low)
    return arr.astype(int)


@dataclass(frozen=True)
class Counts:
    r"""N(ε) of SGD and SignSGD over a swept parameter ``x`` and a range of targets ``eps``.

    ``n[method]`` has shape (len(x), len(eps)): the fewest stochastic gradients after which the
    mean over the seeds of ‖∇f‖₁ is at most ε, the best over the method's step-size grid (inf:
    not reached). ``boot[method]``, shape (:data:`BOOTSTRAP`, len(x), len(eps)): the same count
    for resamples of the seeds, with the step size chosen again inside each resample, so the
    spread includes the tuning. Every experiment of one call resamples the same seeds, so ratios
    of its counts (and of two calls with the same ``seeds`` and ``seed``) are paired
    (:func:`count_ratio`). ``lr[method]``: the chosen step sizes; ``edge[method]``: True where the
    chosen step size is the smallest or largest of its grid (the grid may be too short there).
    """

    x: np.ndarray
    eps: np.ndarray
    n: dict[str, np.ndarray]
    boot: dict[str, np.ndarray]
    lr: dict[str, np.ndarray]
    edge: dict[str, np.ndarray]

    def se(self, method: str) -> np.ndarray:
        """The bootstrap standard error of ``n[method]`` (:func:`spread`)."""
        return spread(self.boot[_validate.choice("method", method, self.n)])

    def column(self, eps: float) -> int:
        """The index of the target ``eps`` in :attr:`eps`."""
        hit = np.flatnonzero(np.isclose(self.eps, eps, rtol=1e-9, atol=0.0))
        if hit.size == 0:
            raise ValueError(f"eps must be one of the targets {self.eps.tolist()} (got {eps!r})")
        return int(hit[0])


def d_factor_problem(d: int, *, linf: float = 1.0) -> SeparableQuadratic:
    r"""f(x) = ½(L∞/2)x₁² + ½ Σ_{i≥2} (L∞/(2(d−1))) x_i², stored as two coordinates.

    Theorem 3's noiseless term √(d‖L‖∞Δ/T) grows with ‖L‖∞, which under ‖L‖₁ = L∞ is largest,
    L∞, when one coordinate holds all the curvature; but then the others have none, f does not
    depend on them, and no method needs to move them. This instance keeps half, ‖L‖∞ = L₁ = L∞/2,
    and spreads the other half over the d − 1 flat coordinates (one class, multiplicity d − 1,
    sharing their start), which still have to move. SGD's one step size must stay below
    2/L₁ = 4/L∞ (else x₁ diverges), so a flat coordinate contracts by at most 1 − 2/(d − 1) per
    step: its count grows like d. SignSGD moves every coordinate by η per step, whatever its
    curvature. L∞ and, for the same start, Δ and ‖∇f(x₀)‖₁ do not depend on d.
    """
    d = _validate.integer("d", d, low=2)
    linf = _validate.positive("linf", linf)
    L = torch.tensor([linf / 2, linf / (2 * (d - 1))], dtype=torch.float64)
    return SeparableQuadratic(L, multiplicity=torch.tensor([1.0, d - 1.0], dtype=torch.float64))


def spread(replicates: Any) -> np.ndarray:
    r"""The standard error behind bootstrap ``replicates`` (axis 0): half the distance between their
    15.9% and 84.1% quantiles, which is one standard deviation for a normal law.

    Quantiles rather than the standard deviation, because a few resamples may not reach the target
    before the runs stopped (an infinite count): they sit in the upper tail, where they move the
    quantile little, and the error is infinite only when more than 15.9% of them never got there.
    """
    reps = np.asarray(replicates, dtype=float)
    if reps.ndim == 0 or reps.shape[0] < 2:
        raise ValueError(f"replicates must hold at least 2 rows (got shape {reps.shape})")
    reps = np.where(np.isnan(reps), np.inf, reps)
    with np.errstate(invalid="ignore"):  # interpolating towards an infinite replicate
        lo, hi = np.quantile(reps, [0.5 - 0.3413, 0.5 + 0.3413], axis=0, method="linear")
        return np.where(np.isfinite(hi), (hi - lo) / 2, math.inf)


def _boot_indices(seeds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng((seed, 0xB007))
    return rng.integers(0, seeds, size=(BOOTSTRAP, seeds))


METHODS = ("sgd", "signsgd")
"""The two methods the chapter races."""


def _sweep(cases, targets: np.ndarray, seeds: int, seed: int, noise_l1: float, methods) -> dict:
    """Run ``methods`` on every (problem, oracle, x₀, max steps) of ``cases``, tuned for the
    smallest target; every target's count and its bootstrap replicates read off the same runs."""
    boot = _boot_indices(seeds, seed)
    everyone = np.arange(seeds)[None]
    parts: dict[str, dict[str, list]] = {k: {} for k in ("n", "boot", "lr", "edge")}
    for problem, oracle, x0, steps in cases:
        for method in methods:
            if method == "sgd":
                lrs = sgd_grid(problem.L, noise_l1=noise_l1, eps=float(targets.min()))
            else:
                lrs = signsgd_grid(targets, linf=problem.linf_smoothness)
            run = tune(
                problem, oracle, method, x0, lrs, float(targets.min()), steps=steps, seed=seed,
                margin=1.3,
            )  # fmt: skip
            chosen, edge = _chosen(run, targets)
            parts["n"].setdefault(method, []).append(run.resampled(everyone, targets)[0])
            parts["boot"].setdefault(method, []).append(run.resampled(boot, targets))
            parts["lr"].setdefault(method, []).append(chosen)
            parts["edge"].setdefault(method, []).append(edge)
    stack = {"n": 0, "boot": 1, "lr": 0, "edge": 0}
    return {
        key: {m: np.stack(v, axis=stack[key]) for m, v in per.items()} for key, per in parts.items()
    }


def _chosen(run, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best step size of ``run`` at each target (NaN where none got there), and whether only
    the first or the last step size of the grid reached that best count."""
    counts = run.crossings(targets)  # (step sizes, targets)
    best = counts.min(axis=0)
    interior = counts[1:-1].min(axis=0) if len(counts) > 2 else np.full(len(targets), math.inf)
    chosen = np.where(np.isfinite(best), run.lrs[np.argmin(counts, axis=0)], math.nan)
    return chosen, np.isfinite(best) & (interior > best)


def d_factor(d_values: Any, *, eps: Any, seeds: int = 32, seed: int = 0) -> Counts:
    r"""The noiseless d factor: N(ε) for E‖∇f‖₁ ≤ ε on :func:`d_factor_problem`, per d and ε.

    Exact gradients, L∞ = 1; x₀: per seed, one N(0, 1) value for the stiff coordinate and one
    shared by the d − 1 flat ones (``initial_point(seeds, 2, seed)``), so E‖∇f(x₀)‖₁ = √(2/π).
    ``eps``: one target or several (read off the same runs). Each method runs every step size of
    its grid (:func:`sgd_grid`, :func:`signsgd_grid`) and keeps the best; ``Counts.x`` holds d.
    """
    ds = _values("d_values", d_values, low=2)
    targets = _targets(eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    seed = _validate.integer("seed", seed, low=0)
    x0 = initial_point(seeds, 2, seed)
    steps = 40 * int(ds.max()) * max(1, math.ceil(math.log(1 / targets.min()))) + 10_000
    cases = [(d_factor_problem(d), None, x0, steps) for d in ds.tolist()]
    return Counts(ds.astype(float), targets, **_sweep(cases, targets, seeds, seed, 0.0, METHODS))


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
    eps: Any,
    seeds: int = 32,
    seed: int = 0,
    curvature: str = "isotropic",
    at_rest: bool = False,
    methods: Any = METHODS,
) -> Counts:
    r"""The noise factor: N(ε) for E‖∇f‖₁ ≤ ε with k noisy coordinates out of d, per k and ε.

    Problem: :func:`phi_factor_problem` (L∞ = 1, ‖σ‖₁ = ``noise_l1``); ``noise_l1=0`` runs the
    same curvature without noise, the control: a gain that is still there without noise is not
    the noise effect. x₀: ``initial_point(seeds, stored, seed)`` (the class of noiseless
    coordinates shares its value); ``at_rest=True`` starts the k noisy coordinates at their
    minimum 0, as in Theorem 3's noise-term instance, so that only the noise moves them. B = 1,
    each method tuned over its grid (see :func:`d_factor`); ``eps``: one target or several;
    ``methods``: which of "sgd" and "signsgd" to run. ``Counts.x`` holds φ = k/d.
    """
    d = _validate.integer("d", d, low=1)
    ks = _values("k_values", k_values, low=1)
    if bool((ks > d).any()):
        raise ValueError(f"k_values must be <= d = {d} (got {ks.tolist()})")
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    targets = _targets(eps)
    seeds = _validate.integer("seeds", seeds, low=2)
    seed = _validate.integer("seed", seed, low=0)
    if at_rest is not True and at_rest is not False:
        raise ValueError(f"at_rest must be True or False (got {at_rest!r})")
    methods = tuple(methods) if not isinstance(methods, str) else (methods,)
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"methods must name distinct methods of {METHODS} (got {methods!r})")
    for method in methods:
        _validate.choice("methods", method, METHODS)
    if at_rest and bool((ks == d).any()):
        raise ValueError("k_values must be < d with at_rest=True (some coordinate must start away)")
    cases = []
    for k in ks.tolist():
        problem, oracle = phi_factor_problem(d, k, noise_l1=noise_l1, curvature=curvature)
        x0 = initial_point(seeds, problem.shape[0], seed)
        if at_rest:
            x0[:, :k] = 0.0
        cases.append((problem, oracle, x0, 400_000))
    return Counts(ks / d, targets, **_sweep(cases, targets, seeds, seed, noise_l1, methods))


def count_ratio(
    top: Counts, top_method: str, bottom: Counts, bottom_method: str
) -> tuple[np.ndarray, np.ndarray]:
    r"""N_top/N_bottom per (x, ε) and its bootstrap standard error.

    The two counts must come from runs on the same seeds (one call, or two calls with the same
    ``seeds`` and ``seed``, such as a noisy run and its control): their replicates resample the
    same seeds, so the ratio's replicates are paired and its spread is the ratio's own.
    """
    if top.boot[top_method].shape != bottom.boot[bottom_method].shape or not np.array_equal(
        top.eps, bottom.eps
    ):
        raise ValueError("top and bottom must have the same x, eps and bootstrap shape")
    with np.errstate(invalid="ignore", divide="ignore"):
        value = top.n[top_method] / bottom.n[bottom_method]
        reps = top.boot[top_method] / bottom.boot[bottom_method]
    return value, spread(reps)


def factor_slopes(counts: Counts, eps: float) -> dict[str, tuple[float, float]]:
    r"""Fitted log-log slopes of N(ε) against ``counts.x`` at the target ``eps``, with their
    bootstrap uncertainty: ``{"sgd", "signsgd", "ratio"}`` → (slope, se).

    The ratio is N_SGD/N_SignSGD; its replicates are the ratios of the two methods' replicates
    over the same resampled seeds (replicates with a non-finite count at some x are left out). A
    slope summarises a power law only where the counts follow one: look at them first.
    """
    j = counts.column(eps)
    n = {m: counts.n[m][:, j] for m in METHODS}
    reps = {m: counts.boot[m][:, :, j] for m in METHODS}
    with np.errstate(invalid="ignore", divide="ignore"):
        n["ratio"] = n["sgd"] / n["signsgd"]
        reps["ratio"] = reps["sgd"] / reps["signsgd"]
    return {m: loglog_fit(counts.x, n[m], reps[m]) for m in ("sgd", "signsgd", "ratio")}


def signsgd_threshold(eps: Any, *, linf: float = 1.0) -> Any:
    r"""φ* = (ε/L∞)·√(π/2): below this noise density SignSGD can reach ε without taming the noise.

    On the isotropic problem of :func:`phi_factor_problem` (L_i = L∞/d, x₀ ~ N(0, I)) the k noisy
    coordinates carry E Σ_{i≤k} L_i|x₀ᵢ| = φ L∞ √(2/π) of ‖∇f(x₀)‖₁. Each gets noise of size
    ‖σ‖₁/k against a gradient of size L∞/d, so SignSGD's sign is nearly a coin flip there and those
    coordinates barely move on average. While their share is below ε, SignSGD reaches ε by moving
    the noiseless coordinates alone; above it, it has to drive noisy coordinates down through the
    noise. The threshold is where the share equals ε.
    """
    linf = _validate.positive("linf", linf)
    targets = np.asarray(eps, dtype=float)
    if not np.all(np.isfinite(targets)) or np.any(targets <= 0):
        raise ValueError(f"eps must hold positive finite targets (got {eps!r})")
    return targets / linf * math.sqrt(math.pi / 2)


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
    ``batch``), one generator seeded ``seed`` for all, in order. Per model: the ``"draws"``, their
    ``"mean"`` with its standard error ``"mean_se"`` (s/√n), and ``"sigma"``, σ̂·√B
    (:func:`signlab.sim.noise.estimate_sigma` times √B, to compare with σ), with its standard error
    ``"sigma_se"`` by the delta method, √((m₄ − s⁴)/n)/(2s)·√B with m₄ the fourth central moment
    (heavy tails make it large). NaN where n = 1."""
    from signlab.sim.noise import estimate_sigma

    batch = _validate.integer("batch", batch, low=1)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    out = {}
    for name, model in models.items():
        draws = model.sample(grad, batch, generator).numpy()
        n = draws.shape[0]
        if n >= 2:
            s = estimate_sigma(draws)
            m4 = ((draws - draws.mean(0)) ** 4).mean(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma_se = np.sqrt(np.maximum(m4 - s**4, 0.0) / n) / (2 * s)
            stats = {"sigma": s * math.sqrt(batch), "sigma_se": sigma_se * math.sqrt(batch)}
            stats["mean_se"] = s / math.sqrt(n)
        else:
            nan = np.full(draws.shape[1:], np.nan)
            stats = {"sigma": nan, "sigma_se": nan, "mean_se": nan}
        out[name] = {"draws": draws, "mean": draws.mean(0), **stats}
    return out


def density_estimates(
    sigma: Any, ns: Any, *, repeats: int = 100, nu: float | None = None, seed: int = 0
) -> dict[str, np.ndarray]:
    r"""How far φ̂ from n sampled gradients lies from the true φ(σ): its mean over ``repeats``
    independent sets of samples, for each n in ``ns``.

    Each repeat draws max(ns) gradients with noise σ (Gaussian, or Student-t with ``nu`` > 2
    degrees of freedom and standard deviation σ_i: heavier tails) and estimates φ from its first n
    (:func:`signlab.sim.noise.estimate_density`). Returns ``"n"``; ``"mean"`` and ``"se"`` (the
    standard error over the repeats) of φ̂; ``"over_n"``, the mean of the same estimate with the
    1/n variance (φ is scale-invariant and the two σ̂ differ by √(n/(n − 1)) in every
    coordinate, so it equals ``"mean"`` to rounding); ``"true"``: φ(σ). φ̂ lies below φ on average:
    sampling error spreads the entries of σ̂ out, and a spread-out vector is less dense. The
    heavier the tails, the noisier each σ̂_i and the larger that bias.
    """
    from signlab.geometry import density
    from signlab.sim.noise import StudentT, estimate_sigma

    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    ns = _values("ns", ns, low=2)
    repeats = _validate.integer("repeats", repeats, low=2)
    model = Gaussian(sigma) if nu is None else StudentT.with_std(sigma, nu=nu)
    gen = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    zeros = torch.zeros(int(ns.max()), repeats, sigma.numel(), dtype=torch.float64)
    samples = model.sample(zeros, 1, gen)  # (n, repeats, d): each repeat's own samples
    # estimate_density of each repeat's first n samples, all repeats at once
    est = np.array([density(estimate_sigma(samples[:n])).numpy() for n in ns.tolist()]).T
    biased = np.array(
        [density(samples[:n].std(dim=0, correction=0)).numpy() for n in ns.tolist()]
    ).T
    return {
        "n": ns.astype(float),
        "mean": est.mean(axis=0),
        "se": est.std(axis=0, ddof=1) / math.sqrt(repeats),
        "over_n": biased.mean(axis=0),
        "true": float(density(sigma)),
    }
