"""Checkers for the exercises of the chapter *Upper bounds*."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from signbook.checks import Feedback, close, register
from signlab.geometry import density
from signlab.theory.bounds import (
    comparison_results,
    mechanism,
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
def instance_curvature(answer: Any) -> Feedback:
    sigma = np.array([3.0, 1.0, 0.0, 0.0])
    noisy = sigma > 0
    L = np.where(noisy, 0.5 * sigma**2 / (sigma**2).sum(), 0.5 / (~noisy).sum())
    return close(
        "ex-upper-bounds-6",
        answer,
        (*L, float((sigma * np.sqrt(L)).sum() ** 2)),
        rtol=1e-6,
        hint=(
            "answer (L1, L2, L3, L4, A): the noisy coordinates share L∞/2 in proportion to σ_i², "
            "the noiseless ones share the other L∞/2 equally; A = (Σσ_i√L_i)²."
        ),
    )


@register("ex-upper-bounds-7")
def one_noisy_coordinate(answer: Any) -> Feedback:
    d, k, eps = 100, 1, 0.1
    sigma = np.zeros(d)
    sigma[0] = 1.0
    maximiser = sigma**2 / (sigma**2).sum()
    coordinates = int(np.count_nonzero(maximiser))
    gain = mechanism.steps_estimate(d, k, eps, wells_share=0.5) / mechanism.steps_estimate(
        d, k, eps, wells_share=k / d
    )
    return close(
        "ex-upper-bounds-7",
        answer,
        (coordinates, gain),
        rtol=1e-6,
        hint=(
            "answer (a, b): (a) which L_i are nonzero at L_i ∝ σ_i²? (b) the estimate is "
            "proportional to the wells' curvature L_w = s·L∞/k."
        ),
    )


def _count_ratios() -> tuple[float, float]:
    """SGD's proven steps at k = 5 over k = 20 (d = 1000, ε = 0.1), aligned and isotropic."""
    d, eps = 1000, 0.1
    ratios = []
    for share in (lambda k: 0.5, lambda k: k / d):
        steps = [
            mechanism.allocated_instance(d, k, eps, wells_share=share(k)).sgd_steps_lower()
            for k in (5, 20)
        ]
        ratios.append(steps[0] / steps[1])
    return ratios[0], ratios[1]


@register("ex-upper-bounds-8")
def count_scaling(answer: Any) -> Feedback:
    expected = _count_ratios()
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        got = None
    if got is None or got.shape != (2,) or not np.isfinite(got).all():
        return Feedback("ex-upper-bounds-8", False, "answer a tuple of two numbers.")
    verdicts = []
    for name, g, e in zip(("aligned", "isotropic"), got, expected, strict=True):
        if abs(g - e) <= 0.03 * e:
            verdicts.append(f"{name}: holds ({e:.3f})")
        else:
            verdicts.append(f"{name}: does not hold (too {'high' if g > e else 'low'})")
    correct = all("holds (" in v for v in verdicts)
    advice = "" if correct else " The count is ∝ (d − k)·L_w: how does L_w change with k?"
    return Feedback("ex-upper-bounds-8", correct, "; ".join(verdicts) + "." + advice)
