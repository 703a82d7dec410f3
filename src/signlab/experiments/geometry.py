r"""The geometry chapter's race: gradient descent and sign descent, each the steepest descent of its
own norm with its own smoothness constant, on a 2-D quadratic whose Hessian can be rotated.

Both methods are :func:`signlab.optim.functional.steepest_descent` run by the engine: in ℓ2 with
η = 1/L₂ (gradient descent), in ℓ∞ with η = 1/L∞ (sign descent with length ‖∇f‖₁/L∞). The constants
are :func:`signlab.geometry.smoothness.quadratic_smoothness` of the Hessian.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.geometry.smoothness import quadratic_smoothness
from signlab.sim.engine import simulate
from signlab.sim.problems import Quadratic

__all__ = ["race_summary", "rotated_hessian", "steepest_race"]


def rotated_hessian(L1: float, angle: float) -> np.ndarray:
    r"""H = R_θ diag(L₁, 1) R_θᵀ, the curvature L₁ along the direction at ``angle`` degrees."""
    L1 = _validate.positive("L1", L1)
    theta = np.radians(_validate.nonnegative("angle", angle))
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return R @ np.diag([L1, 1.0]) @ R.T


def steepest_race(
    L1: float = 20.0, angle: float = 0.0, steps: int = 12, x0: Any = (1.0, 0.4)
) -> dict[str, dict[str, np.ndarray]]:
    r"""Gradient descent (ℓ2, η = 1/L₂) and sign descent (ℓ∞, η = 1/L∞) from ``x0`` on ½xᵀHx,
    H = :func:`rotated_hessian`. Returns per method ``{"x": iterates (steps + 1, 2), "f": values,
    "L": the smoothness constant used}``."""
    H = rotated_hessian(L1, angle)
    problem = Quadratic(H)
    start = torch.tensor(np.asarray(x0, dtype=float)).reshape(1, 2)
    out = {}
    for name, kind in (("gradient descent (ℓ2)", "l2"), ("sign descent (ℓ∞)", "linf")):
        L = quadratic_smoothness(H, kind)
        run = simulate(
            problem,
            None,
            "steepest_descent",
            start,
            lr=1.0 / L,
            steps=_validate.integer("steps", steps, low=0),
            norm=kind,
            record=("iterate", "f"),
        )
        out[name] = {"x": run["iterate"][0], "f": run["f"][0], "L": L}
    return out


def race_summary(L1: float, angle: float, *, steps: int = 12, starts: int = 36) -> dict[str, float]:
    r"""Over ``starts`` start directions x₀ = (cos θ, sin θ), θ ∈ [0, π): the fraction where sign
    descent ends below gradient descent after ``steps`` steps, and the median of f_GD/f_sign there.

    One start says little (from (1, 1) sign descent even lands on the minimum in one step when the
    Hessian is axis-aligned, since sign(∇f) points straight at 0 and its length ‖∇f‖₁/L∞ is exactly
    the distance); the fraction over directions is what a figure with one start cannot show.
    """
    starts = _validate.integer("starts", starts, low=1)
    wins, ratios = [], []
    for theta in np.linspace(0.0, np.pi, starts, endpoint=False):
        race = steepest_race(L1, angle, steps, (np.cos(theta), np.sin(theta)))
        gd, sign = (float(run["f"][-1]) for run in race.values())
        wins.append(sign < gd)
        ratios.append(gd / max(sign, 1e-300))
    return {"sign_wins": float(np.mean(wins)), "median_ratio": float(np.median(ratios))}
