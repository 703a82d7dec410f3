r"""SignSGD on the hard instance: when it stalls, with what probability, and the threshold.

The 1-D hard instance of Lemma 3 (:cite:`tao2026signsgd`, L = Δ = 1) is the resisting function with
slope −2ε on :math:`n = \lfloor 1/(16\varepsilon^2)\rfloor` cells of width η (the algorithm's own
step) with the bimodal oracle. Started at :math:`x_1`, SignSGD moves one cell on a step where at
least one of its B draws is non-zero (probability :math:`1 - q^B`,
:math:`q = \sigma^2/(\sigma^2+4\varepsilon^2)`) and stays put otherwise. After T steps the number of
moves is :math:`M \sim \mathrm{Bin}(T, 1 - q^B)`; while :math:`M \le n` every iterate is a grid
point where :math:`|p'| = 2\varepsilon`: it *stalls*. Since :math:`1 - q^B \le B(1-q)`,
:math:`\mathbb E M \le 4\varepsilon^2N/(\sigma^2 + 4\varepsilon^2)` with N = BT, and Markov's
inequality gives :math:`P(M \ge n+1) \le 1/2` whenever

.. math:: N \le \frac{(n+1)(\sigma^2 + 4\varepsilon^2)}{8\varepsilon^2},

which is at least the paper's :math:`(\sigma^2 + 4\varepsilon^2)/(128\varepsilon^4)` because
:math:`n + 1 \ge 1/(16\varepsilon^2)`. Then :math:`\mathbb E\min_t|p'(x_t)| \ge \varepsilon`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from signlab import _validate


def hard_cells(eps: Any) -> int:
    """n = ⌊1/(16ε²)⌋, the number of cells of the hard instance (needs ε ≤ 1/4 so that n ≥ 1)."""
    eps = _validate.positive("eps", eps)
    if eps > 0.25:
        raise ValueError(f"eps must be <= 1/4 so that the instance has a cell (got {eps!r})")
    return int(math.floor(1.0 / (16.0 * eps**2) + 1e-9))


def hard_instance(eps: Any, sigma: Any, lr: Any):
    """Lemma 3's instance for SignSGD with step ``lr``: one coordinate, L = Δ = 1, slope 2ε on
    :func:`hard_cells` cells of width ``lr``, with its bimodal oracle (``.oracle``, noise ``sigma``).

    It is the d = 1 case of :class:`~signlab.theory.lowerbound.SeparableHardInstance`; points have
    shape (runs, 1).
    """
    from signlab.theory.lowerbound.lift import SeparableHardInstance

    eps = _validate.positive("eps", eps)
    sigma = _validate.nonnegative("sigma", sigma)
    hard_cells(eps)
    return SeparableHardInstance([1.0], [1.0], [sigma], eps, lr)


def zero_probability(eps: Any, sigma: Any) -> float:
    """q = σ²/(σ² + 4ε²): the probability that one draw of the hard instance's oracle is zero."""
    eps = _validate.positive("eps", eps)
    sigma = _validate.nonnegative("sigma", sigma)
    return sigma**2 / (sigma**2 + 4 * eps**2)


def paper_threshold(eps: Any, sigma: Any, L: Any = 1.0, Delta: Any = 1.0) -> float:
    """The paper's stall budget L·Δ·(σ² + 4ε²)/(128 ε⁴): below it, SignSGD stalls w.p. ≥ 1/2."""
    eps = _validate.positive("eps", eps)
    sigma = _validate.nonnegative("sigma", sigma)
    L, Delta = _validate.positive("L", L), _validate.positive("Delta", Delta)
    return L * Delta * (sigma**2 + 4 * eps**2) / (128 * eps**4)


def stall_threshold(eps: Any, sigma: Any, n: Any = None) -> float:
    """(n+1)(σ² + 4ε²)/(8ε²): the Markov threshold on N = BT for the integer n (default
    ⌊1/(16ε²)⌋)."""
    n = hard_cells(eps) if n is None else _validate.integer("n", n, low=1)
    eps = _validate.positive("eps", eps)
    sigma = _validate.nonnegative("sigma", sigma)
    return (n + 1) * (sigma**2 + 4 * eps**2) / (8 * eps**2)


def move_probability(eps: Any, sigma: Any, batch: Any = 1) -> float:
    """1 − q^B: the probability that a mean of B oracle draws is non-zero, so SignSGD moves."""
    batch = _validate.integer("batch", batch, low=1)
    return 1.0 - zero_probability(eps, sigma) ** batch


def stall_probability(eps: Any, sigma: Any, steps: Any, batch: Any = 1, n: Any = None) -> float:
    """P(M ≤ n) for M ~ Bin(T, 1 − q^B): the exact probability that SignSGD never leaves the
    grid."""
    n = hard_cells(eps) if n is None else _validate.integer("n", n, low=1)
    steps = _validate.integer("steps", steps, low=1)
    p = move_probability(eps, sigma, batch)
    if p >= 1.0:
        return 1.0 if steps <= n else 0.0
    if p <= 0.0:
        return 1.0
    k = np.arange(min(n, steps) + 1)
    log_pmf = (
        np.array(
            [math.lgamma(steps + 1) - math.lgamma(j + 1) - math.lgamma(steps - j + 1) for j in k]
        )
        + k * math.log(p)
        + (steps - k) * math.log1p(-p)
    )
    return float(min(1.0, np.exp(log_pmf).sum()))
