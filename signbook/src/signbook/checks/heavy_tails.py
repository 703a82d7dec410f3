"""Checkers for the exercises of the chapter *Heavy tails, momentum and Lion*."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch

from signbook.checks import Feedback, close, register
from signlab.experiments.heavy_tails import stationary_spread
from signlab.optim.functional import lion
from signlab.sim.noise import TwoPoint
from signlab.sim.tails import ema_scale, mean_scale


@register("ex-heavy-tails-1")
def _averaging_factor(answer: Any) -> Feedback:
    return close(
        "ex-heavy-tails-1", answer, mean_scale(100, 1.5), rtol=1e-3, hint="use B^(1/α − 1)."
    )


@register("ex-heavy-tails-2")
def _batch_for_tenfold(answer: Any) -> Feedback:
    expected = 10.0 ** (1.0 / (1.0 - 1.0 / 1.5))
    return close("ex-heavy-tails-2", answer, expected, rtol=1e-3, hint="solve B^(1/α − 1) = 0.1.")


@register("ex-heavy-tails-3")
def _cauchy_flip(answer: Any) -> Feedback:
    expected = 0.5 - math.atan(1.0) / math.pi
    return close(
        "ex-heavy-tails-3", answer, expected, rtol=1e-3, hint="the Cauchy CDF is 1/2 + arctan(x)/π."
    )


@register("ex-heavy-tails-4")
def _lion_step(answer: Any) -> Feedback:
    theta, _ = lion(
        torch.zeros(2, dtype=torch.float64),
        torch.tensor([-1.0, -1.0], dtype=torch.float64),
        {"exp_avg": torch.tensor([0.5, -0.2], dtype=torch.float64)},
        lr=0.1,
        betas=(0.9, 0.99),
    )
    return close(
        "ex-heavy-tails-4", answer, theta.numpy(), hint="c = β₁m + (1 − β₁)g, then θ − η·sign(c)."
    )


@register("ex-heavy-tails-5")
def _moment_order(answer: Any) -> Feedback:
    return close(
        "ex-heavy-tails-5", answer, 1.5, rtol=1e-9, hint="E|X|^p is finite exactly for p < ν."
    )


@register("ex-heavy-tails-6")
def _ema_scale(answer: Any) -> Feedback:
    return close(
        "ex-heavy-tails-6",
        answer,
        float(ema_scale(1.5, 0.9)),
        rtol=1e-3,
        hint="the EMA's scale is (1 − β)/(1 − β^α)^(1/α); the β → 1 form is only approximate.",
    )


@register("ex-heavy-tails-7")
def _skewed_limit(answer: Any) -> Feedback:
    drop = TwoPoint(torch.ones(1, dtype=torch.float64), p=0.2).drop
    return close(
        "ex-heavy-tails-7",
        answer,
        float(drop[0]),
        rtol=1e-3,
        hint="SignSGD settles where the median of g = x + ξ is zero; the median of ξ is −c.",
    )


@register("ex-heavy-tails-8")
def _skew_breaking_batch(answer: Any) -> Feedback:
    noise = TwoPoint(torch.ones(1, dtype=torch.float64), p=0.1)
    small = torch.full((1,), 1e-9, dtype=torch.float64)
    expected = next(b for b in range(1, 100) if float(noise.expected_sign(small, b)[0]) > 0)
    return close(
        "ex-heavy-tails-8",
        answer,
        expected,
        rtol=0.0,
        atol=1e-9,
        hint="the mean of B draws is below zero when none of them jumps: solve (1 − p)^B < 1/2.",
    )


@register("ex-heavy-tails-9")
def _cauchy_ema(answer: Any) -> Feedback:
    return close(
        "ex-heavy-tails-9",
        answer,
        float(ema_scale(1.0, 0.99)),
        rtol=1e-6,
        hint="put α = 1 in (1 − β)/(1 − β^α)^(1/α).",
    )


@functools.cache
def _measured_factors() -> tuple[float, float]:
    """SGD's and SignSGD's factors, measured once (about a second each)."""
    return tuple(
        stationary_spread(method, (0.1, 0.01), nu=1.2, seed=0)["factor"].value
        for method in ("sgd", "signsgd")
    )


@register("ex-heavy-tails-10")
def _smaller_step(answer: Any) -> Feedback:
    try:
        got = [float(v) for v in answer]
    except (TypeError, ValueError):
        return Feedback("ex-heavy-tails-10", False, f"expected two numbers, got {answer!r}")
    if len(got) != 2:
        return Feedback("ex-heavy-tails-10", False, f"expected two numbers, got {answer!r}")
    measured = _measured_factors()
    verdicts = [abs(g / m - 1) <= 0.1 for g, m in zip(got, measured, strict=True)]
    run = f"the run measured {measured[0]:.2f} for SGD and {measured[1]:.2f} for SignSGD"
    if all(verdicts):
        return Feedback("ex-heavy-tails-10", True, f"your prediction holds: {run}.")
    wrong = [name for name, ok in zip(("SGD", "SignSGD"), verdicts, strict=True) if not ok]
    hints = {
        "SGD": "SGD's spread is an EMA scale s_α(1 − η) ≈ α^(−1/α) η^(1 − 1/α)",
        "SignSGD": "SignSGD's spread is that of a walk of steps ±η pulled back ∝ x: variance ∝ η",
    }
    return Feedback(
        "ex-heavy-tails-10",
        False,
        f"not within 10% for {' and '.join(wrong)} ({run}). Hint: "
        + "; ".join(hints[w] for w in wrong)
        + ".",
    )
