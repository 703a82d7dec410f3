r"""The bimodal oracle: an unbiased gradient that is zero most of the time.

Lemma 3 of :cite:`tao2026signsgd`. With :math:`q = \sigma^2/(\sigma^2 + 4\varepsilon^2)` the oracle
returns 0 with probability q and
:math:`g/(1-q) = \frac{\sigma^2 + 4\varepsilon^2}{4\varepsilon^2}\,g` otherwise (g the true
gradient). It is unbiased, and its variance is :math:`g^2\,q/(1-q) = g^2\sigma^2/(4\varepsilon^2)`,
exactly σ² where |g| = 2ε (the slope of the hard instance on its grid). SignSGD cannot move on a
zero draw, because sign(0) = 0. A mean of B independent draws is :math:`\frac{K}{B}\frac{g}{1-q}`
with :math:`K \sim \mathrm{Binomial}(B, 1-q)`: it is zero only when all B draws are.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signlab import _validate


def zero_probability(sigma: Any, eps: Any) -> Any:
    """q = σ² / (σ² + 4ε²), the probability that one draw is zero (broadcasts over arrays)."""
    return sigma**2 / (sigma**2 + 4 * eps**2)


def bimodal_sample(grad: Any, sigma: Any, eps: Any, rng: np.random.Generator, batch: int = 1):
    """One mean of ``batch`` oracle draws per entry of ``grad``: (K/B)·grad/(1-q), K ~ Bin(B, 1-q).

    ``sigma`` and ``eps`` broadcast against ``grad`` (a different oracle per coordinate).
    """
    grad = np.asarray(grad, dtype=float)
    q = zero_probability(np.asarray(sigma, dtype=float), np.asarray(eps, dtype=float))
    hits = rng.binomial(batch, 1.0 - np.broadcast_to(q, grad.shape))
    return hits / batch * grad / (1.0 - q)


class BimodalOracle:
    """The bimodal oracle with noise level ``sigma`` for the hard instance of slope 2·``eps``.

    ``.sample(grad, rng, batch=1)`` draws one noisy gradient (a mean of ``batch`` draws) per entry
    of ``grad``; ``.zero_probability`` is q, ``.scale`` is 1/(1-q) and ``.variance(grad)`` is
    grad²σ²/(4ε²), the variance of a single draw.
    """

    def __init__(self, sigma: Any, eps: Any) -> None:
        self.sigma = _validate.nonnegative("sigma", sigma)
        self.eps = _validate.positive("eps", eps)
        self.zero_probability = float(zero_probability(self.sigma, self.eps))
        self.scale = 1.0 / (1.0 - self.zero_probability)

    def sample(self, grad: Any, rng: np.random.Generator, batch: int = 1) -> np.ndarray:
        """A noisy gradient for each entry of ``grad`` (``rng`` a numpy Generator)."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator (got {type(rng).__name__})")
        batch = _validate.integer("batch", batch, low=1)
        _validate.finite_array("grad", np.asarray(grad, dtype=float))
        return bimodal_sample(grad, self.sigma, self.eps, rng, batch)

    def variance(self, grad: Any) -> np.ndarray:
        """Variance of one draw at true gradient ``grad``: grad²·σ²/(4ε²)."""
        return np.asarray(grad, dtype=float) ** 2 * self.sigma**2 / (4 * self.eps**2)

    def __repr__(self) -> str:
        return f"BimodalOracle(sigma={self.sigma:g}, eps={self.eps:g})"
