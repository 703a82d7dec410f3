"""Checkers for the exercises of the chapter *Sparse noise made visible*."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signbook.checks import Feedback, close, register
from signlab.experiments import noise_comparison, phi_factor
from signlab.experiments.sparse_noise import signsgd_threshold
from signlab.sim.engine import gradients_to_reach
from signlab.sim.noise import Gaussian, density, estimate_density, sparse_sigma


def _samples() -> np.ndarray:
    """The 256 gradients of ex-sparse_noise-3, drawn as its exercise cell draws them."""
    scales = torch.tensor([3.0] * 4 + [0.25] * 16, dtype=torch.float64)
    at_one_point = torch.ones(256, 20, dtype=torch.float64)
    draws = Gaussian(scales).sample(at_one_point, 1, torch.Generator().manual_seed(2026))
    return draws.numpy()


@register("ex-sparse_noise-1")
def density_of_sigma(answer: Any) -> Feedback:
    expected = density(np.array([4.0, 1.0, 1.0, 1.0, 1.0]))
    return close(
        "ex-sparse_noise-1", answer, expected, hint="φ = ‖σ‖₁²/(d‖σ‖₂²) with d = 5.", rtol=1e-4
    )


@register("ex-sparse_noise-2")
def noisy_coordinates_for_gain(answer: Any) -> Feedback:
    d, gain = 1000, 40
    k = next(k for k in range(1, d + 1) if np.isclose(1 / density(sparse_sigma(d, k, 1.0)), gain))
    return close(
        "ex-sparse_noise-2",
        answer,
        k,
        hint="the noise terms differ by 1/φ, and k equal noisy coordinates give φ = k/d.",
    )


@register("ex-sparse_noise-3")
def estimated_density(answer: Any) -> Feedback:
    expected = estimate_density(_samples())
    scales = density(np.array([3.0] * 4 + [0.25] * 16))
    given: Any = answer  # np.isscalar narrows answer to numpy's scalar types, some not float()-able
    if np.isscalar(answer) and np.isclose(float(given), scales, rtol=5e-4):
        return Feedback(
            "ex-sparse_noise-3",
            False,
            "that is φ of the scales that made the samples; estimate it from the samples alone.",
        )
    return close(
        "ex-sparse_noise-3",
        answer,
        expected,
        rtol=5e-4,
        hint="per-coordinate std (n − 1 or n: φ̂ is the same), then ‖σ̂‖₁²/(d‖σ̂‖₂²).",
    )


@register("ex-sparse_noise-4")
def bimodal_draw(answer: Any) -> Feedback:
    sigma, grad = 3.0, -1.0
    q = sigma**2 / (sigma**2 + grad**2)
    return close(
        "ex-sparse_noise-4",
        answer,
        (q, grad / (1 - q)),
        hint="answer (q, value): q = σ²/(σ² + g²), and an unbiased draw needs (1 − q)·value = g.",
    )


@register("ex-sparse_noise-5")
def gradients_to_target(answer: Any) -> Feedback:
    expected = gradients_to_reach(noise_comparison(k=3, batch=4)["signsgd"], 0.1)
    return close(
        "ex-sparse_noise-5",
        answer,
        expected,
        rtol=0.0,
        atol=4.0,  # one step of B = 4 gradients: a crossing that a last-bit rounding may move
        hint="run noise_comparison(k=3, batch=4) and use gradients_to_reach(..., 0.1): it counts "
        "4 gradients per step.",
    )


@register("ex-sparse_noise-6")
def control_gain(answer: Any) -> Feedback:
    control = phi_factor((1, 10), d=40, noise_l1=0.0, eps=0.1, seeds=8, curvature="follows")
    counts = control.n["sgd"][:, 0]
    return close(
        "ex-sparse_noise-6",
        answer,
        counts[0] / counts[1],
        rtol=1e-6,
        hint="phi_factor(...).n['sgd'][:, 0] holds N(ε) at k = 1 and k = 10; divide the first by "
        "the second.",
    )


@register("ex-sparse_noise-7")
def predicted_threshold(answer: Any) -> Feedback:
    return close(
        "ex-sparse_noise-7",
        answer,
        float(signsgd_threshold(0.03)),
        rtol=0.02,
        hint="the noisy coordinates' share φ·L∞·√(2/π) of ‖∇f(x₀)‖₁ equals ε at the threshold; "
        "solve for φ with ε = 0.03 and L∞ = 1.",
    )
