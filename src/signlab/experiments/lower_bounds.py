r"""The lower-bounds chapter's runs: SignSGD on the hard instances, the stall curve, the sandwich,
Muon on the matrix embedding, and SGD/SignSGD on the zero chain, all through the one engine.

Each function is a thin layer over :func:`signlab.sim.engine.simulate` on the constructions of
:mod:`signlab.theory.lowerbound` (Tao, Yu & Zhang, arXiv:2605.06615, Lemmas 2–3, Theorems 2 and 5;
Arjevani et al. 2023 for the zero chain), with fixed seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._threads import torch_threads
from signlab.sim.engine import Recorder, Trajectory, simulate
from signlab.theory import bounds
from signlab.theory import lowerbound as lb

__all__ = [
    "bimodal_moments",
    "chain_smoothness",
    "complexity_table",
    "embedded_race",
    "exact_stall",
    "sandwich",
    "stall_curve",
    "zero_chain_progress",
]


def _zeros(runs: int, d: int) -> torch.Tensor:
    return torch.zeros(_validate.integer("runs", runs, low=1), d, dtype=torch.float64)


def stall_curve(
    eps: float,
    sigma: float,
    lr: float,
    multiples: Any,
    *,
    batch: int = 1,
    runs: int = 1000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""P(SignSGD never leaves the grid) at budgets N = multiples·N* (N* the paper's threshold).

    One run of the longest length gives every shorter budget (the first T steps of a run are a run
    of T steps): ``measured`` is the fraction of ``runs`` whose iterates stayed below the last grid
    point (plus half a cell) up to T = N/B steps, ``se`` its standard error √(p̂(1 − p̂)/runs),
    ``exact`` the binomial probability :func:`~signlab.theory.lowerbound.stall_probability`.
    Returns ``{"multiples", "budgets", "steps", "measured", "se", "exact"}``.
    """
    multiples, budgets, steps, batch = _budgets(eps, sigma, multiples, batch)
    inst = lb.hard_instance(eps, sigma, lr)
    run = simulate(
        inst,
        inst.oracle,
        "signsgd",
        _zeros(runs, 1),
        lr=lr,
        steps=int(steps.max()),
        batch=batch,
        seed=seed,
        record=("iterate",),
    )
    reached = np.maximum.accumulate(run["iterate"][:, :, 0], axis=1)
    inside = reached <= inst.grid_top()[0]
    measured = inside[:, steps].mean(axis=0)
    return {
        "multiples": multiples,
        "budgets": budgets,
        "steps": steps,
        "measured": measured,
        "se": np.sqrt(measured * (1 - measured) / runs),
        "exact": exact_stall(eps, sigma, multiples, batch=batch),
    }


def exact_stall(eps: float, sigma: float, multiples: Any, *, batch: int = 1) -> np.ndarray:
    r"""The exact P(SignSGD never leaves the grid) at the budgets N = m·N* for each m of
    ``multiples`` (N* the paper's threshold, T = ⌊N/B⌋ steps, at least one): the binomial tail
    :func:`~signlab.theory.lowerbound.stall_probability` along a curve, as :func:`stall_curve`
    measures it."""
    _, _, steps, batch = _budgets(eps, sigma, multiples, batch)
    return np.array([lb.stall_probability(eps, sigma, int(T), batch) for T in steps])


def _budgets(eps: float, sigma: float, multiples: Any, batch: int):
    """(multiples, budgets N = m·N*, steps T = max(1, ⌊N/B⌋), batch), validated."""
    multiples = np.asarray(multiples, dtype=float)
    if multiples.ndim != 1 or multiples.size == 0 or bool((multiples <= 0).any()):
        raise ValueError("multiples must be a non-empty 1-D array of positive numbers")
    batch = _validate.integer("batch", batch, low=1)
    budgets = multiples * lb.paper_threshold(eps, sigma)
    return multiples, budgets, np.maximum(1, (budgets / batch).astype(int)), batch


