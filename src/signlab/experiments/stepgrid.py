r"""Every constant step size of a grid in one engine run: gradients to reach ε for each.

A step-size sweep of SGD or SignSGD is a population of independent runs that differ only in η. So
instead of one :func:`~signlab.sim.engine.simulate` call per step size, :func:`grid_run` stacks the
``seeds`` runs of every step size of ``lrs`` along the run dimension and makes *one* call with the
same update rule, given a step size per run:

.. math:: x^{(j,r)}_{t+1} = x^{(j,r)}_t - \eta_j\, u(g^{(j,r)}_t), \qquad u(g) = g \ \text{(SGD)},\
          \operatorname{sign}(g)\ \text{(SignSGD)},

for step size j and seed r. With an additive oracle every step size sees the *same* noise draws
(the draw for the ``seeds`` runs is repeated over the grid), so the group of step size j is exactly
the run ``simulate(problem, oracle, method, x0, lr=lrs[j], seed=seed)`` would make (common random
numbers, tested in ``tests/test_stepgrid.py``). The run goes on in chunks, each a fresh call from
the last iterate (the methods are stateless; chunk c > 0 draws its noise from a seed derived from
(``seed``, c)), until the best step size has reached ε (``until="best"``) or every one has
(``until="all"``), or the step budget is spent.

N(ε) of step size j is the number of stochastic gradients used when the seed-mean of ‖∇f‖₁ (the
estimate of E‖∇f(x_t)‖₁ in the bounds) first is ≤ ε, as in
:func:`~signlab.sim.engine.gradients_to_reach`; ``inf`` if it never is. Coordinates may carry
multiplicities (:mod:`signlab.sim.problems`): both rules are coordinate-wise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.optim.spec import REQUIRED, Hyper, Spec
from signlab.sim.engine import Method, simulate

__all__ = ["GRID_METHODS", "GridResult", "grid_run", "loglog_fit"]


def _scale(name: str, value: Any) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor of per-run step sizes")
    if bool((value <= 0).any()) or not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must hold finite step sizes > 0")
    return value


def _spec(name: str) -> Spec:
    return Spec(
        name,
        (
            Hyper("lr", REQUIRED, _validate.positive, "a common factor of every step size"),
            Hyper("scale", REQUIRED, _scale, "per-run step sizes, shape (runs, 1, ...)"),
        ),
    )


class _GridRule:
    """An update rule x ← x − lr·scale·u(g) with one step size per run (scale broadcasts)."""

    def __init__(self, name: str, direction: Any) -> None:
        self.spec = _spec(name)
        self._direction = direction

    def unchecked(self, x, g, state, *, lr, scale):
        return torch.addcmul(x, scale, self._direction(g), value=-lr), {}


GRID_METHODS: dict[str, Method] = {
    "sgd": Method("sgd", _GridRule("sgd", lambda g: g)),
    "signsgd": Method("signsgd", _GridRule("signsgd", torch.sign)),
}
"""SGD and SignSGD with a step size per run (the engine's :class:`~signlab.sim.engine.Method`)."""


class _Tiled:
    """An additive oracle whose draw for ``runs`` runs is repeated ``copies`` times."""

    def __init__(self, oracle: Any, runs: int, copies: int) -> None:
        if not getattr(oracle, "additive", False):
            raise ValueError("oracle must be additive (its noise must not depend on the point)")
        self.oracle, self.runs, self.copies = oracle, runs, copies
        self.additive = True
        self._zero: torch.Tensor | None = None

    def sample(self, grad, batch=1, generator=None, *, x=None):
        shape = (self.runs, *grad.shape[1:])
        if self._zero is None or self._zero.shape != shape or self._zero.dtype != grad.dtype:
            self._zero = torch.zeros(shape, dtype=grad.dtype)
        noise = self.oracle.sample(self._zero, batch, generator)  # 0 + ξ: the draw itself
        return (grad.view(self.copies, *shape) + noise).view(grad.shape)


def _chunk_seed(seed: int, chunk: int) -> int:
    if chunk == 0:
        return seed
    state = np.random.SeedSequence((seed, chunk, 0xC4A9)).generate_state(1, dtype=np.uint64)[0]
    return int(state) & (2**62 - 1)


@dataclass(frozen=True)
class GridResult:
    """One method on one problem over a step-size grid.

    ``lrs``: the grid; ``gradients[j]``: N(ε) of step size j (``inf`` if not reached before the
    run stopped); ``best``/``lr``: the smallest N(ε) and its step size (None if none reached);
    ``per_seed``: for each step size, the seed-wise first N with ‖∇f‖₁ ≤ ε (for bootstraps);
    ``curve_steps``/``curve``: the recorded seed-mean ‖∇f‖₁ of every step size.
    """

    method: str
    lrs: np.ndarray
    gradients: np.ndarray
    best: float
    lr: float | None
    steps: int
    curve_steps: np.ndarray
    curve: np.ndarray
    records: np.ndarray

    def resampled(self, seeds: np.ndarray) -> np.ndarray:
        """The best N(ε) over the grid when the mean runs over each row of ``seeds`` (indices into
        the seeds, repeats allowed; shape (B, seeds)): the same reading for B bootstrap resamples.
        ``inf`` where the resample's mean had not reached ε when the run stopped."""
        seeds = np.asarray(seeds, dtype=int)
        weights = np.zeros((seeds.shape[0], self.records.shape[1]))
        np.add.at(weights, (np.arange(seeds.shape[0])[:, None], seeds), 1.0 / seeds.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            means = np.einsum("bs,jsp->bjp", weights, self.records)
            below = np.nan_to_num(means, nan=np.inf) <= self.eps
        first = np.where(below.any(axis=2), np.argmax(below, axis=2), -1)
        gradients = np.where(first >= 0, self.curve_steps[first] * self.batch, np.inf)
        return gradients.min(axis=1)

    eps: float = math.nan
    batch: int = 1


def _first_hits(means: np.ndarray, eps: float, gradients: np.ndarray) -> np.ndarray:
    """For each row of ``means`` (step size × recorded points), the first gradients ≤ ε."""
    below = means <= eps
    hit = below.any(axis=1)
    first = np.argmax(below, axis=1)
    return np.where(hit, gradients[first], np.inf)


def grid_run(
    problem: Any,
    oracle: Any,
    method: str,
    x0: torch.Tensor,
    lrs: Sequence[float],
    eps: float,
    *,
    steps: int,
    batch: int = 1,
    seed: int = 0,
    first: int = 64,
    until: str = "best",
    margin: float = 1.0,
    points: int = 64,
) -> GridResult:
    r"""Run ``method`` ("sgd" or "signsgd") at every step size of ``lrs`` from ``x0``, in one engine run.

    ``x0``: (seeds, \*problem.shape); ``oracle``: None (exact gradients) or an additive oracle;
    ``steps``: the step budget; ``first``: the first chunk's length (then chunks of a quarter of
    the steps done so far, so a run overshoots its stopping point by at most a quarter);
    ``until``: "best" (stop when one step size reached ε: a longer run cannot beat it) or "all";
    ``margin`` ≥ 1: go on until ``margin`` times the steps of that first hit (so a bootstrap
    resample of the seeds, whose mean may reach ε a little later, is still read off the record);
    ``points``: about how many points each chunk records (every step while the run is short),
    so N(ε) is read to within a fraction ≈ 1/(4·points) of itself.
    """
    method = _validate.choice("method", method, GRID_METHODS)
    eps = _validate.positive("eps", eps)
    steps = _validate.integer("steps", steps, low=1)
    batch = _validate.integer("batch", batch, low=1)
    first = _validate.integer("first", first, low=1)
    points = _validate.integer("points", points, low=1)
    until = _validate.choice("until", until, ("best", "all"))
    margin = _validate.positive("margin", margin)
    if margin < 1:
        raise ValueError(f"margin must be >= 1 (got {margin!r})")
    grid = np.asarray(lrs, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("lrs must be a non-empty 1-D sequence of step sizes")
    for lr in grid:
        _validate.positive("lrs", lr)
    if not isinstance(x0, torch.Tensor) or x0.ndim < 2:
        raise ValueError("x0 must be a tensor of shape (seeds, *problem.shape)")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread (see benchmarks/simulate.md)
    try:
        return _grid_run(
            problem, oracle, method, x0, grid, eps, steps, batch, seed, first, until, margin, points
        )
    finally:
        torch.set_num_threads(previous)


def _grid_run(
    problem, oracle, method, x0, grid, eps, steps, batch, seed, first, until, margin, points
) -> GridResult:
    seeds, n = x0.shape[0], grid.size
    tail = (1,) * (x0.ndim - 1)
    scale = torch.as_tensor(grid, dtype=x0.dtype).repeat_interleave(seeds).view(-1, *tail)
    x = x0.repeat(n, *tail)
    noise = None if oracle is None else _Tiled(oracle, seeds, n)
    rows, at, done, chunk = [], [], 0, 0
    dead = torch.zeros(x.shape[0], dtype=torch.bool)
    while True:
        length = min(max(first, done // 4), steps - done)
        every = max(1, length // points)
        run = simulate(
            problem,
            noise,
            GRID_METHODS[method],
            x,
            lr=1.0,
            steps=length,
            batch=batch,
            seed=_chunk_seed(seed, chunk),
            record=("grad_l1",),
            every=every,
            scale=scale,
        )
        values = run["grad_l1"]
        values[dead.numpy()] = np.inf  # a run that diverged earlier stays diverged
        values = values.reshape(n, seeds, -1)
        rows.append(values if chunk == 0 else values[:, :, 1:])
        at.append(run.steps.astype(float) if chunk == 0 else done + run.steps[1:])
        done += length
        chunk += 1
        x = run.x
        dead |= ~torch.isfinite(x).reshape(x.shape[0], -1).all(dim=1)
        x = torch.where(dead.view(-1, *tail), torch.zeros_like(x), x)
        records = np.concatenate(rows, axis=2)
        points_at = np.concatenate(at)
        with np.errstate(over="ignore", invalid="ignore"):
            hits = _first_hits(records.mean(axis=1), eps, points_at * batch)
        reached = np.isfinite(hits)
        target = reached.all() if until == "all" else reached.any()
        if target and done * batch >= margin * (hits.max() if until == "all" else hits.min()):
            break
        if done >= steps:
            break
        if bool(dead.all()):
            break
    best_j = int(np.argmin(hits)) if reached.any() else None
    with np.errstate(over="ignore", invalid="ignore"):
        curve = records.mean(axis=1)
    return GridResult(
        method=method,
        lrs=grid,
        gradients=hits,
        best=float(hits[best_j]) if best_j is not None else math.inf,
        lr=float(grid[best_j]) if best_j is not None else None,
        steps=done,
        curve_steps=points_at,
        curve=curve,
        records=records,
        eps=eps,
        batch=batch,
    )


def loglog_fit(x: Any, y: Any, replicates: Any = None) -> tuple[float, float]:
    r"""The least-squares slope of log y on log x and its uncertainty: (slope, standard error).

    With ``replicates`` (shape (B, len(x)): y recomputed on B bootstrap resamples of the seeds) the
    uncertainty is the standard deviation of the replicates' slopes, so it says how much the slope
    owes to the particular seeds; without, the usual least-squares standard error from the
    residuals (needs ≥ 3 finite points). Points with a non-finite or non-positive y are left out.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        raise ValueError("x and y must have at least two finite positive pairs for a slope")
    lx, ly = np.log(x[ok]), np.log(y[ok])
    slope, intercept = np.polyfit(lx, ly, 1)
    if replicates is not None:
        reps = np.asarray(replicates, dtype=float)[:, ok]
        good = np.all(np.isfinite(reps) & (reps > 0), axis=1)
        if good.sum() < 2:
            raise ValueError("replicates must have at least two rows with finite positive values")
        slopes = [np.polyfit(lx, np.log(r), 1)[0] for r in reps[good]]
        return float(slope), float(np.std(slopes, ddof=1))
    if ok.sum() < 3:
        return float(slope), math.nan
    resid = ly - (slope * lx + intercept)
    se = math.sqrt(resid @ resid / (ok.sum() - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    return float(slope), se
