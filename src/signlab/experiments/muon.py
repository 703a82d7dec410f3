r"""The Muon chapter's runs: Newton–Schulz step by step, msign's cost per method, the low-rank
race of SGD, Muon and SignSGD with matrix noise of a chosen rank, the embedding identity of the lower
bound on random instances, and a few steps of :class:`~signlab.optim.MuonWithAdamW` on a tiny model.

For vectors, sparse noise is what SignSGD exploits; for matrices the role of sparsity is played by
rank (Tao, Yu & Zhang, arXiv:2605.06615, Section 5: Muon's rate sees ‖Σ‖_*, SGD's ‖Σ‖_F). At a fixed
‖Σ‖_F a rank-r Σ has ‖Σ‖_* = √r‖Σ‖_F, so the race below changes only the rank.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import torch

from signlab import _validate
from signlab.experiments.common import race
from signlab.geometry.matrix import msign, newton_schulz, spectral_norm
from signlab.sim.engine import Trajectory
from signlab.sim.noise import MatrixGaussian, low_rank_sigma
from signlab.sim.problems import SeparableQuadratic
from signlab.theory import lowerbound as lb

__all__ = [
    "LOW_RANK_LRS",
    "TinyLM",
    "low_rank_floors",
    "low_rank_problem",
    "low_rank_race",
    "msign_embedding_error",
    "msign_times",
    "newton_schulz_trace",
    "train_tiny_lm",
]

LOW_RANK_LRS = (("sgd", 1e-2), ("muon", 1e-2), ("signsgd", 3e-3))
"""Fixed step sizes of the race (hand-picked, the chapter says so)."""


def low_rank_problem(m: int = 8, stiff: float = 100.0) -> SeparableQuadratic:
    r"""F(W) = ½ tr(WᵀDW) on m×m matrices, D = diag(``stiff``, 1, …, 1), stored as the separable
    quadratic with curvature D_ii on every entry of row i.

    It is smooth in the spectral norm with L_* = tr D (tr(VᵀDV) ≤ ‖V‖_op² tr D), while SGD's
    Frobenius constant is λ_max(D) = ``stiff``: the matrix version of the paper's ill-conditioned toy.
    """
    m = _validate.integer("m", m, low=2)
    H = torch.ones(m, m, dtype=torch.float64)
    H[0] = _validate.positive("stiff", stiff)
    return SeparableQuadratic(H)


@functools.lru_cache(maxsize=16)
def low_rank_race(
    rank: int,
    *,
    m: int = 8,
    frobenius: float = 3.0,
    steps: int = 600,
    every: int = 10,
    seeds: int = 10,
    seed: int = 1,
    lrs: tuple[tuple[str, float], ...] = LOW_RANK_LRS,
) -> dict[str, Trajectory]:
    r"""Each method of ``lrs`` on :func:`low_rank_problem` with noise ΣZ, Σ of rank ``rank`` and
    ‖Σ‖_F = ``frobenius``, from the same random start (its first row divided by the stiffness),
    recording ‖∇F‖_* every ``every`` steps. Cached, since a widget asks for the same rank again.
    """
    problem = low_rank_problem(m)
    oracle = MatrixGaussian(low_rank_sigma(m, rank, frobenius))
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    W0 = torch.randn(seeds, m, m, generator=generator, dtype=torch.float64)
    W0[:, 0] /= float(problem.L[0, 0])
    return race(
        problem, oracle, W0, dict(lrs), steps=steps, seed=seed, record=("grad_nuc",), every=every
    )


def newton_schulz_trace(
    G: torch.Tensor, coefficients: str | tuple = "quintic", steps: int = 15
) -> dict[str, list]:
    r"""What k = 0 … ``steps`` Newton–Schulz steps do to G: the singular values of NS_k(G) and the
    spectral-norm error ‖NS_k(G) − UVᵀ‖_op against the exact polar factor (the chapter's figure).

    Returns ``{"singular_values": [array per k], "error": [float per k]}``.
    """
    steps = _validate.integer("steps", steps, low=0)
    exact = msign(G, method="svd")
    out: dict[str, list] = {"singular_values": [], "error": []}
    for k in range(steps + 1):
        X = newton_schulz(G, k, coefficients)
        out["singular_values"].append(torch.linalg.svdvals(X).numpy())
        out["error"].append(float(spectral_norm(X - exact)))
    return out


def msign_times(
    sizes: tuple[int, ...] = (16, 32, 64, 128),
    methods: tuple[str, ...] = ("svd", "newton_schulz", "newton_schulz_eigh"),
    *,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, dict[int, float]]:
    r"""Median wall time (seconds, of ``repeats`` calls after one warm-up) of ``msign`` on an m × 2m
    float32 Gaussian matrix, per method and m: measured on the machine that runs it."""
    repeats = _validate.integer("repeats", repeats, low=1)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    times: dict[str, dict[int, float]] = {method: {} for method in methods}
    for size in sizes:
        M = torch.randn(size, 2 * size, generator=generator)
        for method in methods:
            msign(M, method=method)
            samples = []
            for _ in range(repeats):
                start = time.perf_counter()
                msign(M, method=method)
                samples.append(time.perf_counter() - start)
            times[method][size] = float(np.median(samples))
    return times


def low_rank_floors(
    ranks: tuple[int, ...] = (1, 2, 4, 8), *, last: int = 10
) -> dict[str, list[float]]:
    r"""Per method, the noise floor of :func:`low_rank_race` at each rank: the mean of ‖∇F‖_* over
    the ``last`` recorded points (the last 100 steps with the defaults)."""
    last = _validate.integer("last", last, low=1)
    floors: dict[str, list[float]] = {}
    for rank in ranks:
        for method, run in low_rank_race(rank).items():
            floors.setdefault(method, []).append(float(run["grad_nuc"].mean(axis=0)[-last:].mean()))
    return floors


def msign_embedding_error(trials: int = 200, *, max_m: int = 6, seed: int = 0) -> float:
    r"""The largest entry of |msign(Qᵀdiag(g)P) − Qᵀdiag(sign g)P| over ``trials`` random instances,
    for the embedded matrix and for its transpose (wide and tall).

    Each trial draws m ∈ {1, …, ``max_m``}, n ∈ {m, …, m + 4}, a random orthogonal Q and a Gaussian g
    with about 30% exact zeros (sign 0 must map to a zero singular direction). The identity holds
    because Qᵀdiag(|g|)P, with the signs moved into Qᵀ, is already an SVD; this measures how exactly
    ``msign`` (its default method) reproduces it. Returns a float (≈ 1e-15 in float64).
    """
    trials = _validate.integer("trials", trials, low=1)
    max_m = _validate.integer("max_m", max_m, low=1)
    rng = np.random.default_rng(_validate.integer("seed", seed, low=0))
    worst = 0.0
    for _ in range(trials):
        m = int(rng.integers(1, max_m + 1))
        n = m + int(rng.integers(0, 5))
        Q = lb.random_orthogonal(m, seed=int(rng.integers(2**31)))
        g = rng.standard_normal(m) * (rng.random(m) > 0.3)
        G = torch.tensor(lb.embed(g, Q, n))
        target = torch.tensor(lb.embed(np.sign(g), Q, n))
        worst = max(
            worst,
            float((msign(G) - target).abs().max()),
            float((msign(G.mT) - target.mT).abs().max()),
        )
    return worst


class TinyLM(torch.nn.Module):
    r"""The smallest language model with every kind of parameter that ``muon_param_groups`` must
    tell apart: a token embedding tied to the output head, a two-layer MLP (two hidden weight
    matrices and their biases) and a LayerNorm (gain and bias).

    logits = head(LayerNorm(MLP(embed(idx)))), head.weight = embed.weight. Its initial weights are
    drawn from ``seed`` without touching torch's global random state.
    """

    def __init__(self, vocab: int = 50, width: int = 16, *, seed: int = 0):
        super().__init__()
        vocab = _validate.integer("vocab", vocab, low=2)
        width = _validate.integer("width", width, low=1)
        with torch.random.fork_rng():
            torch.manual_seed(_validate.integer("seed", seed, low=0))
            self.embed = torch.nn.Embedding(vocab, width)
            self.mlp = torch.nn.Sequential(
                torch.nn.Linear(width, 4 * width),
                torch.nn.GELU(),
                torch.nn.Linear(4 * width, width),
            )
            self.norm = torch.nn.LayerNorm(width)
            self.lm_head = torch.nn.Linear(width, vocab, bias=False)
        self.lm_head.weight = self.embed.weight  # tied

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Next-token logits for the token ids ``idx`` (shape (..., vocab))."""
        return self.lm_head(self.norm(self.mlp(self.embed(idx))))


def train_tiny_lm(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    steps: int = 30,
    length: int = 64,
    seed: int = 0,
) -> list[float]:
    r"""``steps`` full-batch steps of next-token cross-entropy on one fixed random sequence of
    ``length`` tokens (drawn from ``seed``), returning the loss before each step.

    The sequence is memorisable, so a working optimizer drives the loss down: the chapter uses it to
    show that :class:`~signlab.optim.MuonWithAdamW` steps both of its parameter groups.
    ``model`` maps token ids to logits over a vocabulary of size ``model.embed.num_embeddings``.
    """
    steps = _validate.integer("steps", steps, low=1)
    length = _validate.integer("length", length, low=2)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    idx = torch.randint(0, model.embed.num_embeddings, (length,), generator=generator)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(idx[:-1]), idx[1:])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses
