r"""Separable gradient noise described by a vector σ = (σ_1, …, σ_d), and how to measure it.

Tao, Yu & Zhang (arXiv:2605.06615) assume a minibatch of B unbiased stochastic gradients whose
coordinate i has variance at most σ_i². The *shape* of σ decides how much SignSGD gains over SGD,
through the noise density (:func:`density`, the same function as :func:`signlab.geometry.density`)

.. math:: \varphi(\sigma) = \frac{\|\sigma\|_1^2}{d\,\|\sigma\|_2^2} \in [1/d, 1]:

φ = 1 for dense noise (all σ_i equal), φ = k/d for k equally noisy coordinates.

Functional core: ``*_gradient(grad, sigma, batch, generator)`` returns the mean of ``batch``
stochastic gradients at a point whose true gradient is ``grad`` (any shape; σ has the trailing
shape). Thin classes (:class:`Gaussian`, :class:`StudentT`, :class:`Bimodal`) bundle σ with a
sampler for the simulator. :func:`estimate_sigma` and :func:`estimate_density` measure σ and φ
from sampled gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.geometry import density

__all__ = [
    "Bimodal",
    "Gaussian",
    "HeavyTailed",
    "StudentT",
    "bimodal_gradient",
    "dense_sigma",
    "density",
    "estimate_density",
    "estimate_sigma",
    "gaussian_gradient",
    "sparse_sigma",
    "student_t_gradient",
]


def dense_sigma(d: int, scale: float, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """σ_i = ``scale`` for every coordinate: dense noise, φ = 1."""
    d = _validate.integer("d", d, low=1)
    scale = _validate.nonnegative("scale", scale)
    return torch.full((d,), scale, dtype=dtype)


def sparse_sigma(
    d: int, k: int, scale: float, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """σ_i = ``scale`` on the first ``k`` coordinates and 0 elsewhere: sparse noise, φ = k/d."""
    d = _validate.integer("d", d, low=1)
    k = _validate.integer("k", k, low=0, high=d)
    scale = _validate.nonnegative("scale", scale)
    sigma = torch.zeros(d, dtype=dtype)
    sigma[:k] = scale
    return sigma


def _sigma(sigma: Any, grad: torch.Tensor) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=grad.dtype)
    _validate.nonnegative_array("sigma", sigma)
    return _check_trailing(sigma, grad)


def _check_trailing(sigma: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    if sigma.ndim > grad.ndim or tuple(sigma.shape) != tuple(grad.shape[grad.ndim - sigma.ndim :]):
        raise ValueError(
            f"sigma must have the trailing shape of grad (got {tuple(sigma.shape)} "
            f"for grad of shape {tuple(grad.shape)})"
        )
    return sigma


def gaussian_gradient(
    grad: torch.Tensor, sigma: Any, batch: int, generator: torch.Generator | None
) -> torch.Tensor:
    r"""g = ∇f + (σ/√B)·ξ with ξ ~ N(0, I): exactly the mean of B Gaussian stochastic gradients."""
    batch = _validate.integer("batch", batch, low=1)
    return _gaussian(grad, _sigma(sigma, grad), batch, generator)


def _gaussian(grad, sigma, batch, generator, support=None, noisy=None):
    # Only the coordinates with σ_i > 0 are drawn, so sparse noise costs O(k), not O(d).
    flat = sigma.reshape(-1)
    support = flat.nonzero().squeeze(1) if support is None else support
    noisy = flat[support] if noisy is None else noisy
    lead = grad.shape[: grad.ndim - sigma.ndim]
    xi = torch.randn((*lead, support.numel()), generator=generator, dtype=grad.dtype)
    xi = xi * noisy if batch == 1 else xi * (noisy / math.sqrt(batch))
    if support.numel() == flat.numel():
        return grad + xi.view(grad.shape)
    if sigma.ndim == 1:
        return grad.index_add(-1, support, xi)
    return grad.reshape(*lead, -1).index_add(-1, support, xi).view(grad.shape)


def _check_nu(nu: Any) -> float:
    nu = _validate.positive("nu", nu)
    if nu <= 2:
        raise ValueError(f"nu must be > 2 so that the variance is finite (got {nu!r})")
    return nu


def student_t_gradient(
    grad: torch.Tensor, sigma: Any, nu: float, batch: int, generator: torch.Generator | None
) -> torch.Tensor:
    r"""Mean of B heavy-tailed stochastic gradients ∇f + σ·√((ν−2)/ν)·t_ν, t_ν Student-t.

    A Student-t variable has variance ν/(ν−2) for ν > 2, so the scaling makes each coordinate's
    variance exactly σ_i² while its tails decay only polynomially (moments of order ≥ ν are
    infinite).
    The t draws use numpy's generator seeded from ``generator``, so results stay reproducible.
    """
    nu = _check_nu(nu)
    batch = _validate.integer("batch", batch, low=1)
    return _student_t(grad, _sigma(sigma, grad), nu, batch, generator)


def _student_t(grad, sigma, nu, batch, generator):
    return _t_noise(grad, sigma * math.sqrt((nu - 2.0) / nu), nu, batch, generator)


def _t_noise(grad, scale, nu, batch, generator):
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    draws = np.random.default_rng(seed).standard_t(nu, size=(batch, *grad.shape))
    t_mean = torch.from_numpy(draws.mean(axis=0)).to(grad.dtype)
    return grad + t_mean * scale


def bimodal_gradient(
    grad: torch.Tensor,
    sigma: Any,
    batch: int,
    generator: torch.Generator | None,
    *,
    scale: float | None = None,
) -> torch.Tensor:
    r"""Mean of B draws of the bimodal oracle of the SignSGD lower bound (Tao, Yu & Zhang, Lemma 3).

    Each draw is 0 with probability q_i = σ_i²/(σ_i² + a_i²) and ∇_i f/(1 − q_i) otherwise, so it is
    unbiased with variance (∇_i f)²·q_i/(1 − q_i) = σ_i²·(∇_i f)²/a_i². The paper takes a = 2ε, the
    gradient size on its grid, where the variance is exactly σ²; ``scale=None`` takes a_i = |∇_i f|,
    which gives variance exactly σ_i² wherever ∇_i f ≠ 0 (and the exact gradient 0 where it is 0).
    A zero draw is what makes SignSGD stall, since sign(0) = 0. The mean of B draws is
    M·∇f/(B(1 − q)) with M ~ Binomial(B, 1 − q).
    """
    batch = _validate.integer("batch", batch, low=1)
    if scale is not None:
        scale = _validate.positive("scale", scale)
    return _bimodal(grad, _sigma(sigma, grad), batch, generator, scale)


def _bimodal(grad, sigma, batch, generator, scale):
    a2 = grad * grad if scale is None else torch.full_like(grad, scale**2)
    tiny = torch.finfo(grad.dtype).tiny
    keep = torch.where(a2 > 0, a2 / (sigma * sigma + a2).clamp_min(tiny), 1.0)
    moves = torch.binomial(torch.full_like(grad, float(batch)), keep, generator=generator)
    return grad * moves / (batch * keep)


@dataclass(frozen=True, eq=False)
class _Separable:
    sigma: Any

    def __post_init__(self) -> None:
        sigma = torch.as_tensor(self.sigma)
        sigma = sigma if sigma.is_floating_point() else sigma.double()
        _validate.nonnegative_array("sigma", sigma)
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "_cast", {})

    def _sigma_for(self, grad: torch.Tensor) -> torch.Tensor:
        sigma = self._cast.get(grad.dtype)
        if sigma is None:
            sigma = self._cast[grad.dtype] = self.sigma.to(grad.dtype)
        return _check_trailing(sigma, grad)

    @property
    def support(self) -> torch.Tensor:
        """Flat indices of the noisy coordinates (σ_i > 0)."""
        if "support" not in self._cast:
            self._cast["support"] = self.sigma.reshape(-1).nonzero().squeeze(1)
        return self._cast["support"]

    def _noisy_for(self, grad: torch.Tensor) -> torch.Tensor:
        key = ("noisy", grad.dtype)
        if key not in self._cast:
            self._cast[key] = self.sigma.reshape(-1)[self.support].to(grad.dtype)
        return self._cast[key]

    @property
    def density(self) -> float:
        """φ(σ) (see :func:`density`)."""
        return float(density(self.sigma.reshape(-1)))


class Gaussian(_Separable):
    """Additive Gaussian noise with per-coordinate standard deviations ``sigma``."""

    additive = True

    def gradient(self, grad: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        sigma = self._sigma_for(grad)
        return _gaussian(grad, sigma, batch, generator, self.support, self._noisy_for(grad))


@dataclass(frozen=True, eq=False)
class StudentT(_Separable):
    """Additive heavy-tailed noise: scaled Student-t with ``nu`` > 2 degrees of freedom, std σ."""

    nu: float = 3.0
    additive = True

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "nu", _check_nu(self.nu))

    def gradient(self, grad: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        return _student_t(grad, self._sigma_for(grad), self.nu, batch, generator)


@dataclass(frozen=True, eq=False)
class HeavyTailed(_Separable):
    r"""Additive noise σ_i·t_ν with Student-t draws, for any ν > 1: here σ is a *scale*, not a std.

    With 1 < ν ≤ 2 the noise has a mean (0, so gradients stay unbiased) but infinite variance:
    only moments of order p < ν exist, the heavy-tailed regime of Yu, Tao et al.
    (arXiv:2602.07425), where the variance-based bounds of the other chapters say nothing.
    """

    nu: float = 1.5
    additive = True

    def __post_init__(self) -> None:
        super().__post_init__()
        nu = _validate.positive("nu", self.nu)
        if nu <= 1:
            raise ValueError(f"nu must be > 1 so that the noise has a mean (got {self.nu!r})")
        object.__setattr__(self, "nu", nu)

    def gradient(self, grad: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        return _t_noise(grad, self._sigma_for(grad), self.nu, batch, generator)


@dataclass(frozen=True, eq=False)
class Bimodal(_Separable):
    """The lower bound's oracle: 0 or a rescaled gradient (see :func:`bimodal_gradient`)."""

    scale: float | None = None
    additive = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scale is not None:
            object.__setattr__(self, "scale", _validate.positive("scale", self.scale))

    def gradient(self, grad: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """The mean of ``batch`` oracle draws at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        return _bimodal(grad, self._sigma_for(grad), batch, generator, self.scale)


def estimate_sigma(samples: Any) -> Any:
    r"""Per-coordinate standard deviation of sampled gradients (unbiased variance, n − 1 divisor).

    ``samples`` has shape (n, d) or (n, \*shape): n stochastic gradients at the same point (numpy or
    torch; the result has the same type and shape ``shape``). σ̂_i = √(Σ_j (g_ji − ḡ_i)²/(n − 1)).
    This is how the paper measures noise along a training run (with n = 128 minibatch gradients).
    """
    is_torch = isinstance(samples, torch.Tensor)
    x = samples if is_torch else np.asarray(samples, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"samples must have shape (n, d) or (n, *shape) (got {tuple(x.shape)})")
    _validate.integer("samples.shape[0]", int(x.shape[0]), low=2)
    _validate.finite_array("samples", x)
    if is_torch:
        x = x if x.is_floating_point() else x.double()
        return x.std(dim=0, correction=1)
    return x.std(axis=0, ddof=1)


def estimate_density(samples: Any) -> float:
    r"""φ̂ = φ(σ̂) = ‖σ̂‖₁²/(D‖σ̂‖₂²) with σ̂ from :func:`estimate_sigma`, over all D coordinates.

    Every sample is flattened, so for a model's gradients the density is over all its parameters.
    """
    sigma = estimate_sigma(samples)
    flat = sigma.reshape(-1) if isinstance(sigma, torch.Tensor) else np.reshape(sigma, -1)
    return float(density(flat))
