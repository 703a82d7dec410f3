r"""The Muon chapter's runs: Newton–Schulz step by step for each coefficient schedule (in float64
and in bf16, against the exact polar factor), msign's cost per method, the low-rank race of SGD,
Muon and SignSGD with matrix noise of a chosen rank (each step size tuned), the embedding identity of
the lower bound on random instances, and a few steps of :class:`~signlab.optim.MuonWithAdamW` on a
tiny model.

For vectors, sparse noise is what SignSGD exploits; for matrices the role of sparsity is played by
rank (Tao, Yu & Zhang, arXiv:2605.06615, Section 5: Muon's rate sees ‖Σ‖_*, SGD's ‖Σ‖_F). At a fixed
‖Σ‖_F a rank-r Σ has ‖Σ‖_* = √r‖Σ‖_F, so the race below changes only the rank.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from signlab import _validate
from signlab.geometry.matrix import msign, newton_schulz, spectral_norm
from signlab.sim.engine import simulate
from signlab.sim.noise import MatrixGaussian, low_rank_sigma
from signlab.sim.problems import SeparableQuadratic
from signlab.stats import Estimate, bootstrap
from signlab.theory import lowerbound as lb

__all__ = [
    "LOW_RANK_BUDGETS",
    "LOW_RANK_GRIDS",
    "LowRankRace",
    "TinyLM",
    "log_spaced_matrix",
    "low_rank_problem",
    "low_rank_race",
    "msign_embedding_error",
    "msign_times",
    "newton_schulz_gains",
    "newton_schulz_trace",
    "polar_factor_error",
    "train_tiny_lm",
]


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


def log_spaced_matrix(
    m: int, n: int | None = None, x_min: float = 1e-3, *, seed: int = 0
) -> torch.Tensor:
    r"""A float64 m×n matrix U diag(σ) Vᵀ with σ log-spaced on [``x_min``, 1] and random orthonormal
    U, V (Haar, from ``seed``): the test case of Polar Express (Amsel et al.), whose schedule is
    built for singular values down to 10⁻³ of the largest. ``n`` defaults to ``m``."""
    m = _validate.integer("m", m, low=1)
    n = m if n is None else _validate.integer("n", n, low=m)
    x_min = _validate.positive("x_min", x_min)
    if x_min > 1:
        raise ValueError(f"x_min must lie in (0, 1] (got {x_min!r})")
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    U, _ = torch.linalg.qr(torch.randn(m, m, generator=generator, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, m, generator=generator, dtype=torch.float64))
    return U @ torch.diag(torch.logspace(math.log10(x_min), 0, m, dtype=torch.float64)) @ V.mT


def newton_schulz_trace(
    G: torch.Tensor,
    coefficients: str | tuple = "jordan",
    steps: int = 15,
    dtype: torch.dtype | None = None,
) -> dict[str, list]:
    r"""What k = 0 … ``steps`` Newton–Schulz steps (working dtype ``dtype``) do to G, against the
    exact polar factor UVᵀ of G (float64 SVD):

    - ``singular_values``: the singular values of NS_k(G) (an array per k);
    - ``sv_error``: max_i |σ_i(NS_k(G)) − 1|, how far NS_k(G) is from having every singular value 1
      (in exact arithmetic the worst |p(x) − 1| over G's normalised singular values x);
    - ``error``: ‖NS_k(G) − UVᵀ‖_op, which also counts singular vectors gone astray (it equals
      ``sv_error`` in exact arithmetic).
    """
    steps = _validate.integer("steps", steps, low=0)
    exact = msign(G.double(), method="svd")
    out: dict[str, list] = {"singular_values": [], "sv_error": [], "error": []}
    for k in range(steps + 1):
        X = newton_schulz(G, k, coefficients, dtype=dtype).double()
        s = torch.linalg.svdvals(X).numpy()
        out["singular_values"].append(s)
        out["sv_error"].append(float(np.abs(s - 1).max()))
        out["error"].append(float(spectral_norm(X - exact)))
    return out


def newton_schulz_gains(
    G: torch.Tensor,
    coefficients: str | tuple = "jordan",
    steps: int = 5,
    dtype: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""(x, gains): G's normalised singular values x_i = σ_i/‖G‖_F and what ``steps``
    Newton–Schulz steps (working dtype ``dtype``) make of each singular direction,
    u_iᵀ NS_k(G) v_i, with u_i, v_i from G's SVD in float64.

    In exact arithmetic NS keeps the singular vectors and the gain is p^k(x_i), the composition
    at x_i; in low precision the gain drifts from it. (Sorting the singular values of NS_k(G)
    instead would pair them with the wrong x_i wherever p^k is not monotone.)
    """
    steps = _validate.integer("steps", steps, low=0)
    U, s, Vh = torch.linalg.svd(G.double(), full_matrices=False)
    X = newton_schulz(G, steps, coefficients, dtype=dtype).double()
    gains = torch.einsum("...ik,...ij,...kj->...k", U, X, Vh)
    return (s / torch.linalg.matrix_norm(G.double())).numpy(), gains.numpy()


def polar_factor_error(G: torch.Tensor, dtype: torch.dtype) -> dict[str, float]:
    r"""The exact polar factor UVᵀ of G rounded to ``dtype`` and, separately, of G rounded to
    ``dtype``, against UVᵀ (float64): ``{"sv_error": max |σ_i − 1| of UVᵀ stored in dtype,
    "error": ‖UVᵀ(stored) − UVᵀ‖_op, "input_error": ‖polar(G in dtype) − UVᵀ‖_op}``.

    The first two are the best any method can do when its result is stored in ``dtype``; the last
    says how much of the polar factor the rounding of the *input* already decides: a singular value
    of G below about ‖G‖·2⁻⁹ (bf16's relative spacing) has its singular vectors moved by the
    rounding, whatever computes msign afterwards.
    """
    exact = msign(G.double(), method="svd")
    stored = exact.to(dtype).double()
    rounded = msign(G.to(dtype).double(), method="svd")
    return {
        "sv_error": float((torch.linalg.svdvals(stored) - 1).abs().max()),
        "error": float(spectral_norm(stored - exact)),
        "input_error": float(spectral_norm(rounded - exact)),
    }


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


LOW_RANK_GRIDS: dict[str, tuple[float, ...]] = {
    "sgd": (1e-3, 1.8e-3, 3.2e-3, 5.6e-3, 1e-2, 1.8e-2),
    "muon": (3.2e-3, 5.6e-3, 1e-2, 1.8e-2, 3.2e-2, 5.6e-2, 1e-1),
    "signsgd": (1e-3, 1.8e-3, 3.2e-3, 5.6e-3, 1e-2, 1.8e-2, 3.2e-2),
}
"""Step-size grids of the low-rank race (quarter decades). SGD's stops below its stability limit
2/λ_max(H) = 0.02 on :func:`low_rank_problem`; Muon's and SignSGD's steps have a fixed length, so
they cannot blow up, and their grids reach past the best step size of every budget raced."""

LOW_RANK_BUDGETS = (200, 600, 2000)
"""Step budgets T of the low-rank race: each method's step size is tuned for each T."""


@dataclass(frozen=True)
class LowRankRace:
    r"""The low-rank race: every method of :data:`LOW_RANK_GRIDS` at every step size of its grid,
    on :func:`low_rank_problem` with noise of each rank, the same seeds (starts and noise draws)
    for every method.

    ``curves[method]`` has shape (ranks, step sizes, seeds, points): ‖∇F(W_t)‖_* at ``steps``
    (recorded every ``every`` steps, t = 0 … max budget). ``level(method, r, T)`` is, per step
    size and seed, the mean of ‖∇F‖_* over the last tenth of the first T steps: where a run stands
    after a budget of T steps (its noise floor once it has converged).
    """

    ranks: tuple[int, ...]
    budgets: tuple[int, ...]
    lrs: dict[str, tuple[float, ...]]
    steps: np.ndarray
    curves: dict[str, np.ndarray]
    frobenius: float

    def level(self, method: str, rank: int, budget: int) -> np.ndarray:
        """(step sizes, seeds): the mean of ‖∇F‖_* over the recorded steps in [0.9T, T]."""
        window = (self.steps >= 0.9 * budget) & (self.steps <= budget)
        return self.curves[method][self.ranks.index(rank)][..., window].mean(axis=-1)

    def best_lr(self, method: str, rank: int, budget: int) -> float:
        """The step size whose mean level over the seeds is lowest at this rank and budget."""
        return self.lrs[method][int(np.argmin(self.level(method, rank, budget).mean(axis=1)))]

    def tuned(self, method: str, rank: int, budget: int, *, seed: int = 0) -> Estimate:
        """The tuned level min_η mean_seeds level(η), with its bootstrap standard error over the
        seeds (each resample tunes the step size again, so the choice's luck is in the error)."""
        samples = self.level(method, rank, budget).T  # (seeds, step sizes)
        return bootstrap(samples, lambda x: float(x.mean(axis=0).min()), seed=seed)

    def ratio(self, a: str, b: str, rank: int, budget: int, *, seed: int = 0) -> Estimate:
        """tuned(a)/tuned(b) with a paired bootstrap error (seeds resampled together: the methods
        share starts and noise)."""
        la, lb = self.level(a, rank, budget).T, self.level(b, rank, budget).T
        k = la.shape[1]
        both = np.concatenate([la, lb], axis=1)
        statistic = lambda x: float(x[:, :k].mean(axis=0).min() / x[:, k:].mean(axis=0).min())
        return bootstrap(both, statistic, seed=seed)


def low_rank_race(
    ranks: tuple[int, ...] = (1, 2, 4, 8),
    *,
    budgets: tuple[int, ...] = LOW_RANK_BUDGETS,
    lrs: dict[str, tuple[float, ...]] | None = None,
    m: int = 8,
    frobenius: float = 3.0,
    seeds: int = 12,
    seed: int = 0,
    every: int = 10,
) -> LowRankRace:
    r"""SGD, Muon (exact msign) and SignSGD on :func:`low_rank_problem` with matrix noise ΣZ, Σ of
    each rank in ``ranks`` and ‖Σ‖_F = ``frobenius``, every step size of ``lrs`` (default
    :data:`LOW_RANK_GRIDS`) for max(``budgets``) steps, as one population per method.

    ``seeds`` random starts W₀ (drawn from ``seed``, the first row divided by the stiffness) and
    noise streams (from ``seed + 1``) are shared by every method and step size. Noise of rank r has
    ‖Σ‖_* = √r·‖Σ‖_F: Muon's rate sees ‖Σ‖_*, SGD's sees ‖Σ‖_F (Tao, Yu & Zhang, Section 5).
    """
    lrs = dict(LOW_RANK_GRIDS if lrs is None else lrs)
    budgets = tuple(_validate.integer("budgets", b) for b in budgets)
    steps = max(budgets)
    seeds = _validate.integer("seeds", seeds, low=2)
    seed = _validate.integer("seed", seed, low=0)
    problem = low_rank_problem(m)
    generator = torch.Generator().manual_seed(seed)
    W0 = torch.randn(seeds, m, m, generator=generator, dtype=torch.float64)
    W0[:, 0] /= float(problem.L[0, 0])
    curves: dict[str, list[np.ndarray]] = {method: [] for method in lrs}
    recorded = np.zeros(0)  # the steps recorded, the same in every run below
    for rank in ranks:
        oracle = MatrixGaussian(low_rank_sigma(m, rank, frobenius))
        for method, grid in lrs.items():
            run = simulate(
                problem,
                oracle,
                method,
                W0.repeat(len(grid), 1, 1),
                lr=np.repeat(np.asarray(grid, dtype=float), seeds),
                steps=steps,
                seed=seed + 1,
                record=("grad_nuc",),
                every=every,
            )
            curves[method].append(run["grad_nuc"].reshape(len(grid), seeds, -1))
            recorded = run.steps
    return LowRankRace(
        tuple(ranks),
        budgets,
        {k: tuple(v) for k, v in lrs.items()},
        recorded,
        {k: np.stack(v) for k, v in curves.items()},
        frobenius,
    )


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
    model: TinyLM,
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
