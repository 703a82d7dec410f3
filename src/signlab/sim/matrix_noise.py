r"""Matrix problems for Muon: noise with a matrix scale Σ, and Muon runs on the lower-bound embedding.

Tao, Yu & Zhang (arXiv:2605.06615, Section 5) describe matrix gradient noise N by a positive
semidefinite m×m matrix Σ with E[NNᵀ] ⪯ Σ²; Muon's rate sees its nuclear norm ‖Σ‖_*, SGD's sees
E‖N‖_F² = tr Σ² = ‖Σ‖_F². A low-rank Σ plays the part of sparse noise: at equal ‖Σ‖_F, rank r gives
‖Σ‖_* = √r‖Σ‖_F. We call

.. math:: \varphi(\Sigma) = \frac{\|\Sigma\|_*^2}{m\,\|\Sigma\|_F^2} \in [1/m, 1]

the *matrix noise density* (our analogue of the vector φ(σ); it is r/m for r equal eigenvalues and
equals φ(σ) for the embedded Σ = Qᵀdiag(σ)Q).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.optim import functional as F


def low_rank_sigma(
    m: int, rank: int, frobenius: float = 1.0, *, seed: int = 0, dtype=torch.float64
) -> torch.Tensor:
    """Σ = s·UUᵀ with U an m×rank random orthonormal basis and s = frobenius/√rank.

    So ‖Σ‖_F = ``frobenius`` for every rank, while ‖Σ‖_* = √rank·frobenius grows with the rank.
    """
    m = _validate.integer("m", m, low=1)
    rank = _validate.integer("rank", rank, low=1, high=m)
    frobenius = _validate.nonnegative("frobenius", frobenius)
    seed = _validate.integer("seed", seed, low=0)
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(m, rank, generator=gen, dtype=dtype))
    return (frobenius / math.sqrt(rank)) * (U @ U.mT)


def _check_sigma(Sigma: Any) -> torch.Tensor:
    Sigma = torch.as_tensor(Sigma)
    Sigma = Sigma if Sigma.is_floating_point() else Sigma.double()
    if Sigma.ndim != 2 or Sigma.shape[0] != Sigma.shape[1]:
        raise ValueError(f"Sigma must be a square matrix (got shape {tuple(Sigma.shape)})")
    _validate.finite_array("Sigma", Sigma)
    if not torch.allclose(Sigma, Sigma.mT, atol=1e-8 * (1 + float(Sigma.abs().max()))):
        raise ValueError("Sigma must be symmetric positive semidefinite (it is not symmetric)")
    if float(torch.linalg.eigvalsh(Sigma.double()).min()) < -1e-8 * (1 + float(Sigma.abs().max())):
        raise ValueError("Sigma must be symmetric positive semidefinite (negative eigenvalue)")
    return Sigma


def matrix_density(Sigma: Any) -> float:
    """φ(Σ) = ‖Σ‖_*² / (m‖Σ‖_F²) ∈ [1/m, 1] (0 for Σ = 0): r/m for rank r, equal eigenvalues."""
    Sigma = _check_sigma(Sigma).double()
    fro2 = float((Sigma**2).sum())
    if fro2 == 0:
        return 0.0
    return float(torch.linalg.matrix_norm(Sigma, ord="nuc")) ** 2 / (len(Sigma) * fro2)


@dataclass(frozen=True, eq=False)
class MatrixGaussian:
    """Additive matrix noise N = ΣZ, Z with i.i.d. N(0, 1/n) entries, so E[NNᵀ] = Σ².

    ``.gradient(grad, batch, generator)`` is the mean of ``batch`` such stochastic gradients at a
    point with true gradient ``grad`` of shape (..., m, n): grad + ΣZ/√B. It is the simulator's
    noise interface (:func:`signlab.sim.engine.simulate`).
    """

    Sigma: Any
    additive = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "Sigma", _check_sigma(self.Sigma))

    @property
    def density(self) -> float:
        """φ(Σ) (see :func:`matrix_density`)."""
        return matrix_density(self.Sigma)

    def gradient(self, grad: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """grad + ΣZ/√B with Z_ij ~ N(0, 1/n): the mean of ``batch`` noisy gradients."""
        batch = _validate.integer("batch", batch, low=1)
        m, n = grad.shape[-2:]
        if m != len(self.Sigma):
            raise ValueError(f"grad must have {len(self.Sigma)} rows (got shape {grad.shape})")
        Z = torch.randn(grad.shape, generator=generator, dtype=grad.dtype)
        return grad + (self.Sigma.to(grad.dtype) @ Z) / math.sqrt(n * batch)


def register_muon() -> None:
    """Register Muon with the simulator (as ``"muon"``) if it is not registered yet.

    Defaults are those of the theory: exact msign (``method="svd"``), no momentum and no shape
    scaling, so one step is W ← W − lr·msign(G) (pass momentum, method, ... to override).
    """
    from signlab.sim.engine import METHODS, register_method

    if "muon" not in METHODS:
        register_method(
            "muon",
            lambda p, g, s, h, dims: F.muon(p, g, s, check_finite=False, **h),
            momentum=0.0,
            nesterov=False,
            method="svd",
            adjust_lr="none",
        )


def run_muon(
    problem: Any,
    oracle: Any,
    W0: Any,
    *,
    lr: Any,
    steps: Any,
    rng: np.random.Generator,
    batch: Any = 1,
    momentum: Any = 0.0,
    method: str = "svd",
) -> np.ndarray:
    r"""Iterates :math:`W_0, …, W_T` of Muon, :math:`W_{t+1} = W_t - \eta\,\mathrm{msign}(G_t)`.

    The matrix twin of :func:`signlab.theory.lowerbound.run_signsgd`: ``problem.grad(W)`` is the true
    gradient and ``oracle.sample(grad, rng, batch)`` a noisy one (a
    :class:`signlab.theory.lowerbound.MuonEmbedding` is both); ``W0`` has shape (..., m, n) with leading
    independent runs. The step is :func:`signlab.optim.functional.muon` without shape scaling
    (and, by default, without momentum and with exact msign). Returns shape (steps + 1, *W0.shape).
    """
    lr = _validate.positive("lr", lr)
    steps = _validate.integer("steps", steps, low=1)
    batch = _validate.integer("batch", batch, low=1)
    W = torch.as_tensor(np.array(W0, dtype=float))
    _validate.finite_array("W0", W)
    if W.ndim < 2:
        raise ValueError(f"W0 must have shape (..., m, n) (got {tuple(W.shape)})")
    out = np.empty((steps + 1, *W.shape))
    out[0] = W.numpy()
    buf = None
    for t in range(steps):
        G = torch.from_numpy(np.asarray(oracle.sample(problem.grad(out[t]), rng, batch)))
        W, buf = F.muon(
            W,
            G,
            buf,
            lr=lr,
            momentum=momentum,
            nesterov=False,
            method=method,
            adjust_lr="none",
            check_finite=False,
        )
        out[t + 1] = W.numpy()
    return out
