r"""The Muon chapter's low-rank race: SGD, Muon and SignSGD with matrix noise of a chosen rank.

For vectors, sparse noise is what SignSGD exploits; for matrices the role of sparsity is played by
rank (Tao, Yu & Zhang, arXiv:2605.06615, Section 5: Muon's rate sees ‖Σ‖_*, SGD's ‖Σ‖_F). At a fixed
‖Σ‖_F a rank-r Σ has ‖Σ‖_* = √r‖Σ‖_F, so the race below changes only the rank.
"""

from __future__ import annotations

import functools

import torch

from signlab import _validate
from signlab.experiments.common import race
from signlab.sim.engine import Trajectory
from signlab.sim.noise import MatrixGaussian, low_rank_sigma
from signlab.sim.problems import SeparableQuadratic

__all__ = ["LOW_RANK_LRS", "low_rank_problem", "low_rank_race"]

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
