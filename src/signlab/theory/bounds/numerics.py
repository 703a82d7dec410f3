r"""Numerical checks of the facts the upper-bound proofs rest on, on random instances.

Each function draws random instances from a seeded generator and returns the smallest margin by
which a proved inequality holds (≥ 0 up to rounding means it held every time), so a chapter can
show the check and assert it:

- :func:`separable_to_linf`: Σ_iL_iv_i² ≤ ‖L‖₁‖v‖∞² as a ratio (separable ⇒ ℓ∞-smooth);
- :func:`one_step_margin`: Theorem 1's one-step inequality
  f(x − η sign g) ≤ f(x) − η‖∇f‖₁ + 2η‖∇f − g‖₁ + η²L∞/2 on separable quadratics;
- :func:`noise_l1_means`: E‖mean of B noise draws‖₁ against ‖σ‖₁/√B (Monte Carlo);
- :func:`msign_alignment_margin`: ⟨∇F, msign(G)⟩ ≥ ‖∇F‖_* − 2‖∇F − G‖_* on random matrices;
- :func:`alignment_on_simplex`: (Σσ_i√L_i)² over random L with ‖L‖₁ = L∞, against L∞‖σ‖₂².
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate

__all__ = [
    "alignment_on_simplex",
    "msign_alignment_margin",
    "noise_l1_means",
    "one_step_margin",
    "separable_to_linf",
]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(_validate.integer("seed", seed, low=0))


def separable_to_linf(d: int = 30, pairs: int = 20_000, *, seed: int = 0) -> dict[str, float]:
    r"""The largest |f(y) − f(x) − ⟨∇f(x), y − x⟩| / (‖L‖₁/2·‖y − x‖∞²) over random pairs.

    f = ½Σ c_ix_i² with curvatures c of both signs (separable constants |c_i| = L_i); ``max`` ≤ 1
    is the lemma. ``tight``: the same ratio for the convex quadratic with curvatures L at
    y − x = 1, where it is exactly 1.
    """
    rng = _rng(seed)
    d = _validate.integer("d", d, low=1)
    curv = rng.standard_normal(d) * rng.exponential(size=d)
    L = np.abs(curv)
    x, y = rng.standard_normal((2, _validate.integer("pairs", pairs, low=1), d))
    gap = np.abs(
        0.5 * (curv * y**2).sum(1) - 0.5 * (curv * x**2).sum(1) - ((curv * x) * (y - x)).sum(1)
    )
    ratio = gap / (L.sum() / 2 * np.abs(y - x).max(1) ** 2)
    x0 = rng.standard_normal(d)
    tight = 0.5 * (L * (x0 + 1) ** 2).sum() - 0.5 * (L * x0**2).sum() - (L * x0).sum()
    return {"max": float(ratio.max()), "tight": float(tight / (L.sum() / 2))}


def one_step_margin(trials: int = 5000, *, seed: int = 0) -> float:
    r"""min over random trials of (right side − f(x_{t+1})) in Theorem 1's one-step inequality.

    Each trial: a separable quadratic with k ≤ 19 coordinates, curvatures L_i ~ Exp(1), a point
    x ~ N(0, I), a noisy gradient g = ∇f + s·ξ with a random scale s, and a step η ~ Exp(1/2).
    """
    rng = _rng(seed)
    worst = np.inf
    for _ in range(_validate.integer("trials", trials, low=1)):
        k = int(rng.integers(1, 20))
        L, x = rng.exponential(size=k), rng.standard_normal(k)
        grad = L * x
        g = grad + rng.standard_normal(k) * rng.exponential()
        eta = rng.exponential(0.5)
        nxt = x - eta * np.sign(g)
        rhs = (
            0.5 * (L * x**2).sum()
            - eta * np.abs(grad).sum()
            + 2 * eta * np.abs(grad - g).sum()
            + eta**2 * L.sum() / 2
        )
        worst = min(worst, rhs - 0.5 * (L * nxt**2).sum())
    return float(worst)


def noise_l1_means(
    sigma: Any, batches: Any, *, samples: int = 4000, seed: int = 0
) -> dict[str, np.ndarray]:
    r"""Monte Carlo E‖(1/B)Σ_b σ⊙ξ_b‖₁ (Gaussian ξ) for each B, and the bound ‖σ‖₁/√B."""
    rng = _rng(seed)
    sigma = np.asarray(sigma, dtype=float)
    _validate.nonnegative_array("sigma", sigma)
    batches = [_validate.integer("batches", int(b), low=1) for b in np.atleast_1d(batches)]
    measured = [
        np.abs(rng.standard_normal((samples, B, sigma.size)).mean(axis=1) * sigma).sum(1).mean()
        for B in batches
    ]
    return {
        "batch": np.asarray(batches),
        "measured": np.asarray(measured),
        "bound": sigma.sum() / np.sqrt(batches),
    }


def msign_alignment_margin(trials: int = 300, *, seed: int = 0) -> float:
    r"""min over random m×n pairs of ⟨∇F, msign(G)⟩ − (‖∇F‖_* − 2‖∇F − G‖_*) (exact msign)."""
    from signlab.geometry.matrix import msign, nuclear_norm

    rng = _rng(seed)
    worst = np.inf
    for _ in range(_validate.integer("trials", trials, low=1)):
        m, n = rng.integers(2, 8, 2)
        grad = torch.tensor(rng.standard_normal((m, n)))
        G = grad + torch.tensor(rng.standard_normal((m, n)) * rng.exponential())
        lhs = float((grad * msign(G, method="svd")).sum())
        worst = min(worst, lhs - float(nuclear_norm(grad) - 2 * nuclear_norm(grad - G)))
    return float(worst)


def alignment_on_simplex(
    sigma: Any, L_inf: float = 1.0, *, draws: int = 2000, seed: int = 0
) -> dict[str, float]:
    r"""(Σσ_i√L_i)² for ``draws`` random curvatures L with ‖L‖₁ = L∞ (Dirichlet), beside the
    Cauchy–Schwarz maximum L∞‖σ‖₂² (at L_i = L∞σ_i²/‖σ‖₂²) and the isotropic value ‖σ‖₁²L∞/d."""
    rng = _rng(seed)
    sigma = np.asarray(sigma, dtype=float)
    _validate.nonnegative_array("sigma", sigma)
    L_inf = _validate.positive("L_inf", L_inf)
    L = L_inf * rng.dirichlet(np.ones(sigma.size), size=_validate.integer("draws", draws, low=1))
    values = (sigma * np.sqrt(L)).sum(axis=1) ** 2
    aligned = L_inf * sigma**2 / (sigma**2).sum()
    return {
        "random_max": float(values.max()),
        "maximum": float(L_inf * (sigma**2).sum()),
        "at_allocation": float((sigma * np.sqrt(aligned)).sum() ** 2),
        "isotropic": float(sigma.sum() ** 2 * L_inf / sigma.size),
    }
