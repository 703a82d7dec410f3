r"""The Muon chapter's runs: Newton–Schulz step by step, msign's cost per method, and the low-rank
race of SGD, Muon and SignSGD with matrix noise of a chosen rank.

For vectors, sparse noise is what SignSGD exploits; for matrices the role of sparsity is played by
rank (Tao, Yu & Zhang, arXiv:2605.06615, Section 5: Muon's rate sees ‖Σ‖_*, SGD's ‖Σ‖_F). At a fixed
‖Σ‖_F a rank-r Σ has ‖Σ‖_* = √r‖Σ‖_F, so the race below changes only the rank.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import race
from signlab.geometry.matrix import msign, newton_schulz, spectral_norm
from signlab.sim.engine import Trajectory
from signlab.sim.noise import MatrixGaussian, low_rank_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = [
    "LOW_RANK_LRS",
    "low_rank_floors",
    "low_rank_problem",
    "low_rank_race",
    "msign_times",
    "newton_schulz_trace",
]

LOW_RANK_LRS = (("sgd", 1e-2), ("muon", 1e-2), ("signsgd", 3e-3))
"""Fixed step sizes of the race (hand-picked, the chapter says so)."""


def low_rank_problem(m: int = 8, stiff: float = 100.0) -> SeparableQuadratic:
    r"""F(W) = ½ tr(WᵀDW) on m×m matrices, D = diag(``stiff``, 1, …, 1), stored as the separable
    quadratic with curvature D_ii on every entry of row i.

    It is smooth in the spectral norm with L_* = tr D (tr(VᵀDV) ≤ ‖V‖_op² tr D), while SGD's
    Frobenius constant is λ_max(D) = ``stiff``: the matrix version of the paper's ill-conditioned toy.
    """
    m = _validate.integer("m", m, low=2)
    H = torch.ones(m, m, dtype=torch.float64)
    H[0] = _validate.positive("stiff", stiff)
    return SeparableQuadratic(H)


@functools.lru_cache(maxsize=16)
def low_rank_race(
    rank: int,
    *,
    m: int = 8,
    frobenius: float = 3.0,
    steps: int = 600,
    every: int = 10,
    seeds: int = 10,
    seed: int = 1,
    lrs: tuple[tuple[str, float], ...] = LOW_RANK_LRS,
) -> dict[str, Trajectory]:
    r"""Each method of ``lrs`` on :func:`low_rank_problem` with noise ΣZ, Σ of rank ``rank`` and
    ‖Σ‖_F = ``frobenius``, from the same random start (its first row divided by the stiffness),
    recording ‖∇F‖_* every ``every`` steps. Cached, since a widget asks for the same rank again.
    """
    problem = low_rank_problem(m)
    oracle = MatrixGaussian(low_rank_sigma(m, rank, frobenius))
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    W0 = torch.randn(seeds, m, m, generator=generator, dtype=torch.float64)
    W0[:, 0] /= float(problem.L[0, 0])
    return race(
        problem, oracle, W0, dict(lrs), steps=steps, seed=seed, record=("grad_nuc",), every=every
    )


def newton_schulz_trace(
    G: torch.Tensor, coefficients: str | tuple = "quintic", steps: int = 15
) -> dict[str, list]:
    r"""What k = 0 … ``steps`` Newton–Schulz steps do to G: the singular values of NS_k(G) and the
    spectral-norm error ‖NS_k(G) − UVᵀ‖_op against the exact polar factor (the chapter's figure).

    Returns ``{"singular_values": [array per k], "error": [float per k]}``.
    """
    steps = _validate.integer("steps", steps, low=0)
    exact = msign(G, method="svd")
    out: dict[str, list] = {"singular_values": [], "error": []}
    for k in range(steps + 1):
        X = newton_schulz(G, k, coefficients)
        out["singular_values"].append(torch.linalg.svdvals(X).numpy())
        out["error"].append(float(spectral_norm(X - exact)))
    return out


def msign_times(
    sizes: tuple[int, ...] = (16, 32, 64, 128),
    methods: tuple[str, ...] = ("svd", "newton_schulz", "newton_schulz_eigh"),
    *,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, dict[int, float]]:
    r"""Median wall time (seconds, of ``repeats`` calls after one warm-up) of ``msign`` on an m × 2m
    float32 Gaussian matrix, per method and m: measured on the machine that runs it."""
    repeats = _validate.integer("repeats", repeats, low=1)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    times: dict[str, dict[int, float]] = {method: {} for method in methods}
    for size in sizes:
        M = torch.randn(size, 2 * size, generator=generator)
        for method in methods:
            msign(M, method=method)
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                msign(M, method=method)
                samples.append(time.perf_counter() - start)
            times[method][size] = float(np.median(samples))
    return times


def low_rank_floors(
    ranks: tuple[int, ...] = (1, 2, 4, 8), *, last: int = 10
) -> dict[str, list[float]]:
    r"""Per method, the noise floor of :func:`low_rank_race` at each rank: the mean of ‖∇F‖_* over
    the ``last`` recorded points (the last 100 steps with the defaults)."""
    last = _validate.integer("last", last, low=1)
    floors: dict[str, list[float]] = {}
    for rank in ranks:
        for method, run in low_rank_race(rank).items():
            floors.setdefault(method, []).append(float(run["grad_nuc"].mean(axis=0)[-last:].mean()))
    return floors
