r"""Heavy tails: how to measure a tail index, and what averaging does to heavy-tailed noise.

A symmetric :math:`\alpha`-stable variable :math:`X` (:math:`0 < \alpha \le 2`; :math:`\alpha = 2` is the
Gaussian) satisfies :math:`w_1 X_1 + \dots + w_K X_K \overset{d}{=} (\sum_k |w_k|^\alpha)^{1/\alpha} X`
for i.i.d. copies and real weights. Three consequences drive the heavy-tail chapter:

- **Averaging is slow.** The mean of :math:`B` draws has scale :math:`B^{1/\alpha - 1}` instead of the
  Gaussian :math:`B^{-1/2}` (:func:`mean_scale`); with :math:`\alpha` near 1 a larger batch barely helps.
- **An exponential moving average shrinks the scale too.** With weights :math:`(1-\beta)\beta^k` the
  EMA of the noise has scale :math:`(1-\beta)/(1-\beta^\alpha)^{1/\alpha}` (:func:`ema_scale`), about
  :math:`\alpha^{-1/\alpha}(1-\beta)^{1-1/\alpha}` as :math:`\beta \to 1` (:func:`ema_scale_limit`):
  momentum replaces a batch at the same rate in its window :math:`1/(1-\beta)`, and not at all for
  :math:`\alpha = 1` (Cauchy noise). :func:`measure_ema_scale` measures it by running the EMA.
- **The index can be measured.** Taking logs of :math:`\sum_{j\le K_1} X_j \overset{d}{=} K_1^{1/\alpha} X`,
  :math:`\tfrac{1}{\alpha} = \big(\mathbb E\log|Y| - \mathbb E\log|X|\big)/\log K_1` for block sums
  :math:`Y`; :func:`tail_index` is this estimator (Mohammadi et al., 2015), the one
  :cite:`simsekli2019tail` applied to the gradient noise of neural networks. Variables with power-law
  tails :math:`P(|X| > x) \sim x^{-\nu}` are in the domain of attraction of the
  :math:`\alpha = \min(\nu, 2)`-stable law (for :math:`\nu > 2` the variance is finite and the limit is
  Gaussian), so for Student-t noise the estimator tends to :math:`\min(\nu, 2)` as the blocks grow,
  never to a :math:`\nu > 2`; at practical block sizes it reads low (from 10⁶ draws about 1.5 for
  :math:`\nu = 1.8` and 1.8 for :math:`\nu = 3`).

:func:`symmetric_stable` draws standard symmetric :math:`\alpha`-stable variables (characteristic
function :math:`e^{-|t|^\alpha}`, so :math:`\alpha = 2` is :math:`N(0, 2)`) with a torch generator.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._threads import torch_threads
from signlab.sim.noise import student_t

__all__ = [
    "ema_scale",
    "ema_scale_limit",
    "mean_scale",
    "measure_ema_scale",
    "sign_flip_probability",
    "student_t_tail",
    "survival",
    "symmetric_stable",
    "tail_index",
]


def _alpha(alpha: float) -> float:
    alpha = _validate.positive("alpha", alpha)
    if alpha > 2:
        raise ValueError(f"alpha must lie in (0, 2] (got {alpha!r})")
    return alpha


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


def student_t_tail(x: Any, nu: float, *, points: int = 4001) -> np.ndarray:
    r"""The exact two-sided tail :math:`P(|T| > x)` of a standard Student-t variable, :math:`x \ge 0`.

    With the density :math:`c_\nu(1 + t^2/\nu)^{-(\nu+1)/2}`,
    :math:`c_\nu = \Gamma(\frac{\nu+1}{2})/(\sqrt{\nu\pi}\,\Gamma(\frac\nu2))`, the tail is
    :math:`2\int_x^\infty`; substituting :math:`t = x/u` turns it into
    :math:`2x\int_0^1 c_\nu(1 + x^2/(\nu u^2))^{-(\nu+1)/2}u^{-2}\,du`, a smooth integral on
    [0, 1] (Simpson's rule on ``points`` points, with the substitution :math:`u = v^2` for the
    :math:`u^{\nu-1}` behaviour at 0). It tends to :math:`C x^{-\nu}`: the power law whose slope
    :func:`survival` measures, up to the curvature of the exact tail.
    """
    nu = _validate.positive("nu", nu)
    points = _validate.integer("points", points, low=5)
    if points % 2 == 0:
        raise ValueError(f"points must be odd for Simpson's rule (got {points})")
    x = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("x must hold finite values >= 0")
    log_c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    v = np.linspace(0.0, 1.0, points)[1:]  # u = v², du = 2v dv; the integrand vanishes at v = 0
    u = v * v
    xs = x.reshape(-1, 1)
    with np.errstate(divide="ignore", over="ignore"):
        log_f = log_c - (nu + 1) / 2 * np.log1p(xs**2 / (nu * u**2))
    integrand = np.concatenate(
        [np.zeros((xs.shape[0], 1)), np.exp(log_f) / u**2 * 2 * v * xs], axis=1
    )
    h = 1.0 / (points - 1)
    weights = np.ones(points)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    tail = 2 * h / 3 * integrand @ weights
    return np.where(x.reshape(-1) == 0, 1.0, tail).reshape(x.shape)


def mean_scale(batch: Any, alpha: float) -> Any:
    r"""The scale :math:`B^{1/\alpha - 1}` of the mean of :math:`B` i.i.d. :math:`\alpha`-stable draws."""
    alpha = _alpha(alpha)
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


_CHUNK = 50
"""Steps of the EMA recursion drawn and applied at once by :func:`measure_ema_scale`."""
_REFERENCE = 10
"""Size of the reference sample of :func:`measure_ema_scale`, in multiples of ``chains``."""


def _betas(beta: Any) -> np.ndarray:
    b = np.asarray(beta, dtype=float)
    if not np.all(np.isfinite(b)) or np.any(b < 0) or np.any(b >= 1):
        raise ValueError(f"beta must lie in [0, 1) (got {beta!r})")
    return b


def ema_scale(alpha: float, beta: Any) -> Any:
    r"""Scale of the EMA :math:`m = (1-\beta)\sum_{k\ge0}\beta^k\xi_k` of i.i.d. unit-scale α-stable noise.

    By stability the weights :math:`w_k = (1-\beta)\beta^k` give scale
    :math:`(\sum_k w_k^\alpha)^{1/\alpha} = (1-\beta)/(1-\beta^\alpha)^{1/\alpha}` (exact, any β in
    [0, 1)); for α = 2 it is :math:`\sqrt{(1-\beta)/(1+\beta)}`, the familiar variance ratio
    :math:`(1-\beta)/(1+\beta)`, and for α = 1 it is 1: averaging does nothing to Cauchy noise.
    """
    alpha, b = _alpha(alpha), _betas(beta)
    return (1.0 - b) / (1.0 - b**alpha) ** (1.0 / alpha)


def ema_scale_limit(alpha: float, beta: Any) -> Any:
    r"""The β → 1 form :math:`\alpha^{-1/\alpha}(1-\beta)^{1-1/\alpha}` of :func:`ema_scale`.

    From :math:`1 - \beta^\alpha \approx \alpha(1-\beta)`: the EMA shrinks with its window
    :math:`W = 1/(1-\beta)` as :math:`W^{1/\alpha-1}`, the rate at which a mean of :math:`B = W` draws
    shrinks (:func:`mean_scale`), with the constant :math:`\alpha^{-1/\alpha}`.
    """
    alpha, b = _alpha(alpha), _betas(beta)
    return alpha ** (-1.0 / alpha) * (1.0 - b) ** (1.0 - 1.0 / alpha)


def symmetric_stable(
    shape: tuple[int, ...],
    alpha: float,
    generator: torch.Generator | None = None,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    r"""Standard symmetric α-stable draws (characteristic function :math:`e^{-|t|^\alpha}`).

    The Chambers–Mallows–Stuck method: with :math:`U` uniform on :math:`(-\pi/2, \pi/2)` and
    :math:`W` standard exponential,
    :math:`X = \frac{\sin \alpha U}{(\cos U)^{1/\alpha}}\big(\frac{\cos((1-\alpha)U)}{W}\big)^{(1-\alpha)/\alpha}`
    (:math:`\tan U` for α = 1: Cauchy; :math:`N(0, 2)` for α = 2). Reproducible with ``generator``.
    """
    alpha = _alpha(alpha)
    r = torch.rand((2, *shape), generator=generator, dtype=dtype)
    u = math.pi * (r[0] - 0.5)
    if alpha == 1.0:
        return torch.tan(u)
    w = -torch.log1p(-r[1])
    return (
        torch.sin(alpha * u)
        / torch.cos(u) ** (1.0 / alpha)
        * (torch.cos((1.0 - alpha) * u) / w) ** ((1.0 - alpha) / alpha)
    )


def measure_ema_scale(
    alpha: float,
    betas: Any,
    *,
    chains: int = 20_000,
    blocks: int = 20,
    horizon: float = 8.0,
    seed: int = 0,
    threads: int | None = 1,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Measured scale of the EMA of α-stable noise for each β, and its Monte-Carlo standard error.

    Runs the recursion :math:`m \leftarrow \beta m + (1-\beta)\xi_t` (50 steps at a time, the same
    sum) from :math:`m = 0` on ``chains`` independent chains for :math:`K = \lceil \text{horizon}/(1-\beta_{\max})\rceil` steps, all β on the
    same draws (the neglected tail :math:`\beta^{\alpha K} \le e^{-\alpha\,\text{horizon}}` is far below
    the Monte-Carlo error). Since every symmetric α-stable law is a scale times the standard one, the
    scale is the ratio of medians :math:`\operatorname{med}|m_K| / \operatorname{med}|\xi|`, with
    :math:`\xi` an independent reference sample ten times larger. Its standard error combines the
    relative errors of both medians, each the spread of the median over ``blocks`` equal blocks
    divided by :math:`\sqrt{\text{blocks}}`. Nothing
    here uses :func:`ema_scale`: the measurement is independent of the formula it checks.
    ``threads``: torch threads during the run (restored after; ``None`` leaves them): on a shared
    machine one thread was about three times faster than two.
    """
    alpha = _alpha(alpha)
    b = _betas(betas)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"betas must be a non-empty 1-D sequence (got {betas!r})")
    chains = _validate.integer("chains", chains, low=2)
    blocks = _validate.integer("blocks", blocks, low=2, high=chains // 2)
    horizon = _validate.positive("horizon", horizon)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    with torch_threads(threads):
        return _run_ema(alpha, b, chains, blocks, horizon, generator)


def _run_ema(alpha, b, chains, blocks, horizon, generator):
    """The measurement of :func:`measure_ema_scale` (arguments validated)."""
    steps = math.ceil(horizon / (1.0 - float(b.max())))
    beta = torch.as_tensor(b, dtype=torch.float64).unsqueeze(1)
    m = torch.zeros(b.size, chains, dtype=torch.float64)
    for start in range(0, steps, _CHUNK):
        # c steps of m <- beta*m + (1 - beta)*xi at once: m <- beta^c m + (1 - beta) sum_j beta^(c-1-j) xi_j
        c = min(_CHUNK, steps - start)
        powers = beta ** torch.arange(c - 1, -1, -1, dtype=torch.float64)
        xi = symmetric_stable((c, chains), alpha, generator)
        m = beta**c * m + (1.0 - beta) * (powers @ xi)
    reference = symmetric_stable((_REFERENCE * chains,), alpha, generator).abs()
    m = m.abs()
    top, bottom = m.median(dim=1).values, reference.median()
    size = chains // blocks
    tops = m[:, : size * blocks].reshape(b.size, blocks, size).median(dim=2).values
    bottoms = reference[: _REFERENCE * size * blocks].reshape(blocks, -1).median(dim=1).values
    rel_top = tops.std(dim=1) / math.sqrt(blocks) / top
    rel_bottom = bottoms.std() / math.sqrt(blocks) / bottom
    ratio = top / bottom
    return ratio.numpy(), (ratio * torch.sqrt(rel_top**2 + rel_bottom**2)).numpy()
