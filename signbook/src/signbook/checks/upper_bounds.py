"""Checkers for the exercises of the chapter *Upper bounds*."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from signbook.checks import Feedback, close, register
from signlab.geometry import density
from signlab.theory.bounds import (
    comparison_results,
    noise_nuclear,
    signsgd_complexity,
    signsgd_schedule,
    upper_bound_results,
)
from signlab.theory.bounds import symbols as S


@register("ex-upper-bounds-1")
def optimal_step(answer: Any) -> Feedback:
    r = upper_bound_results("vector")
    expected = float(r["eta_opt"].subs({S.L_inf: 2.0, S.Delta: 8.0, S.T: 100.0}))
    return close(
        "ex-upper-bounds-1", answer, expected, rtol=1e-4, hint="η* = √(2Δ/(L∞T)) with Δ = 8."
    )


@register("ex-upper-bounds-2")
def optimal_batch(answer: Any) -> Feedback:
    expected = signsgd_schedule(1e6, 1.0, 1.0, [0.5, 0.5, 0.0, 0.0])["batch"]
    return close(
        "ex-upper-bounds-2",
        answer,
        expected,
        rtol=1e-3,
        hint="B* = ‖σ‖₁·√(2N/(L∞Δ)); only ‖σ‖₁ matters, not how σ is spread.",
    )


@register("ex-upper-bounds-3")
def explicit_complexity(answer: Any) -> Feedback:
    expected = signsgd_complexity(0.01, 1.0, 1.0, [1.0])
    return close(
        "ex-upper-bounds-3",
        answer,
        expected,
        rtol=1e-6,
        hint="ε < 4‖σ‖₁ here, so the large-batch branch 128‖σ‖₁²L∞Δ/ε⁴ applies.",
    )


@register("ex-upper-bounds-4")
def noise_gain(answer: Any) -> Feedback:
    sigma = np.array([1.0] * 10 + [0.0] * 990)
    phi = float(density(sigma))
    expected = float(comparison_results()["gain_noise"].subs(S.phi, sp.Float(phi)))
    return close(
        "ex-upper-bounds-4",
        answer,
        expected,
        rtol=1e-6,
        hint="the noise terms differ by 1/φ(σ); a vector with k equal non-zeros in d has φ = k/d.",
    )


@register("ex-upper-bounds-5")
def muon_noise_scale(answer: Any) -> Feedback:
    theta = np.pi / 5
    Q = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    expected = noise_nuclear(Q.T @ np.diag([3.0, 0.5]) @ Q)
    return close(
        "ex-upper-bounds-5",
        answer,
        expected,
        rtol=1e-6,
        hint="a rotation does not change singular values: ‖QᵀDQ‖_* = ‖D‖_*.",
    )


@register("ex-upper-bounds-6")
def worst_curvature(answer: Any) -> Feedback:
    sigma = np.array([3.0, 1.0, 0.0, 0.0])
    L = sigma**2 / (sigma**2).sum()
    return close(
        "ex-upper-bounds-6",
        answer,
        (*L, float((sigma * np.sqrt(L)).sum() ** 2)),
        rtol=1e-6,
        hint="answer (L1, L2, L3, L4, max): Cauchy–Schwarz puts L_i ∝ σ_i², and the max is L∞‖σ‖₂².",
    )


@register("ex-upper-bounds-7")
def curvature_carries_the_gain(answer: Any) -> Feedback:
    d = 100
    sigma = np.zeros(d)
    sigma[0] = 1.0
    iso = d * (sigma * np.sqrt(np.full(d, 1 / d))).sum() ** 2
    aligned = d * (sigma * np.sqrt(sigma**2 / (sigma**2).sum())).sum() ** 2
    return close(
        "ex-upper-bounds-7",
        answer,
        (iso, aligned),
        rtol=1e-6,
        hint="answer (isotropic, allocated): d·(Σσ_i√L_i)² with L_i = 1/d, then with L = e₁.",
    )
