r"""The Muon embedding: a separable vector problem hidden on the diagonal of a rotated matrix.

Theorem 5 of :cite:`tao2026signsgd`. For m ≤ n, :math:`P = [I_m, 0] \in \mathbb R^{m\times n}` and
an orthogonal :math:`Q \in \mathbb R^{m\times m}`, set
:math:`F(W) = \sum_i f_i\big((QWP^\top)_{ii}\big)`. With :math:`z = \mathrm{diag}(QWP^\top)`,

.. math:: \nabla F(W) = Q^\top \mathrm{diag}(\nabla f(z))\,P,

and a vector oracle draw g becomes :math:`G = Q^\top\mathrm{diag}(g)P`, with noise covariance
:math:`\Sigma = Q^\top\mathrm{diag}(\sigma)Q`. Because Q is orthogonal and P has orthonormal rows,
:math:`\mathrm{msign}(Q^\top\mathrm{diag}(g)P) = Q^\top\mathrm{diag}(\mathrm{sign}\,g)P`: a Muon
step moves z exactly as a SignSGD step moves x, and :math:`L_\star = L_\infty`,
:math:`\|\Sigma\|_* = \|\sigma\|_1`, :math:`\|\nabla F\|_* = \|\nabla f\|_1`. So Muon inherits
SignSGD's lower bound. Arrays may carry leading batch dimensions (independent runs); numpy in gives
numpy out, torch in gives torch out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._arrays import is_torch, numpy_or_torch, to_tensor
from signlab.sim.noise import Oracle


def random_orthogonal(m: Any, seed: int = 0) -> np.ndarray:
    """A Haar-random m×m orthogonal matrix (QR of a Gaussian matrix, column signs fixed)."""
    m = _validate.integer("m", m, low=1)
    seed = _validate.integer("seed", seed, low=0)
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((m, m)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def selector(m: Any, n: Any) -> np.ndarray:
    """P = [I_m, 0], the m×n matrix with orthonormal rows picking the first m columns."""
    m = _validate.integer("m", m, low=1)
    n = _validate.integer("n", n, low=m)
    return np.eye(m, n)


def _check_q(Q: Any) -> np.ndarray:
    Q = np.asarray(Q, dtype=float)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise ValueError(f"Q must be a square matrix (got shape {Q.shape})")
    _validate.finite_array("Q", Q)
    if not np.allclose(Q @ Q.T, np.eye(len(Q)), atol=1e-8):
        raise ValueError("Q must be orthogonal (Q Qᵀ = I)")
    return Q


def _coordinates(W: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    m = len(Q)
    if W.ndim < 2 or W.shape[-2] != m or W.shape[-1] < m:
        raise ValueError(f"W must have shape (..., {m}, n) with n >= {m} (got {tuple(W.shape)})")
    return torch.einsum("ij,...ji->...i", Q.to(W.dtype), W[..., :, :m])


def _embed(v: torch.Tensor, Q: torch.Tensor, n: int) -> torch.Tensor:
    m = len(Q)
    if v.shape[-1] != m:
        raise ValueError(f"v must have {m} entries on its last axis (got shape {tuple(v.shape)})")
    out = torch.zeros((*v.shape[:-1], m, n), dtype=v.dtype)
    out[..., :, :m] = Q.T.to(v.dtype) * v[..., None, :]
    return out


def coordinates(W: Any, Q: Any) -> Any:
    """z = diag(Q W Pᵀ): the vector coordinates hidden in W (shape (..., m, n) → (..., m))."""
    out = _coordinates(to_tensor(W), torch.from_numpy(_check_q(Q)))
    return out if is_torch(W) else out.numpy()


def embed(v: Any, Q: Any, n: Any) -> Any:
    """Qᵀ diag(v) P: a vector (point, gradient or noise draw) as an m×n matrix (batched over v)."""
    Q = _check_q(Q)
    n = _validate.integer("n", n, low=len(Q))
    out = _embed(to_tensor(v), torch.from_numpy(Q), n)
    return out if is_torch(v) else out.numpy()


def noise_covariance(sigma: Any, Q: Any) -> np.ndarray:
    """Σ = Qᵀ diag(σ) Q, the matrix noise scale of the embedded oracle (‖Σ‖_* = ‖σ‖₁)."""
    Q = _check_q(Q)
    sigma = np.asarray(sigma, dtype=float)
    _validate.nonnegative_array("sigma", sigma)
    return Q.T @ np.diag(sigma) @ Q


class MuonEmbedding:
    """F(W) = f(diag(Q W Pᵀ)) for a separable vector ``problem`` (``shape``, ``value``,
    ``gradient``), a problem of the engine on m×n matrices; ``embedded(oracle)`` is the matrix
    oracle Qᵀ diag(g) P of a vector oracle, so the same engine runs SignSGD on the vector problem
    and Muon on its embedding.
    """

    def __init__(self, problem: Any, Q: Any, n: Any) -> None:
        self.problem = problem
        self.Q = _check_q(Q)
        self.m = len(self.Q)
        self.n = _validate.integer("n", n, low=self.m)
        if tuple(problem.shape) != (self.m,):
            raise ValueError(f"problem must have shape ({self.m},) (got {tuple(problem.shape)})")
        self._Q = torch.from_numpy(self.Q)

    @property
    def shape(self) -> tuple[int, int]:
        """(m, n): one point W."""
        return (self.m, self.n)

    @numpy_or_torch
    def coordinates(self, W):
        """z = diag(Q W Pᵀ)."""
        return _coordinates(W, self._Q)

    @numpy_or_torch
    def point(self, z):
        """A W with coordinates z: Qᵀ diag(z) P."""
        return _embed(z, self._Q, self.n)

    @numpy_or_torch
    def value(self, W):
        """F(W) = f(z)."""
        return self.problem.value(_coordinates(W, self._Q))

    @numpy_or_torch
    def gradient(self, W):
        """∇F(W) = Qᵀ diag(∇f(z)) P."""
        return _embed(self.problem.gradient(_coordinates(W, self._Q)), self._Q, self.n)

    def embedded(self, oracle: Any) -> EmbeddedOracle:
        """The matrix oracle G = Qᵀ diag(g) P of the vector ``oracle``."""
        return EmbeddedOracle(oracle, self)


class EmbeddedOracle(Oracle):
    """A vector oracle seen through a :class:`MuonEmbedding`: a draw g at the true gradient
    diag(Q G Pᵀ) becomes Qᵀ diag(g) P, with the same random numbers as the vector oracle."""

    def __init__(self, oracle: Any, embedding: MuonEmbedding) -> None:
        self.oracle, self.embedding = oracle, embedding
        self.additive = getattr(oracle, "additive", False)

    def sample(self, grad, batch=1, generator=None, *, x=None):
        """Qᵀ diag(g) P for a vector oracle draw g."""
        e = self.embedding
        z = None if x is None else _coordinates(x, e._Q)
        g = self.oracle.sample(_coordinates(grad, e._Q), batch, generator, x=z)
        return _embed(g, e._Q, e.n)
