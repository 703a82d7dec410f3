r"""Heavy tails: how to measure a tail index, and what averaging does to heavy-tailed noise.

A symmetric :math:`\alpha`-stable variable :math:`X` (:math:`0 < \alpha \le 2`; :math:`\alpha = 2` is the
Gaussian) satisfies :math:`X_1 + \dots + X_K \overset{d}{=} K^{1/\alpha} X`. Two consequences drive the
heavy-tail chapter:

- **Averaging is slow.** The mean of :math:`B` draws has scale :math:`B^{1/\alpha - 1}` instead of the
  Gaussian :math:`B^{-1/2}` (:func:`mean_scale`); with :math:`\alpha` near 1 a larger batch barely helps SGD.
- **The index can be measured.** Taking logs of :math:`\sum_{j\le K_1} X_j \overset{d}{=} K_1^{1/\alpha} X`,
  :math:`\tfrac{1}{\alpha} = \big(\mathbb E\log|Y| - \mathbb E\log|X|\big)/\log K_1` for block sums
  :math:`Y`; :func:`tail_index` is this estimator (Mohammadi et al., 2015), the one
  :cite:`simsekli2019tail` applied to the gradient noise of neural networks. Variables with power-law
  tails :math:`P(|X| > x) \sim x^{-\nu}`, :math:`\nu < 2` (e.g. Student-t with :math:`\nu` degrees of
  freedom) are in the domain of attraction of an :math:`\alpha = \nu` stable law, so the estimator
  tends to :math:`\nu` for them as the block size grows; at practical block sizes it reads low
  (about 1.5 for Student-t with :math:`\nu = 1.8` from 400 000 draws), and it reads just below 2 for
  any finite-variance law.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from signlab import _validate
from signlab.sim.noise import student_t


def tail_index(samples: Any, k1: int | None = None) -> float:
    r"""Estimate the stable tail index :math:`\alpha \in (0, 2]` of i.i.d. ``samples`` (flattened).

    The :math:`K = K_1 K_2` samples are cut into :math:`K_2` blocks of :math:`K_1` and summed (``k1``
    defaults to :math:`\lfloor\sqrt K\rfloor`); then
    :math:`\hat\alpha^{-1} = \frac{1}{\log K_1}\big(\frac{1}{K_2}\sum_i \log|Y_i| - \frac1K\sum_j\log|X_j|\big)`.
    The estimate is clipped to :math:`(0, 2]`, the range of stable laws. Samples should be centred.
    """
    x = np.asarray(samples, dtype=float).ravel()
    _validate.finite_array("samples", x)
    if x.size < 16:
        raise ValueError(f"samples must contain at least 16 values (got {x.size})")
    k1 = int(math.isqrt(x.size)) if k1 is None else _validate.integer("k1", k1, low=2)
    k2 = x.size // k1
    if k2 < 2:
        raise ValueError(f"k1 must leave at least 2 blocks (got k1={k1} for {x.size} samples)")
    x = x[: k1 * k2]
    nonzero = x[x != 0]
    if nonzero.size == 0:
        raise ValueError("samples must not be all zero")
    y = x.reshape(k2, k1).sum(axis=1)
    y = y[y != 0]
    inv_alpha = (np.log(np.abs(y)).mean() - np.log(np.abs(nonzero)).mean()) / math.log(k1)
    return float(min(2.0, 1.0 / inv_alpha)) if inv_alpha > 0 else 2.0


def mean_scale(batch: Any, alpha: float) -> Any:
    r"""The scale :math:`B^{1/\alpha - 1}` of the mean of :math:`B` i.i.d. :math:`\alpha`-stable draws."""
    alpha = _validate.positive("alpha", alpha)
    if alpha > 2:
        raise ValueError(f"alpha must lie in (0, 2] (got {alpha!r})")
    batch = np.asarray(batch, dtype=float)
    if np.any(batch < 1):
        raise ValueError("batch must be >= 1")
    return batch ** (1.0 / alpha - 1.0)


def survival(samples: Any, thresholds: Any) -> np.ndarray:
    r"""Empirical two-sided tail :math:`\hat P(|X| > x)` of ``samples`` at each threshold :math:`x`.

    For a power-law tail :math:`P(|X| > x) \sim C x^{-\nu}` it is a straight line of slope
    :math:`-\nu` on log-log axes; for a Gaussian it falls faster than any line.
    """
    x = np.sort(np.abs(np.asarray(samples, dtype=float).ravel()))
    _validate.finite_array("samples", x)
    t = np.asarray(thresholds, dtype=float)
    return 1.0 - np.searchsorted(x, t, side="right") / x.size


def sign_flip_probability(
    grad: float,
    nu: float | None,
    *,
    scale: float = 1.0,
    batch: int = 1,
    n: int = 200_000,
    seed: int = 0,
) -> float:
    r"""Monte Carlo :math:`P(\operatorname{sign}(g + \bar\xi_B) \ne \operatorname{sign}(g))`.

    :math:`\bar\xi_B` is the mean of ``batch`` draws of ``scale``·t_ν noise (``nu=None``: Gaussian).
    Whatever the tails, SignSGD moves each coordinate by :math:`\pm\eta` and is wrong with this
    probability, which is below 1/2 for symmetric noise; SGD's error is the noise itself.
    """
    if grad == 0:
        raise ValueError("grad must be non-zero (sign(0) = 0 is never flipped)")
    batch = _validate.integer("batch", batch, low=1)
    n = _validate.integer("n", n, low=1)
    rng = np.random.default_rng(seed)
    if nu is None:
        noise = scale * rng.standard_normal((n, batch))
    else:
        noise = scale * student_t((n, batch), nu, int(rng.integers(2**63))).numpy()
    return float(np.mean(np.sign(grad + noise.mean(axis=1)) != np.sign(grad)))
