r"""From one coordinate to d: the separable hard instance and SignSGD's lower bound (Theorem 2).

:cite:`tao2026signsgd` lift the 1-D instance (L = Δ = 1) to :math:`f(x) = \sum_i q_i(x_i)` with
:math:`q_i(x) = \Delta_i\,p_i(x\sqrt{L_i/\Delta_i})`: :math:`q_i''` is bounded by :math:`L_i`, the
gap by :math:`\Delta_i`, so f is separably smooth with vector L, hence ℓ∞-smooth with
:math:`L_\infty = \|L\|_1`, and has gap :math:`\sum_i\Delta_i = \Delta`. Rescaling turns coordinate
i's noise σ_i into :math:`\tilde\sigma_i = \sigma_i/\sqrt{L_i\Delta_i}` and SignSGD's step η into
:math:`\eta\sqrt{L_i/\Delta_i}` (the grid of :math:`p_i` is built with that step). If every
coordinate stalls with probability ≥ 1/2 at its target :math:`\tilde\varepsilon_i`, then
:math:`\mathbb E\min_t\|\nabla f(x_t)\|_1 \ge \sum_i\sqrt{L_i\Delta_i}\,\tilde\varepsilon_i`.

Two splits of (L∞, Δ) give the two terms of the bound:

- noiseless: :math:`\Delta_i = L_i\Delta/\|L\|_1`, no noise,
  :math:`\tilde\varepsilon = 1/\sqrt{32N}`: :math:`\sqrt{L_\infty\Delta/(32N)}`;
- noise: :math:`L_i = \sigma_iL_\infty/\|\sigma\|_1`,
  :math:`\Delta_i \propto \sigma_i^{2/3}L_i^{1/3}`,
  :math:`\tilde\varepsilon_i = (\tilde\sigma_i^2/(128N))^{1/4}`:
  :math:`(\|\sigma\|_1^2L_\infty\Delta/(128N))^{1/4}` (capped by :math:`\sqrt{L_\infty\Delta}/4`,
  where the 1-D instance runs out of cells).

The lower bound is the larger of the two, the explicit-constant form of Theorem 2.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._arrays import numpy_or_torch
from signlab.sim.noise import Bimodal, Oracle
from signlab.theory.lowerbound.resisting import resisting_gradient, resisting_value
from signlab.theory.lowerbound.stall import stall_probability

TERMS = ("noiseless", "noise")


class GridOracle(Oracle):
    r"""The bimodal oracle where it has variance at most σ², the exact gradient elsewhere.

    A bimodal draw (:class:`signlab.sim.noise.Bimodal` with scale a_i) at true gradient g has
    variance σ_i²g²/a_i²: σ_i² on the grid, where |p_i'| = 2ε̃ (a_i in the instance's units), less
    between grid points, and *more* on the closing parabola past the last grid point, where
    |p_i'| grows beyond 2ε̃ (there the variance is p'(x)²σ²/(4ε̃²)). So this oracle returns the
    bimodal draw where |g_i| ≤ a_i and g_i itself where |g_i| > a_i: unbiased everywhere, with
    variance ≤ σ_i² everywhere, as the theorem's noise assumption requires. The stall argument
    never leaves the grid, so Theorem 2 is unaffected; runs that walk past the grid (more steps than
    cells) now see an oracle that satisfies the assumption there too.
    """

    def __init__(self, bimodal: Bimodal, limit: Any) -> None:
        self.bimodal = bimodal
        self.limit = torch.as_tensor(limit, dtype=bimodal.sigma.dtype)
        self.sigma = bimodal.sigma

    @property
    def zero_probability(self) -> torch.Tensor:
        """q = σ²/(σ² + a²) on the grid (see :attr:`signlab.sim.noise.Bimodal.zero_probability`)."""
        return self.bimodal.zero_probability

    def variance(self, grad: Any) -> torch.Tensor:
        """Variance of one draw at true gradient ``grad``: σ²g²/a² where |g| ≤ a, else 0."""
        grad = torch.as_tensor(grad, dtype=self.sigma.dtype)
        inside = grad.abs() <= self.limit
        return torch.where(inside, self.bimodal.variance(grad), torch.zeros_like(grad))

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """The mean of ``batch`` draws: bimodal where |∇_i f| ≤ a_i, exact beyond."""
        draw = self.bimodal.sample(grad, batch, generator, x=x)
        return torch.where(grad.abs() <= self.limit.to(grad.dtype), draw, grad)


def _vector(name: str, x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D vector (got shape {arr.shape})")
    _validate.nonnegative_array(name, arr)
    return arr


def noiseless_split(L_inf: Any, Delta: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """(L_i, Δ_i) with L_i = L∞·w_i/‖w‖₁ and Δ_i = L_iΔ/‖L‖₁: the split for the noiseless term."""
    L_inf, Delta = _validate.positive("L_inf", L_inf), _validate.positive("Delta", Delta)
    w = _vector("weights", weights)
    if w.sum() <= 0:
        raise ValueError("weights must have a positive entry")
    L = L_inf * w / w.sum()
    return L, L * Delta / L.sum()


def noise_split(L_inf: Any, Delta: Any, sigma: Any) -> tuple[np.ndarray, np.ndarray]:
    """(L_i, Δ_i) with L_i = σ_iL∞/‖σ‖₁ and Δ_i ∝ σ_i^{2/3}L_i^{1/3}: the split for the noise
    term."""
    L_inf, Delta = _validate.positive("L_inf", L_inf), _validate.positive("Delta", Delta)
    sigma = _vector("sigma", sigma)
    if sigma.sum() <= 0:
        raise ValueError("sigma must have a positive entry for the noise term")
    L = sigma * L_inf / sigma.sum()
    weight = sigma ** (2 / 3) * L ** (1 / 3)
    return L, Delta * weight / weight.sum()


class SeparableHardInstance:
    r"""f(x) = Σ_i Δ_i p_i(x_i √(L_i/Δ_i)) with its per-coordinate bimodal oracle (``.oracle``).

    ``L``, ``Delta``, ``sigma``: per-coordinate smoothness, gap and noise (a coordinate with
    L_i = 0 or Δ_i = 0 is flat and noiseless); ``eps``: the rescaled targets
    :math:`\tilde\varepsilon_i \in (0, 1/4]` (scalar or vector); ``lr``: SignSGD's step η, which the
    grids are built for. A problem of the engine: points have shape (runs, d); ``value`` and
    ``gradient`` take numpy or torch arrays.
    """

    def __init__(self, L: Any, Delta: Any, sigma: Any, eps: Any, lr: Any) -> None:
        self.L, self.Delta, self.sigma = (
            _vector("L", L),
            _vector("Delta", Delta),
            _vector("sigma", sigma),
        )
        if not self.L.shape == self.Delta.shape == self.sigma.shape:
            raise ValueError("L, Delta and sigma must have the same length")
        self.lr = _validate.positive("lr", lr)
        eps = np.broadcast_to(np.asarray(eps, dtype=float), self.L.shape).copy()
        _validate.finite_array("eps", eps)
        if bool(((eps <= 0) | (eps > 0.25)).any()):
            raise ValueError(f"eps must lie in (0, 1/4] (got {eps})")
        self.active = (self.L > 0) & (self.Delta > 0)
        safe_delta = np.where(self.active, self.Delta, 1.0)
        self.stretch = np.where(self.active, np.sqrt(self.L / safe_delta), 0.0)
        self.eps = eps
        self.cells = np.floor(1.0 / (16.0 * eps**2) + 1e-9)
        scale = np.sqrt(self.L * self.Delta)
        self.sigma_rescaled = np.where(self.active, self.sigma / np.where(self.active, scale, 1), 0)
        self.step_rescaled = np.where(self.active, self.stretch * self.lr, 1.0)
        bimodal = Bimodal(torch.from_numpy(self.sigma_rescaled), scale=torch.from_numpy(2 * eps))
        limit = np.where(self.active, 2 * eps * scale * (1 + 1e-12), 0.0)
        self.oracle = GridOracle(bimodal, torch.from_numpy(limit))
        """Every coordinate's oracle: bimodal (in rescaled units: it is scale invariant) where
        |∂_i f| ≤ 2ε̃_i√(L_iΔ_i), the exact gradient beyond (:class:`GridOracle`)."""
        self._t = {
            k: torch.from_numpy(v)
            for k, v in dict(
                stretch=self.stretch,
                slope=2 * self.eps,
                step=self.step_rescaled,
                cells=self.cells,
                Delta=np.where(self.active, self.Delta, 0.0),
            ).items()
        }

    @property
    def shape(self) -> tuple[int, ...]:
        """(d,): one point of the instance."""
        return self.L.shape

    @property
    def L_inf(self) -> float:
        """‖L‖₁, the ℓ∞-smoothness constant of f."""
        return float(self.L.sum())

    def _p(self, x: torch.Tensor):
        t = {k: v.to(x.dtype) for k, v in self._t.items()}
        return t, t["stretch"] * x

    @numpy_or_torch
    def value(self, x):
        """f(x) = Σ_i Δ_i p_i(b_i x_i) with b_i = √(L_i/Δ_i), one value per run."""
        t, z = self._p(x)
        return (t["Delta"] * resisting_value(z, t["slope"], t["step"], t["cells"])).sum(dim=-1)

    @numpy_or_torch
    def gradient(self, x):
        """∇f(x), coordinate i being Δ_i b_i p_i'(b_i x_i)."""
        t, z = self._p(x)
        p = resisting_gradient(z, t["slope"], t["step"], t["cells"])
        return t["Delta"] * t["stretch"] * p

    def stall_gradient_l1(self) -> float:
        """‖∇f‖₁ at any point where every coordinate sits on its grid: Σ_i 2√(L_iΔ_i) ε̃_i."""
        return float((2 * np.sqrt(self.L * self.Delta) * self.eps)[self.active].sum())

    def lower_bound(self) -> float:
        """Σ_i √(L_iΔ_i) ε̃_i: E min_t ‖∇f(x_t)‖₁ is at least this for budgets below
        :meth:`budget`."""
        return self.stall_gradient_l1() / 2

    def budget(self) -> float:
        """The largest N = BT for which every coordinate stalls w.p. ≥ 1/2 (Markov, per
        coordinate)."""
        e, s = self.eps[self.active], self.sigma_rescaled[self.active]
        return float(((self.cells[self.active] + 1) * (s**2 + 4 * e**2) / (8 * e**2)).min())

    def stall_probability(self, steps: Any, batch: Any = 1) -> float:
        r"""The exact probability that SignSGD (step :attr:`lr`, batch B) started at x₁ has left
        no coordinate's grid after ``steps`` steps: Π_i P(M_i ≤ n_i), M_i ~ Bin(T, 1 − q_i^B).

        Coordinate i moves one cell on a step where one of its B bimodal draws is non-zero
        (:func:`~signlab.theory.lowerbound.stall_probability`, in its rescaled units), and the
        coordinates draw independently, so the probabilities multiply. Noiseless coordinates
        move at every step (q_i = 0).
        """
        steps = _validate.integer("steps", steps, low=1)
        batch = _validate.integer("batch", batch, low=1)
        p = 1.0
        for i in np.flatnonzero(self.active):
            p *= stall_probability(
                self.eps[i], self.sigma_rescaled[i], steps, batch, n=int(self.cells[i])
            )
        return p

    def grid_top(self) -> np.ndarray:
        """Per coordinate, the last grid point in x units: a run is stalled while x_i stays below
        it plus half a cell."""
        safe = np.where(self.active, self.stretch, 1.0)
        return np.where(self.active, (self.cells + 0.5) * self.step_rescaled / safe, np.inf)