def _inside_grid(top: torch.Tensor) -> Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]:
    """A recorder's measure: 1.0 for a run whose every coordinate is at or below ``top``."""

    def measure(problem: Any, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        return (x <= top).all(dim=-1).double()

    return measure


def sandwich(
    budgets: Any,
    L_inf: float,
    Delta: float,
    sigma: Any,
    *,
    runs: int = 200,
    seed: int = 0,
    batch: int | None = None,
) -> dict[str, np.ndarray]:
    r"""SignSGD on the noise term's lifted hard instance, per budget N, beside Theorems 1 and 2.

    ``batch=None``: Theorem 1's step and batch (B = max(1, B*), T = N/B, η = √(2Δ/(L∞T))). Then T
    is at most the instance's number of cells, so *every* run stays on the grid whatever the
    oracle answers: the stall is deterministic. ``batch=1`` (or any B): T = N/B steps at
    η = √(2Δ/(L∞T)), many more steps than cells, so whether a run stalls depends on the bimodal
    oracle's zero draws (probability q each): the mechanism of Lemma 3 at work.
    ``measured`` is the mean over runs of min_t ‖∇f(x_t)‖₁ (the left side of Theorem 2) and
    ``measured_se`` its standard error; ``stalled`` the fraction of runs in which no coordinate
    ever left its grid, ``stalled_se`` its standard error √(p̂(1 − p̂)/runs) and
    ``stalled_exact`` the exact probability
    (:meth:`~signlab.theory.lowerbound.SeparableHardInstance.stall_probability`); ``lower`` the
    instance's guaranteed value
    :meth:`~signlab.theory.lowerbound.SeparableHardInstance.lower_bound`, ``upper`` Theorem 1's
    rate with the derived constants. Returns ``{"budgets", "measured", "measured_se",
    "stalled", "stalled_se", "stalled_exact", "lower", "upper", "batch", "steps", "cells"}``
    (``cells``: the fewest cells of an active coordinate).
    """
    budgets = np.asarray(budgets, dtype=int)
    sigma = np.asarray(sigma, dtype=float)
    if batch is not None:
        batch = _validate.integer("batch", batch, low=1)
    keys = ("measured", "measured_se", "stalled", "stalled_exact", "lower", "batch", "steps")
    rows: dict[str, list] = {k: [] for k in keys}
    cells = []
    for N in budgets:
        plan = bounds.signsgd_schedule(int(N), L_inf, Delta, sigma)
        B = max(1, int(round(plan["batch"]))) if batch is None else batch
        T = max(1, int(N) // B)
        lr = plan["lr"] if batch is None else float(np.sqrt(2 * Delta / (L_inf * T)))
        inst = lb.lower_bound_instance(int(N), L_inf, Delta, sigma, lr, "noise")
        top = torch.from_numpy(inst.grid_top())
        inside = Recorder("inside", _inside_grid(top))
        run = simulate(
            inst,
            inst.oracle,
            "signsgd",
            _zeros(runs, sigma.size),
            lr=lr,
            steps=T,
            batch=B,
            seed=seed,
            record=("grad_l1", inside),
        )
        smallest = run["grad_l1"].min(axis=1)
        rows["measured"].append(smallest.mean())
        rows["measured_se"].append(smallest.std(ddof=1) / np.sqrt(runs))
        rows["stalled"].append(run["inside"].min(axis=1).mean())
        rows["stalled_exact"].append(inst.stall_probability(T, B))
        rows["lower"].append(inst.lower_bound())
        rows["batch"].append(B)
        rows["steps"].append(T)
        cells.append(int(inst.cells[inst.active].min()))
    out = {k: np.array(v) for k, v in rows.items()}
    out["budgets"] = budgets
    out["cells"] = np.array(cells)
    out["stalled_se"] = np.sqrt(out["stalled"] * (1 - out["stalled"]) / runs)
    out["upper"] = np.asarray(bounds.signsgd_rate(budgets, L_inf, Delta, sigma), dtype=float)
    return out


def embedded_race(
    instance: Any, Q: Any, n: int, *, lr: float, steps: int, runs: int = 1, seed: int = 0
) -> tuple[Trajectory, Trajectory]:
    r"""SignSGD on a separable ``instance`` and Muon (exact msign, no momentum, no shape scaling) on
    its embedding F(W) = f(diag(QWPᵀ)), with the same seed, hence the same oracle draws.

    Returns the two trajectories: the first records the iterates x_t and ‖∇f‖₁, the second the
    hidden coordinates diag(QW_tPᵀ) (as ``"iterate"``) and ‖∇F‖_*. Theorem 5's argument is that
    the two coincide exactly.
    """
    F = lb.MuonEmbedding(instance, Q, n)
    d = instance.shape[0]
    signsgd = simulate(
        instance,
        instance.oracle,
        "signsgd",
        _zeros(runs, d),
        lr=lr,
        steps=steps,
        seed=seed,
        record=("iterate", "grad_l1"),
    )
    hidden = Recorder("iterate", lambda problem, W, grad: problem.coordinates(W))
    muon = simulate(
        F,
        F.embedded(instance.oracle),
        "muon",
        F.point(_zeros(runs, d)),
        lr=lr,
        steps=steps,
        seed=seed,
        record=(hidden, "grad_nuc"),
    )
    return signsgd, muon


def zero_chain_progress(
    method: str, T: int, p: float, *, lr: float, steps: int, runs: int = 100, seed: int = 0
) -> np.ndarray:
    r"""prog_{1/4}(x_t) for t = 0..steps, shape (runs, steps + 1), of ``method`` on F_T with the
    probability-p oracle from x₀ = 0.

    SGD and SignSGD only move coordinates with a non-zero stochastic gradient, so each link of the
    chain needs a successful (probability p) query: progress grows by at most about p per step.
    """
    chain = lb.ZeroChain(T)
    progress = Recorder("progress", lambda problem, x, grad: problem.progress(x))
    run = simulate(
        chain,
        lb.ProbabilityOracle(p),
        _validate.choice("method", method, ("sgd", "signsgd")),
        _zeros(runs, T),
        lr=lr,
        steps=steps,
        seed=seed,
        record=(progress,),
    )
    return run["progress"]


def bimodal_moments(
    eps: float, sigmas: Any, *, points: Any = None, draws: int = 1_000_000, seed: int = 0
) -> list[dict[str, float]]:
    r"""Mean and variance of ``draws`` oracle draws of the 1-D hard instance, per σ and point.

    The instance is :func:`~signlab.theory.lowerbound.hard_instance` (ε, σ, η = ε) with its
    :class:`~signlab.theory.lowerbound.GridOracle`; ``points`` (x values, default the grid point 0)
    may lie past the grid, where the oracle returns the exact gradient. Each row has ``sigma``,
    ``x``, ``gradient``, ``mean``, ``se`` (of the mean), ``variance`` (of the draws),
    ``variance_se`` (its standard error √((m₄ − s⁴)/n), m₄ the fourth central moment),
    ``variance_exact`` (the oracle's variance there, :meth:`GridOracle.variance`) and
    ``bound`` = σ²: the variance the theorem's noise assumption allows.
    """
    eps = _validate.positive("eps", eps)
    points = [0.0] if points is None else [float(p) for p in points]
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    with torch_threads(1):  # a second thread of a busy machine made this 8 times slower
        return _moments(eps, sigmas, points, draws, generator)


def _moments(eps, sigmas, points, draws, generator) -> list[dict[str, float]]:
    """The rows of :func:`bimodal_moments` (arguments validated)."""
    rows = []
    for sigma in np.atleast_1d(np.asarray(sigmas, dtype=float)).tolist():
        inst = lb.hard_instance(eps, sigma, eps)
        for x in points:
            grad = inst.gradient(torch.full((draws, 1), x, dtype=torch.float64))
            g = inst.oracle.sample(grad, 1, generator).numpy()[:, 0]
            centred = g - g.mean()
            m2, m4 = float((centred**2).mean()), float((centred**4).mean())
            rows.append(
                dict(
                    sigma=sigma,
                    x=x,
                    gradient=float(grad[0, 0]),
                    mean=float(g.mean()),
                    se=float(g.std() / np.sqrt(draws)),
                    variance=m2,
                    variance_se=float(np.sqrt(max(m4 - m2**2, 0.0) / draws)),
                    variance_exact=float(inst.oracle.variance(grad[:1])[0, 0]),
                    bound=sigma**2,
                )
            )
    return rows


def chain_smoothness(lengths: Any, *, at: float = 0.75) -> dict[str, np.ndarray]:
    r"""ℓ2 and ℓ∞ curvature of the zero chain F_T at x = ``at``·1, for each T in ``lengths``.

    ``l2`` = ‖∇²F_T‖₂ (a lower bound on the ℓ2 smoothness constant), ``linf`` = max over sign
    vectors v of |vᵀ∇²F_Tv| (:func:`~signlab.theory.lowerbound.cube_quadratic_max`, a lower bound
    on L∞), ``ratio`` = linf/l2.
    """
    lengths = [_validate.integer("lengths", int(t), low=1) for t in np.atleast_1d(lengths)]
    l2_list, linf_list = [], []
    for T in lengths:
        H = lb.ZeroChain(T).hessian(np.full(T, float(at)))
        l2_list.append(float(np.abs(np.linalg.eigvalsh(H)).max()))
        linf_list.append(lb.cube_quadratic_max(H))
    l2, linf = np.array(l2_list), np.array(linf_list)
    return {"T": np.array(lengths), "l2": l2, "linf": linf, "ratio": linf / l2}


def complexity_table(d: int, eps: float, ks: Any) -> dict[str, np.ndarray]:
    r"""The bounds' gradients for E‖∇f‖₁ ≤ ε, L∞ = Δ = ‖σ‖₁ = 1, noise on k equal coordinates of d.

    Per k: ``phi``, SignSGD's lower bound with our constants (Theorem 2), its upper bound with the
    derived constants (Theorem 1), both with the constants set to 1 (``order``), and SGD's lower
    bound with its unknown constant set to 1 (Theorem 3).
    """
    from signlab.geometry import density

    d = _validate.integer("d", d, low=1)
    eps = _validate.positive("eps", eps)
    out: dict[str, list] = {k: [] for k in ("k", "phi", "sign_lower", "sign_upper", "order", "sgd")}
    for k in [_validate.integer("ks", int(k), low=1, high=d) for k in np.atleast_1d(ks)]:
        sig = np.r_[np.full(k, 1.0 / k), np.zeros(d - k)]
        out["k"].append(k)
        out["phi"].append(float(density(sig)))
        out["sign_lower"].append(lb.signsgd_lower_complexity(eps, 1.0, 1.0, sig))
        out["sign_upper"].append(bounds.signsgd_complexity(eps, 1.0, 1.0, sig))
        out["order"].append(bounds.signsgd_complexity(eps, 1.0, 1.0, sig, constants="order"))
        out["sgd"].append(bounds.sgd_complexity_lower(eps, 1.0, 1.0, sig))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}
