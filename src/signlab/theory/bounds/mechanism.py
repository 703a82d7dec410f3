r"""Where Theorem 3's 1/φ comes from: noise on the stiff coordinates caps SGD's one step size, and
the flat coordinates, which still have to move, then take ∝ (d − k)/k longer.

The instance is the lower-bounds chapter's (:func:`signlab.theory.lowerbound.sgd_noise_instance`)
with the share s of L∞ on the noisy coordinates as a parameter (:func:`allocated_instance`):

- k noisy quadratic *wells* ½L_w x_i², σ_i = ‖σ‖₁/k, at rest at their minimum 0, with
  kL_w = sL∞;
- d − k noiseless *flat* Huber coordinates with curvature L_f, (d − k)L_f = (1 − s)L∞, kink
  a = 2ε/((d − k)L_f), so that on their linear part their slopes add up to 2ε, started at
  b = a/2 + Δ/(2ε), so that f(x₀) = Δ.

So ‖L‖₁ = L∞, and s = 1/2 is the lower-bounds chapter's instance. SGD uses one step size η for
every coordinate, and the two kinds of coordinates pull it in opposite directions:

1. **The noise caps the step** (:func:`noise_floor`, :func:`step_cap`). A well follows
   x ← (1 − ηL_w)x − ησ_wξ; its stationary law is N(0, ησ_w²/(L_w(2 − ηL_w))), so the k wells keep
   E‖∇f‖₁ at ‖σ‖₁·√(2ηL_w/(π(2 − ηL_w))) ≈ ‖σ‖₁√(ηL_w/π), below ε only for
   η ≤ η* ≈ πε²/(‖σ‖₁²L_w).
2. **The flat coordinates crawl.** On their linear part each moves ηL_f·a = 2εη/(d − k) per step
   and has to cover about Δ/(2ε): T ≥ (d − k)Δ/(4ε²η).
3. **Together** (:func:`steps_estimate`): T ≳ (d − k)Δ/(4ε²η*) = (d − k)·L_w‖σ‖₁²Δ/(4πε⁴), and
   since (Σ_iσ_i√L_i)² = ‖σ‖₁²L_w on this instance, T ≳ (d − k)(Σ_iσ_i√L_i)²Δ/(4πε⁴): the
   noise term of Jiang, Maladkar and Mokhtari's bound, with d − k for d.

With s = 1/2, L_w = L∞/(2k) and T ≈ (d − k)/k·‖σ‖₁²L∞Δ/(8πε⁴) = (1 − φ)/φ·‖σ‖₁²L∞Δ/(8πε⁴), with
φ = k/d: Theorem 3's 1/φ. With isotropic curvature (every L_i = L∞/d, s = k/d),
T ≈ (1 − φ)‖σ‖₁²L∞Δ/(4πε⁴): no 1/φ, the order of SignSGD's own noise term.

**Why the Cauchy–Schwarz maximiser is not an instance.** The bound's (Σσ_i√L_i)² is largest, for
‖L‖₁ = L∞, at L_i ∝ σ_i² (s = 1), which gives the flat coordinates L_i = 0. A function bounded
below whose curvature along x_i is 0 does not depend on x_i, so there is nothing left to crawl and
no d − k. The flat coordinates need (d − k)L_f > 2ε²/Δ (so that b > a: they start on their
linear part), i.e. s < 1 − 2ε²/(L∞Δ) (:func:`largest_share`). Every such s realises the mechanism,
and as s grows to that limit the count approaches the maximiser's value, which no function
attains.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from signlab import _validate
from signlab.theory.lowerbound.sgd import HardSGDInstance

__all__ = [
    "allocated_instance",
    "largest_share",
    "noise_floor",
    "step_cap",
    "steps_estimate",
    "wells_curvature",
]


def _common(d: int, k: int, eps: float, L_inf: float, Delta: float):
    d = _validate.integer("d", d, low=2)
    k = _validate.integer("k", k, low=1, high=d - 1)
    eps = _validate.positive("eps", eps)
    L_inf = _validate.positive("L_inf", L_inf)
    Delta = _validate.positive("Delta", Delta)
    return d, k, eps, L_inf, Delta


def largest_share(eps: float, *, L_inf: float = 1.0, Delta: float = 1.0) -> float:
    r"""The largest share s of L∞ the wells may take: 1 − 2ε²/(L∞Δ) (exclusive).

    The flat coordinates must start on the linear part of their Huber functions (b > a), which
    needs their total curvature (1 − s)L∞ above 2ε²/Δ. So s = 1, the Cauchy–Schwarz maximiser
    of the bound, is excluded: there the flat coordinates would have no curvature and f would not
    depend on them.
    """
    eps = _validate.positive("eps", eps)
    L_inf = _validate.positive("L_inf", L_inf)
    Delta = _validate.positive("Delta", Delta)
    return 1.0 - 2 * eps**2 / (L_inf * Delta)


def wells_curvature(k: int, wells_share: float, L_inf: float = 1.0) -> float:
    """L_w = s·L∞/k, the curvature of each of the k noisy wells."""
    k = _validate.integer("k", k, low=1)
    s = _validate.unit_interval("wells_share", wells_share)
    return s * _validate.positive("L_inf", L_inf) / k


def allocated_instance(
    d: int,
    k: int,
    eps: float,
    *,
    wells_share: float = 0.5,
    noise_l1: float = 1.0,
    L_inf: float = 1.0,
    Delta: float = 1.0,
) -> HardSGDInstance:
    r"""SGD's noise-term instance with the share ``wells_share`` = s of L∞ on the k noisy wells.

    k wells L_w = sL∞/k (σ_i = ‖σ‖₁/k, at rest at 0) and d − k flat Huber coordinates
    L_f = (1 − s)L∞/(d − k), kink a = 2ε/((d − k)L_f), start b = a/2 + Δ/(2ε) (so f(x₀) = Δ and
    ‖L‖₁ = L∞). s = 1/2 is :func:`~signlab.theory.lowerbound.sgd_noise_instance`; s = k/d gives
    isotropic curvature. s must lie in (0, :func:`largest_share`): the flat coordinates need
    some curvature, or f would not depend on them.
    """
    d, k, eps, L_inf, Delta = _common(d, k, eps, L_inf, Delta)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    s = _validate.unit_interval("wells_share", wells_share)
    top = largest_share(eps, L_inf=L_inf, Delta=Delta)
    if not 0 < s < top:
        raise ValueError(
            f"wells_share must be in (0, {top:.6g}) = (0, 1 − 2ε²/(L∞Δ)): the flat coordinates "
            f"need curvature above 2ε²/Δ in total (got {wells_share!r})"
        )
    L_w = s * L_inf / k
    L_f = (1 - s) * L_inf / (d - k)
    a = 2 * eps / ((d - k) * L_f)
    b = a / 2 + Delta / (2 * eps)
    return HardSGDInstance(
        [L_w] * k + [L_f],
        [math.inf] * k + [a],
        [1.0] * k + [float(d - k)],
        [noise_l1 / k] * k + [0.0],
        [0.0] * k + [b],
        eps=eps,
        term="noise",
    )


def noise_floor(eta: Any, L_w: float, noise_l1: float = 1.0) -> Any:
    r"""The stationary E‖∇f‖₁ of wells of curvature ``L_w`` under SGD with step size ``eta``.

    A well x ← (1 − ηL_w)x − ησ_wξ (Gaussian ξ) settles at N(0, ησ_w²/(L_w(2 − ηL_w))) for
    ηL_w < 2, so E|L_wx| = σ_w√(2ηL_w/(π(2 − ηL_w))); k wells of σ_w = ‖σ‖₁/k add up to
    ‖σ‖₁√(2ηL_w/(π(2 − ηL_w))) ≈ ‖σ‖₁√(ηL_w/π) for small ηL_w. ``inf`` for ηL_w ≥ 2 (no
    stationary law: SGD diverges).
    """
    L_w = _validate.positive("L_w", L_w)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    eta = np.asarray(eta, dtype=float)
    _validate.finite_array("eta", eta)
    if np.any(eta <= 0):
        raise ValueError("eta must hold step sizes > 0")
    u = eta * L_w
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(u < 2, noise_l1 * np.sqrt(2 * u / (np.pi * (2 - u))), np.inf)
    return float(out) if out.ndim == 0 else out


def step_cap(eps: float, L_w: float, noise_l1: float = 1.0) -> float:
    r"""The largest step size η* at which :func:`noise_floor` is ≤ ε.

    Solving ‖σ‖₁²·2u/(π(2 − u)) = ε² for u = ηL_w gives u = 2r/(2 + r) with r = πε²/‖σ‖₁², so
    η* = 2r/((2 + r)L_w) ≈ πε²/(‖σ‖₁²L_w): inversely proportional to the wells' curvature.
    Without noise (``noise_l1=0``) the wells allow any stable step, 2/L_w.
    """
    eps = _validate.positive("eps", eps)
    L_w = _validate.positive("L_w", L_w)
    noise_l1 = _validate.nonnegative("noise_l1", noise_l1)
    if noise_l1 == 0:
        return 2.0 / L_w
    r = math.pi * eps**2 / noise_l1**2
    return 2 * r / ((2 + r) * L_w)


def steps_estimate(
    d: int,
    k: int,
    eps: float,
    *,
    wells_share: float = 0.5,
    noise_l1: float = 1.0,
    L_inf: float = 1.0,
    Delta: float = 1.0,
) -> float:
    r"""The mechanism's count of SGD steps on :func:`allocated_instance`: (d − k)Δ/(4ε²η*).

    η* is :func:`step_cap` of the wells (the stationary noise floor at ε) and (d − k)Δ/(4ε²η)
    the steps the flat coordinates need at step size η. ≈ (d − k)L_w‖σ‖₁²Δ/(4πε⁴) =
    (d − k)(Σ_iσ_i√L_i)²Δ/(4πε⁴) when ε ≪ ‖σ‖₁. The instance's proven bound,
    :meth:`HardSGDInstance.sgd_steps_lower`, accounts for the wells' finite warm-up as well and
    agrees with it when the count is large.
    """
    d, k, eps, L_inf, Delta = _common(d, k, eps, L_inf, Delta)
    L_w = wells_curvature(k, wells_share, L_inf)
    return (d - k) * Delta / (4 * eps**2 * step_cap(eps, L_w, noise_l1))