def lower_bound_instance(
    N: Any, L_inf: Any, Delta: Any, sigma: Any, lr: Any, term: str
) -> SeparableHardInstance:
    """The separable instance forcing SignSGD (any step ``lr``, N = BT) to the ``term`` of Theorem
    2."""
    N = _validate.positive("N", N)
    L_inf, Delta = _validate.positive("L_inf", L_inf), _validate.positive("Delta", Delta)
    _validate.choice("term", term, TERMS)
    sigma = _vector("sigma", sigma)
    if term == "noiseless":
        L, D = noiseless_split(L_inf, Delta, np.ones_like(sigma))
        return SeparableHardInstance(
            L, D, np.zeros_like(sigma), min(0.25, 1 / math.sqrt(32 * N)), lr
        )
    L, D = noise_split(L_inf, Delta, sigma)
    eps = min(0.25, (sigma.sum() ** 2 / (128 * N * L_inf * Delta)) ** 0.25)
    return SeparableHardInstance(L, D, sigma, eps, lr)


def signsgd_lower_rate(N: Any, L_inf: Any, Delta: Any, sigma: Any) -> float:
    r"""Theorem 2 with explicit constants: the larger of the two instances' guarantees,
    :math:`\max\{\sqrt{L_\infty\Delta/(32N)},\ \min(\sqrt{L_\infty\Delta}/4,
    (\|\sigma\|_1^2L_\infty\Delta/(128N))^{1/4})\}` (the step size does not matter)."""
    sigma = _vector("sigma", sigma)
    terms = ["noiseless"] + (["noise"] if sigma.sum() > 0 else [])
    return max(lower_bound_instance(N, L_inf, Delta, sigma, 1.0, t).lower_bound() for t in terms)


def signsgd_lower_complexity(eps: Any, L_inf: Any, Delta: Any, sigma: Any) -> float:
    r"""Theorem 2 as a complexity: below :math:`\max\{L_\infty\Delta/(32\varepsilon^2),
    \|\sigma\|_1^2L_\infty\Delta/(128\varepsilon^4)\}` gradients, :func:`signsgd_lower_rate` exceeds ε
    (for :math:`\varepsilon < \sqrt{L_\infty\Delta}/4`, where the noise instance is not capped)."""
    eps = _validate.positive("eps", eps)
    L_inf, Delta = _validate.positive("L_inf", L_inf), _validate.positive("Delta", Delta)
    sigma = _vector("sigma", sigma)
    if eps >= math.sqrt(L_inf * Delta) / 4:
        raise ValueError(f"eps must be < sqrt(L_inf * Delta) / 4 (got {eps!r})")
    s = float(sigma.sum())
    return max(L_inf * Delta / (32 * eps**2), s**2 * L_inf * Delta / (128 * eps**4))
