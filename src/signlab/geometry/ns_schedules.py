r"""Newton–Schulz coefficient schedules: which odd quintic each step applies, and how to choose them.

One Newton–Schulz step X ← aX + b(XXᵀ)X + c(XXᵀ)²X maps every singular value x of X through
p(x) = ax + bx³ + cx⁵ (:mod:`signlab.geometry.matrix`). A *schedule* is the sequence of triples
(a, b, c) that steps 1, 2, … apply; a schedule shorter than the number of steps repeats its last
triple. A single triple (torch.optim.Muon's ``ns_coefficients``) is the schedule that applies the
same polynomial at every step. Every step costs the same three matrix products whatever its
coefficients, so schedules compete on accuracy per step.

Presets (:data:`NS_SCHEDULES`), each from its source:

- ``"jordan"`` (also ``"quintic"``): K. Jordan's (3.4445, −4.7750, 2.0315) at every step
  (Jordan et al. 2024, the Muon blog post; torch.optim.Muon's default). Its slope at 0 is large, so
  small singular values rise fast, but the iteration does not converge to 1: after a few steps the
  singular values oscillate in a band of about [0.68, 1.2].
- ``"cubic"``: the classic (1.5, −0.5, 0) (Kovarik 1970; Björck & Bowie 1971), which converges
  to 1 on (0, √3), slowly from small x.
- ``"you"``: five triples tuned numerically for five steps by Jiacheng You (2025), used in
  modded-nanogpt's medium track and as the default ("quintic") of NVIDIA's Emerging-Optimizers.
- ``"cans"``: Chebyshev-accelerated Newton–Schulz (Grishina, Smirnov & Rakhuba 2025,
  arXiv:2506.10935): at each step the odd quintic closest to 1, in the max norm, on the interval
  the singular values are known to lie in (:func:`minimax_schedule` without cushion or safety).
- ``"polar_express"``: Polar Express (Amsel, Persson, Musco & Gower, ICLR 2026, arXiv:2505.16932;
  code NoahAmsel/PolarExpress): the same greedy minimax construction for ℓ = 10⁻³, with the
  paper's cushion and its safety factor 1.01 (:func:`minimax_schedule`).

The greedy construction is optimal for the composition as a whole (both papers prove it): if
p₁ is the minimax odd quintic on [ℓ, u] with error E, every singular value lands in [1 − E, 1 + E],
and the best composition continues with the minimax polynomial on that interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from signlab import _validate

Triple = tuple[float, float, float]
Schedule = tuple[Triple, ...]

JORDAN: Triple = (3.4445, -4.7750, 2.0315)
"""K. Jordan's quintic (Muon blog post, 2024), torch.optim.Muon's ``ns_coefficients``."""

CUBIC: Triple = (1.5, -0.5, 0.0)
"""The classic Newton–Schulz cubic p(x) = (3x − x³)/2: p(1) = 1, p'(1) = 0."""

YOU: Schedule = (
    (4.0848, -6.8946, 2.9270),
    (3.9505, -6.3029, 2.6377),
    (3.7418, -5.5913, 2.3037),
    (2.8769, -3.1427, 1.2046),
    (2.8366, -3.0525, 1.2012),
)
"""Jiacheng You's five triples (2025), found by numerical optimisation for five steps in bf16: the
published numbers (modded-nanogpt's ``train_gpt_medium.py``; NVIDIA Emerging-Optimizers' "quintic")."""

POLAR_EXPRESS_LOWER = 1e-3
"""ℓ of Polar Express's published schedule: the smallest normalised singular value it is built for."""

POLAR_EXPRESS_CUSHION = 0.02407327424182761
"""Polar Express's cushion λ: each polynomial is fitted on [max(ℓ, λu), u] and then rescaled, so that
the first steps do not spend their degree on singular values far below the ones that matter."""

POLAR_EXPRESS_SAFETY = 1.01
"""Polar Express's safety factor: every polynomial but the last is applied as p(x/1.01), so that a
singular value pushed slightly above the fitted interval by rounding (bf16) is not blown up."""

POLAR_EXPRESS_STEPS = 8
"""Length of the published Polar Express schedule; the 8th triple is (15/8, −10/8, 3/8) to rounding."""

