r"""Stochastic-gradient oracles: separable noise with a vector σ, matrix noise with Σ, and estimators.

Tao, Yu & Zhang (arXiv:2605.06615) assume a minibatch of B unbiased stochastic gradients whose
coordinate i has variance at most σ_i². The *shape* of σ decides how much SignSGD gains over SGD,
through the noise density (:func:`signlab.geometry.density`)

.. math:: \varphi(\sigma) = \frac{\|\sigma\|_1^2}{d\,\|\sigma\|_2^2} \in [1/d, 1]:

φ = 1 for dense noise (all σ_i equal), φ = k/d for k equally noisy coordinates.

Every oracle has one sampling signature, the one the engine (:mod:`signlab.sim.engine`) calls:

    ``oracle.sample(grad, batch=1, generator=None, *, x=None)``

returns the mean of ``batch`` stochastic gradients at a point whose true gradient is ``grad``
(shape (\*runs, \*shape): leading dims are independent runs); ``x`` is the point itself, for the
oracles whose noise depends on it (the zero chain's). :class:`Gaussian`, :class:`StudentT` and
:class:`MatrixGaussian` are *additive*: their draws do not depend on x or ∇f, so two methods run with
the same seed see the same noise (common random numbers). :class:`Bimodal` is the lower bound's
oracle. :class:`TwoPoint` is additive, unbiased and *skewed*: its median is not its mean, which is
what breaks SignSGD at batch one. :func:`estimate_sigma` and :func:`estimate_density` measure σ and φ
from sampled gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.geometry import density

__all__ = [
    "Bimodal",
    "Gaussian",
    "MatrixGaussian",
    "Oracle",
    "SeparableNoise",
    "StudentT",
    "TwoPoint",
    "dense_sigma",
    "estimate_density",
    "estimate_sigma",
    "low_rank_sigma",
    "matrix_density",
    "sparse_sigma",
    "student_t",
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


def student_t(
    shape: tuple[int, ...], nu: float, generator: torch.Generator | int | None = None
) -> torch.Tensor:
    r"""Standard Student-t draws with ``nu`` > 0 degrees of freedom (float64), reproducibly.

    Moments of order p exist exactly for p < ν: with 1 < ν ≤ 2 the draws have a mean but no
    variance (heavy-tailed noise of the kind Yu, Tao et al., arXiv:2602.07425, study: their abstract);
    for ν > 2 the variance is ν/(ν − 2).
    ``generator`` is a torch generator or an int seed; the draws come from numpy's t sampler seeded
    from it (torch has no seeded t sampler), so a seed gives the same draws on every platform.
    """
    nu = _validate.positive("nu", nu)
    if isinstance(generator, int):  # a bool too: _validate.integer refuses it (ValueError)
        seed = _validate.integer("seed", generator, low=0)
    else:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.from_numpy(np.random.default_rng(seed).standard_t(nu, size=shape))


class Oracle:
    """Base of every stochastic-gradient oracle: ``sample`` is the mean of ``batch`` draws.

    ``additive`` is True when the noise does not depend on the point or its gradient, so runs
    with the same generator see the same draws (common random numbers).
    """

    additive = False

    def sample(
        self,
        grad: torch.Tensor,
        batch: int = 1,
        generator: torch.Generator | None = None,
        *,
        x: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class SeparableNoise(Oracle):
    """Noise with one scale σ_i per coordinate (``sigma`` has the trailing shape of the point).

    Subclasses draw only the coordinates with σ_i > 0 (:attr:`support`), so sparse noise costs
    O(k) per step, not O(d).
    """

    sigma: Any
    _cache: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        sigma = torch.as_tensor(self.sigma)
        sigma = sigma if sigma.is_floating_point() else sigma.double()
        _validate.nonnegative_array("sigma", sigma)
        object.__setattr__(self, "sigma", sigma)

    def _cached(self, key: Any, make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _sigma_for(self, grad: torch.Tensor) -> torch.Tensor:
        sigma = self._cached(("sigma", grad.dtype), lambda: self.sigma.to(grad.dtype))
        trailing = tuple(grad.shape[grad.ndim - sigma.ndim :])
        if sigma.ndim > grad.ndim or tuple(sigma.shape) != trailing:
            raise ValueError(
                f"sigma must have the trailing shape of grad (got {tuple(sigma.shape)} "
                f"for grad of shape {tuple(grad.shape)})"
            )
        return sigma

    @property
    def support(self) -> torch.Tensor:
        """Flat indices of the noisy coordinates (σ_i > 0)."""
        return self._cached("support", lambda: self.sigma.reshape(-1).nonzero().squeeze(1))

    @property
    def density(self) -> float:
        """φ(σ) (see :func:`signlab.geometry.density`)."""
        return float(density(self.sigma.reshape(-1)))

    def _add_on_support(self, grad: torch.Tensor, draw: Any) -> torch.Tensor:
        """grad + σ ⊙ ξ where ξ = ``draw(shape)`` is drawn for the noisy coordinates only."""
        sigma = self._sigma_for(grad)
        noisy = self._cached(
            ("noisy", grad.dtype), lambda: self.sigma.reshape(-1)[self.support].to(grad.dtype)
        )
        lead = grad.shape[: grad.ndim - sigma.ndim]
        support = self.support
        xi = draw((*lead, support.numel())).to(grad.dtype) * noisy
        if support.numel() == sigma.numel():
            return grad + xi.view(grad.shape)
        return grad.reshape(*lead, -1).index_add(-1, support, xi).view(grad.shape)


class Gaussian(SeparableNoise):
    r"""Additive Gaussian noise: g = ∇f + (σ/√B)·ξ, ξ ~ N(0, I), the exact mean of B draws."""

    additive = True

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        scale = 1.0 if batch == 1 else 1.0 / math.sqrt(batch)

        def draw(shape):
            xi = torch.randn(shape, generator=generator, dtype=grad.dtype)
            return xi if batch == 1 else xi * scale

        return self._add_on_support(grad, draw)


@dataclass(frozen=True, eq=False)
class StudentT(SeparableNoise):
    r"""Additive heavy-tailed noise σ_i·t_ν with ν > 1: here σ is a *scale*, not a standard deviation.

    With 1 < ν ≤ 2 the noise has a mean (0, so gradients stay unbiased) but infinite variance (only
    moments of order p < ν exist), heavy-tailed noise of the kind Yu, Tao et al. (arXiv:2602.07425,
    abstract) study, where the variance-based bounds of the other chapters say nothing. For ν > 2,
    :meth:`with_std` gives the noise whose standard deviation is exactly σ_i. The mean of B draws
    is drawn as B draws averaged (a t law is not closed under averaging).
    """

    nu: float = 3.0
    additive = True

    def __post_init__(self) -> None:
        super().__post_init__()
        nu = _validate.positive("nu", self.nu)
        if nu <= 1:
            raise ValueError(f"nu must be > 1 so that the noise has a mean (got {self.nu!r})")
        object.__setattr__(self, "nu", nu)

    @classmethod
    def with_std(cls, sigma: Any, nu: float) -> StudentT:
        r"""Student-t noise with standard deviation σ_i per coordinate: scale σ·√((ν − 2)/ν), ν > 2."""
        nu = _validate.positive("nu", nu)
        if nu <= 2:
            raise ValueError(f"nu must be > 2 so that the variance is finite (got {nu!r})")
        sigma = torch.as_tensor(sigma)
        return cls(sigma * math.sqrt((nu - 2.0) / nu), nu=nu)

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        return self._add_on_support(
            grad, lambda shape: student_t((batch, *shape), self.nu, generator).mean(dim=0)
        )


@dataclass(frozen=True, eq=False)
class Bimodal(SeparableNoise):
    r"""The lower bound's oracle (Tao, Yu & Zhang, Lemma 3): 0, or the gradient scaled up.

    Each draw is 0 with probability q_i = σ_i²/(σ_i² + a_i²) and ∇_i f/(1 − q_i) otherwise, so it is
    unbiased with variance (∇_i f)² q_i/(1 − q_i) = σ_i²(∇_i f)²/a_i²: exactly σ_i² where
    |∇_i f| = a_i. The paper takes a = 2ε, the slope of its hard instance on the grid (``scale``,
    a number or one value per coordinate); ``scale=None`` takes a_i = |∇_i f| at every point, so the
    variance is σ_i² wherever ∇_i f ≠ 0 (and the exact gradient 0 where it is 0). A zero draw is
    what makes SignSGD stall, since sign(0) = 0. The mean of B draws is K·∇f/(B(1 − q)) with
    K ~ Binomial(B, 1 − q): zero only when all B draws are.
    """

    scale: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.scale is not None:
            scale = torch.as_tensor(self.scale, dtype=self.sigma.dtype)
            _validate.finite_array("scale", scale)
            if bool((scale <= 0).any()):
                raise ValueError(f"scale must be > 0 (got {self.scale!r})")
            object.__setattr__(self, "scale", scale)

    @property
    def zero_probability(self) -> torch.Tensor:
        """q = σ²/(σ² + a²), the probability that one draw is zero (needs a fixed ``scale``)."""
        if self.scale is None:
            raise ValueError("zero_probability needs a fixed scale (got scale=None)")
        return self.sigma**2 / (self.sigma**2 + self.scale**2)

    def variance(self, grad: Any) -> torch.Tensor:
        """Variance of one draw at true gradient ``grad``: σ²·grad²/a² (σ² where |grad| = a)."""
        grad = torch.as_tensor(grad, dtype=self.sigma.dtype)
        a2 = grad * grad if self.scale is None else self.scale**2
        return torch.where(a2 > 0, self.sigma**2 * grad * grad / a2, torch.zeros_like(grad))

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """The mean of ``batch`` oracle draws at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        sigma = self._sigma_for(grad)
        a2 = grad * grad if self.scale is None else (self.scale.to(grad.dtype) ** 2).expand_as(grad)
        tiny = torch.finfo(grad.dtype).tiny
        keep = torch.where(a2 > 0, a2 / (sigma * sigma + a2).clamp_min(tiny), 1.0)
        moves = torch.binomial(torch.full_like(grad, float(batch)), keep, generator=generator)
        return grad * moves / (batch * keep)


