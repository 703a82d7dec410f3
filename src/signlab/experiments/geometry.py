r"""The geometry chapter's race: gradient descent and sign descent, each the steepest descent of its
own norm with its own smoothness constant, on a 2-D quadratic whose Hessian can be rotated.

Both methods are :func:`signlab.optim.functional.steepest_descent` run by the engine: in ℓ2 with
η = 1/L₂ (gradient descent), in ℓ∞ with η = 1/L∞ (sign descent with length ‖∇f‖₁/L∞). The constants
are :func:`signlab.geometry.smoothness.quadratic_smoothness` of the Hessian.

**Counting who ends lower.** From some starts the two methods take the same steps in exact
arithmetic (a start on an eigenvector of the 45°-rotated Hessian), or both reach the minimum; then
the computed values differ only by rounding, and a bare ``f_sign < f_gd`` lets the CPU decide. So
:func:`race_outcomes` calls a start a *tie* when the two final values agree to a relative
:data:`RACE_RTOL`, or when both lie below the rounding floor of the minimum (:func:`rounding_floor`),
and :func:`race_summary` counts wins, ties and losses separately, with the margins by which every
start clears these thresholds (a verification asserts them, so a count cannot flip on another
machine unnoticed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.geometry.smoothness import quadratic_smoothness
from signlab.sim.engine import simulate
from signlab.sim.problems import Quadratic

__all__ = [
    "RACE_RTOL",
    "guarantee_ratio",
    "level_curve",
    "race_outcomes",
    "race_summary",
    "rotated_hessian",
    "rotation_sweep",
    "rounding_floor",
    "steepest_race",
    "stiff_smoothness",
]

RACE_RTOL = 1e-9
r"""Relative tolerance under which two final values of the race are a tie.