_REMEZ_TOL = 1e-15
_REMEZ_MAX_ITER = 100


def _converged_quintic(middle: float) -> Triple:
    """The limit of the minimax quintic on [l, u] as l, u → m: p(x) = (15x̂ − 10x̂³ + 3x̂⁵)/8 with
    x̂ = x/m, the odd quintic with p(m) = 1 and p'(m) = p''(m) = 0."""
    return 15 / 8 / middle, -10 / 8 / middle**3, 3 / 8 / middle**5


def minimax_quintic(lower: float, upper: float) -> tuple[float, float, float, float]:
    r"""The odd quintic p(x) = ax + bx³ + cx⁵ closest to 1 on [lower, upper] in the max norm:
    (a, b, c, E) with E = max |1 − p(x)| over the interval.

    By Chebyshev's equioscillation theorem the best p touches 1 − E and 1 + E alternately at four
    points lower < q < r < upper (p(lower) = 1 − E, p(q) = 1 + E, p(r) = 1 − E, p(upper) = 1 + E),
    where q and r are p's critical points (roots of p'(x) = a + 3bx² + 5cx⁴). The Remez exchange
    solves the four equations, a linear system in (a, b, c, E), moves q and r to the new critical
    points and repeats until E stops changing. When the interval has shrunk to a point (a relative
    width below 10⁻⁶), it returns the limit polynomial (15/8, −10/8, 3/8), scaled to the interval's
    midpoint, and its error there (of order the width cubed).
    """
    lower = _validate.positive("lower", lower)
    upper = _validate.positive("upper", upper)
    if lower > upper:
        raise ValueError(f"lower must be <= upper (got lower={lower!r}, upper={upper!r})")
    if upper - lower <= 1e-6 * upper:
        triple = _converged_quintic((lower + upper) / 2)
        return (*triple, max(abs(1 - _apply(triple, lower)), abs(1 - _apply(triple, upper))))
    q, r = (3 * lower + upper) / 4, (lower + 3 * upper) / 4
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    previous = np.inf
    for _ in range(_REMEZ_MAX_ITER):
        x = np.array([lower, q, r, upper])
        a, b, c, E = np.linalg.solve(np.stack([x, x**3, x**5, signs], axis=1), np.ones(4))
        root = np.sqrt(9 * b * b - 20 * a * c)
        q, r = np.sqrt((-3 * b - root) / (10 * c)), np.sqrt((-3 * b + root) / (10 * c))
        if abs(E - previous) <= _REMEZ_TOL:
            return float(a), float(b), float(c), float(E)
        previous = E
    raise RuntimeError(f"Remez exchange did not converge on [{lower}, {upper}]")  # pragma: no cover


def _apply(triple: Sequence[float], x: float) -> float:
    a, b, c = triple
    return a * x + b * x**3 + c * x**5


def minimax_schedule(
    lower: float, steps: int, *, cushion: float = 0.0, safety: float = 1.0
) -> Schedule:
    r"""The greedy minimax schedule for normalised singular values in [``lower``, 1].

    Step k fits the minimax odd quintic (:func:`minimax_quintic`) on the interval [ℓ_k, u_k] that
    the earlier steps leave the singular values in, starting from [ℓ₁, u₁] = [``lower``, 1]; its
    error E_k gives the next interval, ℓ_{k+1} = p_k(ℓ_k) = 1 − E_k and u_{k+1} = 2 − ℓ_{k+1}.

    ``cushion`` λ (Polar Express): fit on [max(ℓ_k, λu_k), u_k] instead and rescale p_k so that
    p_k(ℓ_k) + p_k(u_k) = 2, i.e. centred on 1 over the true interval. ``safety`` s (Polar Express):
    apply every polynomial but the last as p_k(x/s), i.e. (a/s, b/s³, c/s⁵), after the intervals are
    computed. With λ = 0 and s = 1 this is CANS (Grishina et al. 2025); with ``lower`` = 10⁻³,
    λ = :data:`POLAR_EXPRESS_CUSHION`, s = 1.01 and 8 steps, Polar Express's published schedule
    (Amsel et al., Algorithm 1).
    """
    lower = _validate.positive("lower", lower)
    if lower >= 1:
        raise ValueError(f"lower must lie in (0, 1) (got {lower!r})")
    steps = _validate.integer("steps", steps, low=1)
    cushion = _validate.nonnegative("cushion", cushion)
    if cushion >= 1:
        raise ValueError(f"cushion must lie in [0, 1) (got {cushion!r})")
    safety = _validate.positive("safety", safety)
    if safety < 1:
        raise ValueError(f"safety must be >= 1 (got {safety!r})")
    low, high = lower, 1.0
    fitted: list[Triple] = []
    for _ in range(steps):
        a, b, c, _error = minimax_quintic(max(low, cushion * high), high)
        if cushion * high > low:
            scale = 2 / (_apply((a, b, c), low) + _apply((a, b, c), high))
            a, b, c = a * scale, b * scale, c * scale
        fitted.append((a, b, c))
        low = min(_apply((a, b, c), low), 1.0)  # at convergence rounding may overshoot 1
        high = 2 - low
    return tuple((a / safety, b / safety**3, c / safety**5) for a, b, c in fitted[:-1]) + (
        fitted[-1],
    )