@dataclass(frozen=True, eq=False)
class TwoPoint(SeparableNoise):
    r"""Skewed two-point noise: ξ_i = +a_i with probability p, −c_i otherwise, zero mean.

    With a_i = σ_i√((1 − p)/p) and c_i = σ_i√(p/(1 − p)) = a_i·p/(1 − p), each draw has mean 0 and
    variance exactly σ_i² (``sigma``, a standard deviation; 0 leaves a coordinate exact). For p < ½ the
    rare jump is up and the common value is down, so the *median* of g_i = ∂_i f + ξ_i is ∂_i f − c_i,
    not ∂_i f: SignSGD with batch one follows the sign of the median and settles where ∂_i f = c_i
    (the bias of the sign that Karimireddy et al. 2019 name as the cause of signSGD's
    non-convergence; the success probability P(sign g_i = sign ∂_i f) of Safaryan & Richtárik
    2021 is p < ½ on (0, c_i)).
    The mean of B draws is exact and costs O(k) per step whatever B: with K ~ Binomial(B, p) jumps
    it is σ·(K/B − p)/√(p(1 − p)).
    """

    p: float = 0.1
    additive = True

    def __post_init__(self) -> None:
        super().__post_init__()
        p = _validate.positive("p", self.p)
        if p >= 1:
            raise ValueError(f"p must lie in (0, 1) (got {self.p!r})")
        object.__setattr__(self, "p", p)

    @property
    def jump(self) -> torch.Tensor:
        """a = σ√((1 − p)/p), the value taken with probability p."""
        return self.sigma * math.sqrt((1.0 - self.p) / self.p)

    @property
    def drop(self) -> torch.Tensor:
        """c = σ√(p/(1 − p)): −c is taken with probability 1 − p (the median when p < ½)."""
        return self.sigma * math.sqrt(self.p / (1.0 - self.p))

    def _batch_mean(self, jumps: torch.Tensor, batch: int) -> torch.Tensor:
        """(K/B − p)/√(p(1 − p)): the standardised mean of B draws with K jumps."""
        return (jumps / batch - self.p) / math.sqrt(self.p * (1.0 - self.p))

    def expected_sign(self, grad: Any, batch: int = 1) -> torch.Tensor:
        r"""E[sign(∂_i f + ξ̄_B)] exactly, for true gradient ``grad`` and the mean of ``batch`` draws.

        The sum over K = 0 … B of P(K) · sign(∂_i f + σ_i(K/B − p)/√(p(1 − p))) with
        K ~ Binomial(B, p). For B = 1 it is p·sign(∂f + a) + (1 − p)·sign(∂f − c), which is
        2p − 1 < 0 for every ∂f in (0, c) when p < ½: the sign points the wrong way on average.
        """
        batch = _validate.integer("batch", batch, low=1)
        grad = torch.as_tensor(grad, dtype=self.sigma.dtype)
        sigma = self._sigma_for(grad)
        k = torch.arange(batch + 1, dtype=grad.dtype)
        pmf = torch.distributions.Binomial(batch, probs=torch.tensor(self.p, dtype=grad.dtype))
        weights = pmf.log_prob(k).exp()
        values = self._batch_mean(k, batch)
        shifted = grad.unsqueeze(-1) + sigma.unsqueeze(-1) * values
        return (torch.sign(shifted) * weights).sum(dim=-1)

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """The mean of ``batch`` stochastic gradients at a point with true gradient ``grad``."""
        batch = _validate.integer("batch", batch, low=1)
        up, down = math.sqrt((1.0 - self.p) / self.p), -math.sqrt(self.p / (1.0 - self.p))

        def draw(shape):
            if batch == 1:  # one Bernoulli draw: cheaper than a binomial
                jump = torch.rand(shape, generator=generator, dtype=grad.dtype) < self.p
                return torch.where(jump, up, down).to(grad.dtype)
            count = torch.full(shape, float(batch), dtype=grad.dtype)
            jumps = torch.binomial(count, torch.full_like(count, self.p), generator=generator)
            return self._batch_mean(jumps, batch)

        return self._add_on_support(grad, draw)


def low_rank_sigma(
    m: int, rank: int, frobenius: float = 1.0, *, seed: int = 0, dtype=torch.float64
) -> torch.Tensor:
    """Σ = s·UUᵀ with U an m×rank random orthonormal basis and s = frobenius/√rank.

    So ‖Σ‖_F = ``frobenius`` for every rank, while ‖Σ‖_* = √rank·frobenius grows with the rank: a
    low-rank Σ plays the part of sparse noise for matrices.
    """
    m = _validate.integer("m", m, low=1)
    rank = _validate.integer("rank", rank, low=1, high=m)
    frobenius = _validate.nonnegative("frobenius", frobenius)
    seed = _validate.integer("seed", seed, low=0)
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, rank, generator=gen, dtype=dtype))
    return (frobenius / math.sqrt(rank)) * (U @ U.mT)


def _sigma_matrix(Sigma: Any) -> torch.Tensor:
    Sigma = torch.as_tensor(Sigma)
    Sigma = Sigma if Sigma.is_floating_point() else Sigma.double()
    _validate.psd_matrix("Sigma", Sigma)
    return Sigma


def matrix_density(Sigma: Any) -> float:
    r"""φ(Σ) = ‖Σ‖_*²/(m‖Σ‖_F²) ∈ [1/m, 1] (0 for Σ = 0): r/m for rank r with equal eigenvalues.

    Our analogue of the vector φ(σ) for the matrix noise of Tao, Yu & Zhang's Section 5 (Muon's
    rate sees ‖Σ‖_*, SGD's sees E‖N‖_F² = ‖Σ‖_F²); it equals φ(σ) for Σ = Qᵀdiag(σ)Q.
    """
    Sigma = _sigma_matrix(Sigma).double()
    fro2 = float((Sigma**2).sum())
    if fro2 == 0:
        return 0.0
    return float(torch.linalg.matrix_norm(Sigma, ord="nuc")) ** 2 / (len(Sigma) * fro2)


