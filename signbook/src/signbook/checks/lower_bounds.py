"""Checkers for the exercises of the chapter *Lower bounds*."""

from __future__ import annotations

from typing import Any

import numpy as np

from signbook.checks import Feedback, close, register
from signlab.experiments.sgd_hard import noise_factor
from signlab.theory.lowerbound import (
    embed,
    hard_cells,
    move_probability,
    paper_threshold,
    random_orthogonal,
    sgd_noise_instance,
    sgd_noiseless_instance,
    stall_probability,
    zero_probability,
)


@register("ex-lower-bounds-1")
def zero_draw_probability(answer: Any) -> Feedback:
    expected = zero_probability(0.1, 1.0)
    return close("ex-lower-bounds-1", answer, expected, rtol=1e-6, hint="q = σ²/(σ² + 4ε²).")


@register("ex-lower-bounds-2")
def cells_and_threshold(answer: Any) -> Feedback:
    expected = (hard_cells(0.04), paper_threshold(0.04, 1.0))
    return close(
        "ex-lower-bounds-2",
        answer,
        expected,
        rtol=1e-6,
        hint="answer (n, N): n = ⌊1/(16ε²)⌋ and N = (σ² + 4ε²)/(128ε⁴).",
    )


@register("ex-lower-bounds-3")
def exact_stall(answer: Any) -> Feedback:
    expected = stall_probability(0.1, 0.6, 20, 1)
    return close(
        "ex-lower-bounds-3",
        answer,
        expected,
        rtol=1e-6,
        hint="M ~ Binomial(20, 1 − q) with q = 0.9, and n = 6 cells: sum P(M = k) for k ≤ 6.",
    )


@register("ex-lower-bounds-4")
def batch_move(answer: Any) -> Feedback:
    expected = move_probability(0.1, 0.6, 10)
    return close(
        "ex-lower-bounds-4",
        answer,
        expected,
        rtol=1e-6,
        hint="the mean of B draws is zero only if all B draws are: 1 − q^B.",
    )


@register("ex-lower-bounds-5")
def embedded_nuclear(answer: Any) -> Feedback:
    g = np.array([3.0, -1.0, 0.5])
    Q = random_orthogonal(3, seed=0)
    expected = float(np.linalg.svd(embed(g, Q, 5), compute_uv=False).sum())
    return close(
        "ex-lower-bounds-5",
        answer,
        expected,
        rtol=1e-6,
        hint="the singular values of Qᵀdiag(g)P are the |g_i|.",
    )


@register("ex-lower-bounds-6")
def noiseless_term(answer: Any) -> Feedback:
    factor = (
        sgd_noiseless_instance(1000, 0.1).sgd_steps_lower()
        / sgd_noiseless_instance(100, 0.1).sgd_steps_lower()
    )
    return close(
        "ex-lower-bounds-6",
        answer,
        (1, factor),
        rtol=1e-6,
        hint="answer (term, factor): no noise and ‖L‖∞ = L∞/2; the bound is proportional to d − 1.",
    )


@register("ex-lower-bounds-7")
def noise_term_and_control(answer: Any) -> Feedback:
    def bound(k, s):
        return sgd_noise_instance(100, k, 0.2, Delta=0.5, noise_l1=s).sgd_steps_lower()

    expected = (bound(1, 1.0) / bound(4, 1.0), bound(1, 0.0) / bound(4, 0.0))
    return close(
        "ex-lower-bounds-7",
        answer,
        expected,
        rtol=1e-3,
        hint="answer (with noise, without): compare sgd_steps_lower() at k = 1 and k = 4, "
        "with noise_l1=1.0 and with noise_l1=0.0.",
    )


@register("ex-lower-bounds-8")
def where_the_noise_sits(answer: Any) -> Feedback:
    label = "ex-lower-bounds-8"
    try:
        sgd, sign = (float(v) for v in answer)
    except (TypeError, ValueError):
        return Feedback(
            label, False, f"expected a tuple (sgd_factor, signsgd_factor), got {answer!r}"
        )
    runs = noise_factor((1, 10), eps=0.2, seeds=64, seed=0)  # SGD's counts are exact
    sgd_factor = runs["sgd_best"][0] / runs["sgd_best"][1]
    sign_factor = runs["signsgd_best"][0] / runs["signsgd_best"][1]
    if abs(sgd / sgd_factor - 1) > 0.15:
        return Feedback(
            label,
            False,
            "SGD's factor is off: its step is capped in proportion to k, and its flat coordinates "
            "need steps in proportion to (d − k)/η.",
        )
    if abs(sign - sign_factor) > 0.25:
        return Feedback(
            label,
            False,
            "SignSGD's factor is off: it moves every coordinate by its step whatever the gradient.",
        )
    return Feedback(
        label,
        True,
        f"matches the runs: SGD × {sgd_factor:.2f} (exact), SignSGD × {sign_factor:.2f}.",
    )


@register("ex-lower-bounds-9")
def stall_and_noise(answer: Any) -> Feedback:
    expected = stall_probability(0.1, 3.0, int(2 * paper_threshold(0.1, 3.0)))
    return close(
        "ex-lower-bounds-9",
        answer,
        expected,
        rtol=0.0,
        atol=0.01,
        hint="N* and the probability of a move both scale with σ² + 4ε²: compare the expected "
        "number of moves at N = 2N* for σ = 1 and σ = 3.",
    )
