"""Checkers for the exercises of the chapter *The geometry of sign descent*."""

from __future__ import annotations

from typing import Any

import numpy as np

from signbook.checks import Feedback, close, register
from signlab.experiments.geometry import rotated_hessian
from signlab.geometry import density, dual_norm, steepest_step
from signlab.geometry.smoothness import quadratic_smoothness


@register("ex-geometry-1")
def dual_of_linf(answer: Any) -> Feedback:
    expected = dual_norm(np.array([3.0, -4.0, 1.0]), "linf")
    return close("ex-geometry-1", answer, expected, hint="the dual of ℓ∞ is ℓ1: add the |g_i|.")


@register("ex-geometry-2")
def sparse_density(answer: Any) -> Feedback:
    expected = density(np.array([5.0, -5.0, 5.0] + [0.0] * 7))
    return close("ex-geometry-2", answer, expected, hint="compute ‖g‖₁² / (d‖g‖₂²) with d = 10.")


@register("ex-geometry-3")
def separable_constants(answer: Any) -> Feedback:
    H = np.diag([5.0, 1.0, 1.0, 1.0])
    expected = (quadratic_smoothness(H, "linf"), quadratic_smoothness(H, "l2"))
    return close(
        "ex-geometry-3",
        answer,
        expected,
        hint="answer (L_inf, L_2): L_inf = ‖L‖₁, L_2 = max_i L_i.",
    )


@register("ex-geometry-4")
def linf_step(answer: Any) -> Feedback:
    expected = steepest_step(np.array([1.0, -2.0, 0.5]), "linf", 2.0)
    return close("ex-geometry-4", answer, expected, hint="Δ* = -(‖g‖₁/λ)·sign(g).")


@register("ex-geometry-5")
def dense_vector(answer: Any) -> Feedback:
    g = np.asarray(answer, dtype=float)
    if g.shape != (4,) or not np.isfinite(g).all() or not g.any():
        return Feedback("ex-geometry-5", False, "give a non-zero vector with 4 finite entries.")
    if np.isclose(density(g), 1.0, rtol=1e-9):
        return Feedback("ex-geometry-5", True, "all |g_i| are equal, so φ(g) = 1.")
    return Feedback(
        "ex-geometry-5",
        False,
        f"here ‖g‖₁/‖g‖₂ = {np.abs(g).sum() / np.linalg.norm(g):.4g}, not 2.",
    )


@register("ex-geometry-6")
def rotated_linf(answer: Any) -> Feedback:
    """The prediction of L∞ after a 45° rotation, checked against quadratic_smoothness."""
    L1 = 20.0
    expected = quadratic_smoothness(rotated_hessian(L1, 45.0), "linf")
    unrotated = quadratic_smoothness(rotated_hessian(L1, 0.0), "linf")
    l2 = quadratic_smoothness(rotated_hessian(L1, 45.0), "l2")
    wrong_guesses = {
        unrotated: "that is L∞ of the unrotated problem (L₁ + 1): the rotation changes it.",
        l2: "that is L₂, which a rotation leaves alone; L∞ looks at the corners of the square.",
    }
    try:
        got = float(np.asarray(answer, dtype=float))
    except (TypeError, ValueError):
        got = None
    for value, message in wrong_guesses.items():
        if got is not None and np.isclose(got, value, rtol=1e-6):
            return Feedback("ex-geometry-6", False, f"prediction does not hold: {message}")
    return close(
        "ex-geometry-6",
        answer,
        expected,
        rtol=1e-6,
        hint="the prediction does not hold: compute vᵀHv at the corners v = (±1, ±1).",
        praise=(
            f"the prediction holds: L∞ = {expected:g}, twice L₂; the corner (1, 1) points "
            "along the stiff direction."
        ),
    )
