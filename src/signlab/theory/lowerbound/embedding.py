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
SignSGD's lower bound. Arrays may carry leading batch dimensions (independent runs).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signlab import _validate


def random_orthogonal(m: Any, rng: np.random.Generator) -> np.ndarray:
    """A Haar-random m×m orthogonal matrix (QR of a Gaussian matrix, column signs fixed)."""
    m = _validate.integer("m", m, low=1)
    q, r = np.linalg.qr(rng.standard_normal((m, m)))
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


def coordinates(W: Any, Q: Any) -> np.ndarray:
    """z = diag(Q W Pᵀ): the vector coordinates hidden in W (shape (..., m, n) → (..., m))."""
    Q = _check_q(Q)
    W = np.asarray(W, dtype=float)
    m = len(Q)
    if W.ndim < 2 or W.shape[-2] != m or W.shape[-1] < m:
        raise ValueError(f"W must have shape (..., {m}, n) with n >= {m} (got {W.shape})")
    return np.einsum("ij,...ji->...i", Q, W[..., :, :m])


def embed(v: Any, Q: Any, n: Any) -> np.ndarray:
    """Qᵀ diag(v) P: a vector (point, gradient or noise draw) as an m×n matrix (batched over v)."""
    Q = _check_q(Q)
    v = np.asarray(v, dtype=float)
    m = len(Q)
    n = _validate.integer("n", n, low=m)
    if v.shape[-1] != m:
        raise ValueError(f"v must have {m} entries on its last axis (got shape {v.shape})")
    out = np.zeros((*v.shape[:-1], m, n))
    out[..., :, :m] = Q.T * v[..., None, :]
    return out


def noise_covariance(sigma: Any, Q: Any) -> np.ndarray:
    """Σ = Qᵀ diag(σ) Q, the matrix noise scale of the embedded oracle (‖Σ‖_* = ‖σ‖₁)."""
    Q = _check_q(Q)
    sigma = np.asarray(sigma, dtype=float)
    _validate.nonnegative_array("sigma", sigma)
    return Q.T @ np.diag(sigma) @ Q


class MuonEmbedding:
    """F(W) = f(diag(Q W Pᵀ)) for a separable vector ``problem`` with ``.value``, ``.grad``,
    ``.sample``.

    ``.value(W)``, ``.grad(W)`` and ``.sample(G, rng, batch)`` mirror the vector problem's, so the
    same simulation loop can drive SignSGD on the vector problem and Muon on its embedding.
    """

    def __init__(self, problem: Any, Q: Any, n: Any) -> None:
        self.problem = problem
        self.Q = _check_q(Q)
        self.m = len(self.Q)
        self.n = _validate.integer("n", n, low=self.m)

    def coordinates(self, W: Any) -> np.ndarray:
        """z = diag(Q W Pᵀ)."""
        return coordinates(W, self.Q)

    def point(self, z: Any) -> np.ndarray:
        """A W with coordinates z: Qᵀ diag(z) P."""
        return embed(z, self.Q, self.n)

    def value(self, W: Any) -> np.ndarray:
        """F(W) = f(z)."""
        return self.problem.value(self.coordinates(W))

    def grad(self, W: Any) -> np.ndarray:
        """∇F(W) = Qᵀ diag(∇f(z)) P."""
        return embed(self.problem.grad(self.coordinates(W)), self.Q, self.n)

    def sample(self, G: Any, rng: np.random.Generator, batch: int = 1) -> np.ndarray:
        """Qᵀ diag(g) P for a vector oracle draw g at the true gradient diag(Q G Pᵀ)."""
        return embed(self.problem.sample(self.coordinates(G), rng, batch), self.Q, self.n)