NS_SCHEDULES: dict[str, Schedule] = {
    "jordan": (JORDAN,),
    "quintic": (JORDAN,),
    "cubic": (CUBIC,),
    "you": YOU,
    "cans": minimax_schedule(POLAR_EXPRESS_LOWER, POLAR_EXPRESS_STEPS),
    "polar_express": minimax_schedule(
        POLAR_EXPRESS_LOWER,
        POLAR_EXPRESS_STEPS,
        cushion=POLAR_EXPRESS_CUSHION,
        safety=POLAR_EXPRESS_SAFETY,
    ),
}
"""Named schedules (see the module's docstring for each source); "quintic" is "jordan"'s older name."""


def _triple(name: str, value) -> Triple:
    try:
        a, b, c = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, NS_SCHEDULES))}, a tuple (a, b, c) of "
            f"three finite numbers or a sequence of such tuples (got {value!r})"
        ) from None
    if not all(np.isfinite((a, b, c))):
        raise ValueError(f"{name} must be finite (got {value!r})")
    return a, b, c


def _is_scalar(value) -> bool:
    return isinstance(value, str) or np.ndim(value) == 0


def _resolve_coefficients(name: str, value) -> Triple | Schedule:
    """:func:`ns_coefficients` with the argument's name for the error (Muon: "ns_coefficients")."""
    if isinstance(value, str):
        schedule = NS_SCHEDULES[_validate.choice(name, value, NS_SCHEDULES)]
        return schedule[0] if len(schedule) == 1 else schedule
    try:
        items = list(value)
    except TypeError:
        items = []
    if items and not any(_is_scalar(v) for v in items):
        schedule = tuple(_triple(name, v) for v in items)
        return schedule[0] if len(schedule) == 1 else schedule
    return _triple(name, value)


def ns_coefficients(coefficients: str | Sequence) -> Triple | Schedule:
    """Resolve Newton–Schulz coefficients: a preset name of :data:`NS_SCHEDULES`, one triple
    (a, b, c) (torch.optim.Muon's form) or a sequence of triples (one per step).

    Returns one triple when every step applies the same polynomial ("jordan", "cubic", a triple),
    else the tuple of per-step triples; ``ValueError`` for anything else.
    """
    return _resolve_coefficients("coefficients", coefficients)


def _steps_of(coefficients: Triple | Schedule, steps: int) -> Schedule:
    """The ``steps`` triples a resolved schedule applies, its last triple repeated."""
    if not isinstance(coefficients[0], tuple):
        return (cast(Triple, tuple(coefficients)),) * steps  # a triple: its first item no tuple
    schedule = cast(Schedule, coefficients)
    return tuple(schedule[min(k, len(schedule) - 1)] for k in range(steps))


def ns_schedule(coefficients: str | Sequence, steps: int) -> Schedule:
    """The triple each of ``steps`` Newton–Schulz steps applies: the schedule's k-th triple at step
    k, its last triple after it runs out (a single triple at every step)."""
    steps = _validate.integer("steps", steps, low=0)
    return _steps_of(ns_coefficients(coefficients), steps)
