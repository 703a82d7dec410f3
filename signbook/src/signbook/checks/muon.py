"""Checkers for the exercises of the chapter *Muon: the matrix sign*."""

from __future__ import annotations

from typing import Any

import torch

from signbook.checks import Feedback, close, register
from signlab.geometry.matrix import (
    msign,
    newton_schulz_error,
    newton_schulz_polynomial,
    nuclear_norm,
)
from signlab.geometry.ns_schedules import minimax_schedule
from signlab.optim.functional import muon_lr_scale
from signlab.sim.noise import low_rank_sigma, matrix_density


@register("ex-muon-1")
def nuclear_by_msign(answer: Any) -> Feedback:
    expected = float(nuclear_norm(torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)))
    return close(
        "ex-muon-1", answer, expected, hint="⟨G, msign(G)⟩ = ‖G‖_*: add the singular values."
    )


@register("ex-muon-2")
def polar_factor(answer: Any) -> Feedback:
    G = torch.tensor([[0.0, 3.0], [-2.0, 0.0]], dtype=torch.float64)
    expected = msign(G, method="svd").numpy()
    return close(
        "ex-muon-2",
        answer,
        expected,
        atol=1e-6,
        hint="msign(G) = G (GᵀG)^(-1/2); here GᵀG is diagonal.",
    )


def steps_to_reach(coefficients: str, x: float = 1e-3, target: float = 0.5) -> int:
    """Fewest Newton–Schulz steps taking the singular value x to at least ``target``."""
    k = 0
    while newton_schulz_polynomial(x, coefficients, k) < target:
        k += 1
    return k


@register("ex-muon-3")
def steps_from_small_singular_value(answer: Any) -> Feedback:
    expected = (steps_to_reach("jordan"), steps_to_reach("cubic"))
    return close(
        "ex-muon-3",
        answer,
        expected,
        atol=0.0,
        hint="answer (Jordan steps, cubic steps); near 0 each step multiplies x by a (3.4445 or 1.5).",
    )


@register("ex-muon-4")
def low_rank_noise_scale(answer: Any) -> Feedback:
    Sigma = low_rank_sigma(8, 2, 3.0)
    expected = (float(nuclear_norm(Sigma)), matrix_density(Sigma))
    return close(
        "ex-muon-4",
        answer,
        expected,
        rtol=1e-4,
        hint="answer (‖Σ‖_*, φ(Σ)); Σ has two equal eigenvalues s with 2s² = ‖Σ‖_F².",
    )


@register("ex-muon-5")
def shape_scaling(answer: Any) -> Feedback:
    expected = (
        muon_lr_scale((3072, 768), "original"),
        muon_lr_scale((3072, 768), "match_rms_adamw"),
    )
    return close(
        "ex-muon-5",
        answer,
        expected,
        rtol=1e-4,
        hint="answer (√max(1, m/n), 0.2·√max(m, n)) for m = 3072, n = 768.",
    )


def steps_to_error(lower: float, error: float = 1e-3, most: int = 12) -> int:
    """Fewest steps of the greedy minimax schedule for [lower, 1] whose worst error there is at
    most ``error``."""
    schedule = minimax_schedule(lower, most)
    return next(
        k for k in range(1, most + 1) if newton_schulz_error(schedule, k, x_min=lower) <= error
    )


@register("ex-muon-6")
def schedule_for_an_easier_interval(answer: Any) -> Feedback:
    expected = (steps_to_error(1e-3), steps_to_error(1e-2))
    return close(
        "ex-muon-6",
        answer,
        expected,
        atol=0.0,
        hint="answer (steps for l = 1e-3, steps for l = 1e-2): the first k with "
        "newton_schulz_error(minimax_schedule(l, 8), k, x_min=l) <= 1e-3.",
    )