Why 1e-9: float64 rounds each operation to a relative u = 2⁻⁵³ ≈ 1.1·10⁻¹⁶. One step of either
method is about ten rounded operations, so two runs that are equal in exact arithmetic drift apart
by some 10·u per step, about 10⁻¹⁴ after 12 steps when the steps do not amplify the error (and the
quadratics of the chapter contract it). The ties the chapter meets differ by at most 1.5·10⁻¹⁵
relative; the closest genuinely different pair among its races (L₁ = 20 and 200, rotations 0° to
45°, 4 to 48 steps) differs by 1.1·10⁻⁴. 1e-9 sits more than five orders of magnitude from both, and
:func:`race_summary` reports both distances (``tie_margin``, ``decided_margin``) so that the chapter
can assert them."""

_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps) / 2


def rotated_hessian(L1: float, angle: float) -> np.ndarray:
    r"""H = R_θ diag(L₁, 1) R_θᵀ, the curvature L₁ along the direction at ``angle`` degrees."""
    L1 = _validate.positive("L1", L1)
    theta = np.radians(_validate.nonnegative("angle", angle))
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return R @ np.diag([L1, 1.0]) @ R.T


def level_curve(H: Any, value: float, points: int = 64) -> np.ndarray:
    r"""The closed curve {x : ½xᵀHx = value} of a positive definite 2×2 ``H``, as (points, 2).

    With H = QΛQᵀ, x = √(2·value)·QΛ^{-1/2}(cos t, sin t) is on it for every t: an ellipse whose
    axes are the eigenvectors, of half-lengths √(2·value/λᵢ). The race figure draws f's contours
    with it.
    """
    H = np.asarray(H, dtype=float)
    if H.shape != (2, 2):
        raise ValueError(f"H must be a 2×2 matrix (got shape {H.shape})")
    _validate.psd_matrix("H", H)
    lam, Q = np.linalg.eigh(H)
    if lam.min() <= 0:
        raise ValueError("H must be positive definite (a level curve of a flat direction is open)")
    value = _validate.positive("value", value)
    t = np.linspace(0.0, 2 * np.pi, _validate.integer("points", points, low=3))
    circle = np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.sqrt(2 * value) * circle / np.sqrt(lam) @ Q.T


def steepest_race(
    L1: float = 20.0, angle: float = 0.0, steps: int = 12, x0: Any = (1.0, 0.4)
) -> dict[str, dict[str, Any]]:
    r"""Gradient descent (ℓ2, η = 1/L₂) and sign descent (ℓ∞, η = 1/L∞) from ``x0`` on ½xᵀHx,
    H = :func:`rotated_hessian`.

    ``x0`` is one start (2,) or a population of starts (runs, 2). Returns per method
    ``{"x": iterates (steps + 1, 2) (one start) or (runs, steps + 1, 2), "f": values, "L": the
    smoothness constant used}``.
    """
    H = rotated_hessian(L1, angle)
    problem = Quadratic(H)
    start = torch.tensor(np.asarray(x0, dtype=float))
    single = start.ndim == 1
    start = start.reshape(-1, 2)
    steps = _validate.integer("steps", steps, low=0)
    out = {}
    for name, kind in (("gradient descent (ℓ2)", "l2"), ("sign descent (ℓ∞)", "linf")):
        L = quadratic_smoothness(H, kind)
        run = simulate(
            problem,
            None,
            "steepest_descent",
            start,
            lr=1.0 / L,
            steps=steps,
            norm=kind,
            record=("iterate", "f"),
        )
        x, f = np.asarray(run["iterate"]), np.asarray(run["f"])
        out[name] = {"x": x[0] if single else x, "f": f[0] if single else f, "L": L}
    return out


def rounding_floor(H: Any, steps: int, start_norm: float = 1.0) -> float:
    r"""The value of f below which ½xᵀHx is zero to float64's resolution after ``steps`` steps.

    An iterate that reaches the minimum keeps a rounding error of up to about steps·u·‖x₀‖ per
    coordinate (u = 2⁻⁵³), so f there can be as large as λ_max(H)·(steps·u·‖x₀‖)²: two values
    below this floor are both the minimum, a tie whichever is smaller.
    """
    steps = max(_validate.integer("steps", steps, low=0), 1)
    start_norm = _validate.positive("start_norm", start_norm)
    return quadratic_smoothness(H, "l2") * (steps * _UNIT_ROUNDOFF * start_norm) ** 2


def _starts(starts: int) -> np.ndarray:
    return np.linspace(0.0, np.pi, _validate.integer("starts", starts, low=1), endpoint=False)


def race_outcomes(
    L1: float, angle: float, *, steps: int = 12, starts: int = 36, rtol: float = RACE_RTOL
) -> dict[str, Any]:
    r"""Who ends lower after ``steps`` steps, from ``starts`` unit starts x₀ = (cos θ, sin θ),
    θ ∈ [0°, 180°) evenly spaced (the other half of the circle repeats them: f is even).

    ``outcome`` is +1 where sign descent ends lower, −1 where gradient descent does, and 0 for a
    tie: the two values agree to relative ``rtol`` (:data:`RACE_RTOL`) or both lie below
    :func:`rounding_floor`. Also returns ``theta`` (degrees), ``f_gd``, ``f_sign``, ``relative``
    (|f_gd − f_sign|/max) and ``floor``.
    """
    rtol = _validate.positive("rtol", rtol)
    theta = _starts(starts)
    race = steepest_race(L1, angle, steps, np.stack([np.cos(theta), np.sin(theta)], axis=1))
    f_gd, f_sign = (run["f"][:, -1] for run in race.values())
    floor = rounding_floor(rotated_hessian(L1, angle), steps)
    larger = np.maximum(f_gd, f_sign)
    relative = np.divide(np.abs(f_gd - f_sign), larger, out=np.zeros_like(larger), where=larger > 0)
    tie = (relative <= rtol) | (larger <= floor)
    outcome = np.where(tie, 0, np.where(f_sign < f_gd, 1, -1))
    return {
        "theta": np.degrees(theta),
        "f_gd": f_gd,
        "f_sign": f_sign,
        "relative": relative,
        "outcome": outcome,
        "floor": floor,
    }


def race_summary(
    L1: float, angle: float, *, steps: int = 12, starts: int = 36, rtol: float = RACE_RTOL
) -> dict[str, float]:
    r"""Wins, ties and losses of sign descent over :func:`race_outcomes`'s starts, and margins.

    One start says little (from (1, 1) sign descent even lands on the minimum in one step when the
    Hessian is axis-aligned, since sign(∇f) points straight at 0 and its length ‖∇f‖₁/L∞ is exactly
    the distance); the count over directions is what a figure with one start cannot show.

    Returns ``wins``, ``ties``, ``losses`` (counts), ``starts``, ``median_ratio`` (the median over
    starts of f_GD/f_sign, a tie counted as 1) and three margins, each a factor by which the
    closest start clears a threshold (≥ 1 by construction; large means no rounding could move a
    start across): ``decided_margin`` (smallest relative difference of a decided start over
    ``rtol``), ``tie_margin`` (``rtol`` over the largest relative difference of a tie) and
    ``floor_margin`` (how far the value closest to the rounding floor is from it, as a factor).
    """
    r = race_outcomes(L1, angle, steps=steps, starts=starts, rtol=rtol)
    outcome, relative = r["outcome"], r["relative"]
    larger = np.maximum(r["f_gd"], r["f_sign"])
    below = larger <= r["floor"]
    ratio = np.where(outcome == 0, 1.0, r["f_gd"] / np.maximum(r["f_sign"], np.finfo(float).tiny))
    decided = relative[outcome != 0]
    tied = relative[(outcome == 0) & ~below]
    values = np.concatenate([r["f_gd"], r["f_sign"]])
    values = values[values > 0]
    return {
        "wins": int((outcome == 1).sum()),
        "ties": int((outcome == 0).sum()),
        "losses": int((outcome == -1).sum()),
        "starts": int(outcome.size),
        "median_ratio": float(np.median(ratio)),
        "decided_margin": float(decided.min() / rtol) if decided.size else np.inf,
        "tie_margin": float(rtol / tied.max()) if tied.size and tied.max() > 0 else np.inf,
        "floor_margin": (
            float(np.exp(np.abs(np.log(values / r["floor"])).min())) if values.size else np.inf
        ),
    }


def rotation_sweep(
    L1: float, angles: Any, *, steps: int = 12, starts: int = 36, rtol: float = RACE_RTOL
) -> dict[str, Any]:
    r""":func:`race_summary` at each rotation of ``angles`` (degrees): arrays ``angle``, ``wins``,
    ``ties``, ``losses`` (counts out of ``starts``), each of the three margins as its smallest
    value over the rotations, and ``margin``, the smallest of the three."""
    angles = np.asarray(angles, dtype=float).ravel()
    if angles.size == 0:
        raise ValueError("angles must hold at least one rotation")
    rows = [race_summary(L1, a, steps=steps, starts=starts, rtol=rtol) for a in angles]
    out: dict[str, Any] = {
        k: np.array([row[k] for row in rows]) for k in ("wins", "ties", "losses")
    }
    keys = ("decided_margin", "tie_margin", "floor_margin")
    for k in keys:
        out[k] = float(min(row[k] for row in rows))
    out["margin"] = min(out[k] for k in keys)
    out["angle"] = angles
    out["starts"] = int(starts)
    return out


def stiff_smoothness(L1: Any, d: int) -> dict[str, np.ndarray]:
    r"""L₂ and L∞ of ½xᵀHx with H = diag(L₁, 1, …, 1) in ℝᵈ, for each L₁ of ``L1``.

    For a diagonal H ⪰ 0, :func:`~signlab.geometry.smoothness.quadratic_smoothness` gives
    L₂ = max_i L_i = max(L₁, 1) (L₁ when d = 1) and L∞ = Σ_i L_i = L₁ + d − 1 (the closed forms, evaluated here
    without building a d×d matrix, so that a figure can sweep L₁ at d = 1000). Their ratio runs from
    d (all curvatures equal, L₁ = 1) down to 1 (L₁ ≫ d): sign descent's constant is only slightly
    larger than gradient descent's when one curvature dominates.
    """
    d = _validate.integer("d", d, low=1)
    L1 = np.asarray(L1, dtype=float)
    _validate.finite_array("L1", L1)
    if np.any(L1 <= 0):
        raise ValueError("L1 must be > 0")
    l2 = np.maximum(L1, 1.0) if d > 1 else L1
    return {"l2": l2, "linf": L1 + (d - 1)}


def guarantee_ratio(g: Any, L2: float, Linf: float) -> np.ndarray:
    r"""Sign descent's guaranteed decrease over gradient descent's at the gradient(s) ``g``.

    (‖g‖₁²/(2L∞)) / (‖g‖₂²/(2L₂)) = φ(g)·d·L₂/L∞ along the last axis: above 1 where the steepest
    step in ℓ∞ (with its smoothness constant L∞) is guaranteed to lower f more than the one in ℓ2
    (with L₂). Zero gradients give nan.
    """
    g = np.asarray(g, dtype=float)
    _validate.finite_array("g", g)
    L2, Linf = _validate.positive("L2", L2), _validate.positive("Linf", Linf)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.abs(g).sum(-1) ** 2 / Linf) / ((g**2).sum(-1) / L2)