@dataclass(frozen=True, eq=False)
class MatrixGaussian(Oracle):
    """Additive matrix noise N = ΣZ, Z with i.i.d. N(0, 1/n) entries, so E[NNᵀ] = Σ² (m×n points).

    Σ is m×m symmetric positive semidefinite (Tao, Yu & Zhang, Section 5: E[NNᵀ] ⪯ Σ²).
    """

    Sigma: Any
    additive = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "Sigma", _sigma_matrix(self.Sigma))

    @property
    def density(self) -> float:
        """φ(Σ) (see :func:`matrix_density`)."""
        return matrix_density(self.Sigma)

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """grad + ΣZ/√B with Z_ij ~ N(0, 1/n): the mean of ``batch`` noisy gradients."""
        batch = _validate.integer("batch", batch, low=1)
        m, n = grad.shape[-2:]
        if m != len(self.Sigma):
            raise ValueError(f"grad must have {len(self.Sigma)} rows (got shape {grad.shape})")
        Z = torch.randn(grad.shape, generator=generator, dtype=grad.dtype)
        return grad + (self.Sigma.to(grad.dtype) @ Z) / math.sqrt(n * batch)


def estimate_sigma(samples: Any) -> Any:
    r"""Per-coordinate standard deviation of sampled gradients (unbiased variance, n − 1 divisor).

    ``samples`` has shape (n, d) or (n, \*shape): n stochastic gradients at the same point (numpy or
    torch; the result has the same type and shape ``shape``). σ̂_i = √(Σ_j (g_ji − ḡ_i)²/(n − 1)).
    This is how the paper measures noise along a training run (with n = 128 minibatch gradients).
    """
    is_torch = isinstance(samples, torch.Tensor)
    x: Any = samples if is_torch else np.asarray(samples, dtype=float)  # a tensor or an array
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
    (φ is scale-invariant, so the n − 1 or n divisor of σ̂ does not change φ̂.)
    """
    sigma = estimate_sigma(samples)
    flat = sigma.reshape(-1) if isinstance(sigma, torch.Tensor) else np.reshape(sigma, -1)
    return float(density(flat))
