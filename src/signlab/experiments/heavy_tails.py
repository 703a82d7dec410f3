r"""The heavy-tail chapter's computations: tails, averaging, and SGD against the sign methods as ν falls.

The chapter's instance is :func:`heavy_tail_problem`: f(x) = ½‖x‖² in d = 100 with unit-scale
Student-t noise on every coordinate. Step sizes are tuned by :func:`signlab.sim.engine.tune`, which runs a whole
grid of step sizes as one population of the engine (:func:`signlab.sim.engine.simulate`), so a sweep
costs one simulation per method, not one per step size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.experiments._progress import progress
from signlab.experiments.common import initial_point, loglog_fit, race
from signlab.sim.engine import Trajectory, simulate, tune
from signlab.sim.noise import Gaussian, StudentT, dense_sigma, student_t
from signlab.sim.problems import SeparableQuadratic
from signlab.sim.tails import sign_flip_probability, survival, tail_index
from signlab.stats import Estimate

__all__ = [
    "HEAVY_LRS",
    "HEAVY_METHODS",
    "SWEEP_EPS",
    "Crossing",
    "batch_mean_spread",
    "first_crossings",
    "heavy_tail_problem",
    "heavy_tail_race",
    "heavy_tail_sweep",
    "running_second_moment",
    "sign_flip_table",
    "stationary_spread",
    "tail_index_table",
    "tail_survival",
]

HEAVY_METHODS = ("sgd", "signsgd", "signum", "lion")

HEAVY_LRS = tuple(float(x) for x in np.logspace(-3, -1, 9))
"""The step-size grid of the sweep, 10⁻³ … 10⁻¹ in quarter decades."""


def _substream(seed: int, k: int) -> int:
    """An independent seed for the ``k``-th sample drawn from ``seed`` (numpy's SeedSequence)."""
    seed = _validate.integer("seed", seed, low=0)
    return int(np.random.SeedSequence((seed, k)).generate_state(1, dtype=np.uint64)[0] >> 2)


def _draws(nu: float | None, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Unit-scale Student-t draws (``nu=None``: standard Gaussian), reproducibly from ``seed``."""
    if nu is None:
        return np.random.default_rng(seed).standard_normal(shape)
    return student_t(shape, nu, seed).numpy()


def tail_survival(
    nus: Sequence[float | None] = (1.2, 1.5, 3.0, None),
    *,
    thresholds: Any = None,
    n: int = 1_000_000,
    fit: tuple[float, float] = (10.0, 100.0),
    replicates: int = 200,
    seed: int = 1,
) -> dict[str, Any]:
    r"""Empirical tails P(|X| > x) of ``n`` draws for each ν, and their log-log slope over ``fit``.

    A power-law tail P(|X| > x) ~ Cx^(−ν) is a line of slope −ν on log-log axes; a Gaussian tail bends
    down faster than any line (its slope is reported as NaN: it has no draws beyond 10). The
    slope's standard error is a bootstrap of the draws: the counts between consecutive thresholds
    are multinomial, so each of ``replicates`` replicates redraws them from the observed shares
    (the same as resampling the ``n`` draws) and fits again. Returns ``{"x", "tail": {ν: P},
    "slope": {ν: slope}, "se": {ν: its standard error}}``.
    """
    x = np.logspace(-1, 2.5, 60) if thresholds is None else np.asarray(thresholds, dtype=float)
    n = _validate.integer("n", n, low=16)
    replicates = _validate.integer("replicates", replicates, low=2)
    rng = np.random.default_rng(_substream(seed, len(nus)))
    far = (x >= fit[0]) & (x <= fit[1])
    tails, slopes, errors = {}, {}, {}
    for k, nu in enumerate(nus):
        tails[nu] = survival(_draws(nu, (n,), _substream(seed, k)), x)
        ok = far & (tails[nu] > 0)
        if ok.sum() < 3:
            slopes[nu], errors[nu] = math.nan, math.nan
            continue
        # draws in [x_j, x_j+1), and beyond the last threshold: multinomial counts
        shares = -np.diff(np.concatenate([[1.0], tails[nu], [0.0]]))
        counts = rng.multinomial(n, np.clip(shares, 0.0, None) / shares.sum(), replicates)
        again = 1.0 - np.cumsum(counts, axis=1)[:, :-1] / n
        slopes[nu], errors[nu] = loglog_fit(x[ok], tails[nu][ok], again[:, ok])
    return {"x": x, "tail": tails, "slope": slopes, "se": errors}


def running_second_moment(
    nus: Sequence[float | None] = (1.5, 3.0, None),
    *,
    n: int = 1_000_000,
    every: int = 500,
    seed: int = 2,
) -> dict[str, Any]:
    r"""The running mean (1/k)Σ_{j≤k} X_j² of ``n`` draws for each ν, every ``every`` draws.

    It converges to the variance when there is one (ν > 2) and keeps jumping upward when there is
    not (ν ≤ 2). Returns ``{"k", "mean": {ν: values}}``.
    """
    n = _validate.integer("n", n, low=1)
    every = _validate.integer("every", every, low=1)
    k = np.arange(1, n + 1)
    means = {
        nu: (np.cumsum(_draws(nu, (n,), _substream(seed, j)) ** 2) / k)[::every]
        for j, nu in enumerate(nus)
    }
    return {"k": k[::every], "mean": means}


def batch_mean_spread(
    nus: Sequence[float | None] = (1.2, 1.5, None),
    *,
    batches: Sequence[int] = (1, 4, 16, 64, 256, 1024, 4096),
    n: int = 1000,
    fit_from: int = 64,
    replicates: int = 200,
    seed: int = 3,
) -> dict[str, Any]:
    r"""Median |mean of B draws| over ``n`` batches, for each ν and B, with the slope for B ≥ ``fit_from``.

    For noise in the domain of attraction of an α-stable law (α = min(ν, 2)) the median shrinks like
    B^(1/α − 1) (:func:`signlab.sim.tails.mean_scale`) once B is large. Every (ν, B) has its own
    draws; the slope's standard error is a bootstrap over the ``n`` batches (``replicates``
    resamples, :func:`signlab.experiments.common.loglog_fit`). Returns ``{"batches", "median":
    {ν: values}, "slope": {ν: slope}, "se": {ν: its standard error}, "alpha": {ν: α}}``.
    """
    b = np.asarray(batches, dtype=int)
    n = _validate.integer("n", n, low=2)
    replicates = _validate.integer("replicates", replicates, low=2)
    rng = np.random.default_rng(_substream(seed, len(nus) * len(b)))
    resample = rng.integers(0, n, (replicates, n))
    fit = b >= fit_from
    medians, slopes, errors, alphas = {}, {}, {}, {}
    for j, nu in enumerate(nus):
        sizes = np.abs(
            [_draws(nu, (n, int(size)), _substream(seed, j * len(b) + k)).mean(axis=1)
             for k, size in enumerate(b)]
        )  # fmt: skip
        medians[nu] = np.median(sizes, axis=1)
        again = np.median(sizes[:, resample], axis=2).T  # (replicates, len(b))
        slopes[nu], errors[nu] = loglog_fit(b[fit], medians[nu][fit], again[:, fit])
        alphas[nu] = 2.0 if nu is None else min(nu, 2.0)
    return {"batches": b, "median": medians, "slope": slopes, "se": errors, "alpha": alphas}


def tail_index_table(
    nus: Sequence[float | None] = (1.2, 1.5, 1.8, 3.0, None),
    *,
    n: int = 1_000_000,
    parts: int = 10,
    seed: int = 4,
) -> dict[float | None, Estimate]:
    r"""The block estimator :func:`signlab.sim.tails.tail_index` on ``n`` draws for each ν.

    It estimates the stable index α = min(ν, 2) of the law the draws are attracted to: for ν > 2 the
    target is 2, not ν. The standard error is the spread of the estimate over ``parts`` disjoint
    parts of the draws, divided by √parts (each part's estimate uses smaller blocks, so this is
    the seed-to-seed spread of the method, approximately).
    """
    parts = _validate.integer("parts", parts, low=2)
    out = {}
    for k, nu in enumerate(nus):
        draws = _draws(nu, (n,), _substream(seed, k))
        pieces = [tail_index(piece) for piece in np.array_split(draws, parts)]
        out[nu] = Estimate(tail_index(draws), float(np.std(pieces, ddof=1) / math.sqrt(parts)), n)
    return out


def sign_flip_table(
    grad: float = -0.5,
    nus: Sequence[float | None] = (1.2, 1.5, None),
    *,
    batches: Sequence[int] = (1, 16, 256),
    n: int = 40_000,
    seed: int = 5,
) -> dict[float | None, np.ndarray]:
    r"""P(sign(g + ξ̄_B) ≠ sign g) for each ν and B (:func:`signlab.sim.tails.sign_flip_probability`)."""
    return {
        nu: np.array(
            [sign_flip_probability(grad, nu, batch=int(b), n=n, seed=seed) for b in batches]
        )
        for nu in nus
    }


def heavy_tail_problem(
    d: int = 100, nu: float | None = 1.5, *, scale: float = 1.0
) -> tuple[SeparableQuadratic, Any]:
    r"""f(x) = ½‖x‖² in float32 with noise ``scale``·t_ν on every coordinate (``nu=None``: Gaussian).

    The noise has the same scale for every ν, not the same variance: for ν ≤ 2 there is no variance
    to match. The problem is isotropic on purpose, so that any gap between the methods comes from
    the noise's tails, not from the geometry of the curvature.
    """
    d = _validate.integer("d", d, low=1)
    scale = _validate.positive("scale", scale)
    problem = SeparableQuadratic(torch.ones(d, dtype=torch.float32))
    sigma = dense_sigma(d, scale, dtype=torch.float32)
    return problem, (Gaussian(sigma) if nu is None else StudentT(sigma, nu=nu))


@dataclass(frozen=True)
class Crossing:
    r"""N(ε) for each target ε: the gradients used when a mean over runs first falls to ε, best over candidates.

    ``gradients[k]``: N(ε_k) on all the runs (``inf``: not reached); ``se[k]``: its bootstrap
    standard error over the runs (NaN when fewer than two replicates reached ε_k); ``reached[k]``:
    the share of bootstrap replicates that reached ε_k; ``choice[k]``: the label of the winning
    candidate (a step size, a planned budget; NaN if none reached); ``replicates``: the bootstrap
    values, shape (replicates, len(eps)); ``draw``: what fixes the resamples (runs, groups,
    replicates, seed): two crossings with the same ``draw`` were resampled alike, run for run.
    """

    eps: np.ndarray
    gradients: np.ndarray
    se: np.ndarray
    reached: np.ndarray
    choice: np.ndarray
    replicates: np.ndarray
    draw: tuple[int, int, int, int] = (0, 0, 0, 0)

    def _index(self, eps: float) -> int:
        hit = np.flatnonzero(np.isclose(self.eps, eps))
        if hit.size == 0:
            raise ValueError(f"eps must be one of the targets {self.eps.tolist()} (got {eps!r})")
        return int(hit[0])

    def _paired_with(self, other: Crossing) -> None:
        if self.draw != other.draw or self.draw[0] == 0:
            raise ValueError(
                f"other must be resampled like this crossing (draw {other.draw} vs {self.draw})"
            )

    def at(self, eps: float) -> Estimate:
        """N(ε) at one of the targets, as an :class:`signlab.stats.Estimate` (value ± bootstrap SE)."""
        k = self._index(eps)
        return Estimate(float(self.gradients[k]), float(self.se[k]), self.replicates.shape[0])

    def difference(self, other: Crossing, eps: float, *, times: float = 1.0) -> Estimate:
        r"""N(ε) of this crossing minus ``times`` × ``other``'s, with the *paired* bootstrap's error.

        Both must come from the same runs resampled alike (the same ``draw``: the same starts,
        :func:`first_crossings` with the same ``groups``, ``replicates`` and ``seed``); then each
        replicate's difference is taken run for run, so what the two methods share (the starts,
        the noise draws) cancels, and the standard error is that of the difference itself, not
        √(se_a² + se_b²). ``times`` asks "more than ``times`` as many?" (N_a − times·N_b > 0).
        NaN standard error when fewer than two replicates reached ε for both.
        """
        times = _validate.positive("times", times)
        self._paired_with(other)
        k, j = self._index(eps), other._index(eps)
        a, b = self.replicates[:, k], other.replicates[:, j]
        ok = np.isfinite(a) & np.isfinite(b)
        se = float(np.std(a[ok] - times * b[ok], ddof=1)) if ok.sum() >= 2 else math.nan
        with np.errstate(invalid="ignore"):
            value = float(self.gradients[k] - times * other.gradients[j])
        return Estimate(value, se, int(ok.sum()))

    def mean_log_ratio(self, other: Crossing) -> Estimate:
        r"""The mean over the targets of log(N(ε)/N_other(ε)), with the paired bootstrap's error.

        One number for "how many times more gradients, across the targets": below 0 when this
        crossing needs fewer. Targets that either crossing misses on all the runs are left out,
        and so are the replicates that miss any of the others. Both must be resampled alike (the
        same ``draw``, as for :meth:`difference`).
        """
        self._paired_with(other)
        if self.eps.shape != other.eps.shape or not np.allclose(self.eps, other.eps):
            raise ValueError("other must have the same targets")
        both = np.isfinite(self.gradients) & np.isfinite(other.gradients)
        if not both.any():
            raise ValueError("the two crossings share no target that both reach")
        value = float(np.mean(np.log(self.gradients[both] / other.gradients[both])))
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(self.replicates[:, both] / other.replicates[:, both])
        ok = np.all(np.isfinite(logs), axis=1)
        se = float(np.std(logs[ok].mean(axis=1), ddof=1)) if ok.sum() >= 2 else math.nan
        return Estimate(value, se, int(ok.sum()))


def _crossings(means: np.ndarray, used: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Gradients ``used`` at the first point where each row of ``means`` is ≤ each ε (else inf):
    shape (rows, len(eps))."""
    floor = np.minimum.accumulate(means, axis=-1)
    below = floor[:, None, :] <= eps[None, :, None]
    first = np.argmax(below, axis=-1)
    return np.where(below.any(axis=-1), used[first], np.inf)


def first_crossings(
    runs: Sequence[Trajectory],
    eps: Sequence[float] | np.ndarray,
    *,
    labels: Sequence[float] | np.ndarray | None = None,
    scale: float = 1.0,
    replicates: int = 200,
    groups: int = 40,
    seed: int = 0,
) -> Crossing:
    r"""N(ε) for every ε of ``eps``: the fewest gradients with which one of the candidate ``runs``
    brings the mean over its runs of ``scale``·‖∇f‖₁ down to ε, with a bootstrap over the runs.

    The candidates are the same runs (the same x₀ and noise) under different settings: the step
    sizes of a grid (:meth:`signlab.sim.engine.Tuning.run`), the planned budgets of Theorem 1's
    schedule. The runs are dealt into ``groups`` groups (run j into group j mod ``groups``; the
    runs are independent, so the groups are too); each of ``replicates`` bootstrap replicates
    draws the groups with replacement, the same draw for every candidate, and takes the best
    candidate again, so the standard error includes the choice of the winner. One simulation
    serves every ε: a run recorded until it reached the smallest target has crossed every larger
    one. ``scale``: a factor on the recorded ‖∇f‖₁ (``d`` when the runs are the coordinates of a
    separable problem in ``d`` dimensions).
    """
    if not runs:
        raise ValueError("runs must hold at least one trajectory")
    targets = np.asarray(eps, dtype=float)
    if targets.ndim != 1 or targets.size == 0 or not np.all(targets > 0):
        raise ValueError(f"eps must be a non-empty 1-D sequence of targets > 0 (got {eps!r})")
    scale = _validate.positive("scale", scale)
    replicates = _validate.integer("replicates", replicates, low=2)
    n = runs[0]["grad_l1"].shape[0]
    if any(run["grad_l1"].shape[0] != n for run in runs):
        raise ValueError("runs must all hold the same number of runs (one bootstrap draw for all)")
    groups = min(_validate.integer("groups", groups, low=2), n)
    label = np.arange(len(runs), dtype=float) if labels is None else np.asarray(labels, float)
    if label.shape != (len(runs),):
        raise ValueError(f"labels must give one label per run ({len(runs)}; got {label.shape})")
    rng = np.random.default_rng(_validate.integer("seed", seed, low=0))
    member = np.zeros((groups, n))
    member[np.arange(n) % groups, np.arange(n)] = 1.0
    draws = np.ones((replicates + 1, groups))  # row 0: every group once, i.e. all the runs
    draws[1:] = 0.0
    np.add.at(
        draws[1:],
        (np.arange(replicates)[:, None], rng.integers(0, groups, (replicates, groups))),
        1.0,
    )
    weights = draws @ member
    weights *= scale / weights.sum(axis=1, keepdims=True)
    best = np.full((replicates + 1, targets.size), np.inf)
    winner = np.full(targets.size, -1)
    for k, run in enumerate(runs):
        values = np.asarray(run["grad_l1"], dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            means = weights @ np.where(np.isfinite(values), values, 1e300)
        means[~(means < 1e250)] = np.inf  # a diverged run in the resample: not reached
        hits = _crossings(means, np.asarray(run.gradients, dtype=float), targets)
        winner = np.where(hits[0] < best[0], k, winner)
        best = np.minimum(best, hits)
    reps = best[1:]
    finite = np.isfinite(reps)
    count = finite.sum(axis=0)
    mean = np.where(finite, reps, 0.0).sum(axis=0) / np.maximum(count, 1)
    var = (np.where(finite, reps - mean, 0.0) ** 2).sum(axis=0) / np.maximum(count - 1, 1)
    se = np.where(count >= 2, np.sqrt(var), np.nan)
    choice = np.where(winner >= 0, label[np.maximum(winner, 0)], np.nan)
    draw = (n, groups, replicates, seed)
    return Crossing(targets, best[0], se, count / replicates, choice, reps, draw)


SWEEP_EPS = (40.0, 30.0, 20.0, 15.0, 10.0, 8.0)
"""The targets ε of :func:`heavy_tail_sweep` (E‖∇f(x₀)‖₁ ≈ 80 in d = 100)."""


def heavy_tail_sweep(
    nus: Sequence[float | None] = (1.2, 1.5, 2.0, 3.0, None),
    *,
    methods: Sequence[str] = HEAVY_METHODS,
    d: int = 100,
    eps: Sequence[float] = SWEEP_EPS,
    lrs: Sequence[float] = HEAVY_LRS,
    seeds: int = 4,
    steps: int = 1200,
    first: int = 150,
    replicates: int = 200,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[str, list[Crossing]]:
    r"""Gradients each method needs to reach E‖∇f‖₁ ≤ ε at its best step size, for each ν and each ε.

    :func:`heavy_tail_problem` with x₀ ~ N(0, I) (E‖∇f(x₀)‖₁ = d√(2/π) ≈ 80 for d = 100), batch 1,
    the step size picked from ``lrs`` by :func:`signlab.sim.engine.tune`, at most ``steps`` steps.
    The problem is separable and isotropic and every method moves each coordinate on its own, so
    ``seeds`` starts in d dimensions are ``seeds``·d independent one-dimensional runs (400 by
    default), and E‖∇f‖₁ is d times their mean |∂f|; they are run as such, so that the bootstrap
    of :func:`first_crossings` can resample them. Returns, per method, one :class:`Crossing` per ν
    (its ``choice``: the best step size). Signum and Lion use their default momenta (0.9; 0.9
    and 0.99). ``show_progress``: a progress bar over the (ν, method) pairs.
    """
    targets = np.asarray(eps, dtype=float)
    if targets.ndim != 1 or targets.size == 0 or not np.all(targets > 0):
        raise ValueError(f"eps must be a non-empty 1-D sequence of targets > 0 (got {eps!r})")
    d = _validate.integer("d", d, low=1)
    x0 = initial_point(seeds, d, seed, dtype=torch.float32).reshape(-1, 1)
    out: dict[str, list[Crossing]] = {m: [] for m in methods}
    pairs = [(nu, m) for nu in nus for m in methods]
    for nu, method in progress(pairs, show=show_progress, desc="sweep over ν"):
        problem, noise = heavy_tail_problem(1, nu)
        tuned = tune(
            problem, noise, method, x0, lrs, float(targets.min()) / d, steps=steps, first=first,
            seed=seed, margin=1.5, every=1,
        )  # fmt: skip
        runs = [tuned.run(k) for k in range(len(lrs))]
        out[method].append(
            first_crossings(runs, targets, labels=lrs, scale=d, replicates=replicates, seed=seed)
        )
    return out


def heavy_tail_race(
    lrs: dict[str, float],
    nu: float | None = 1.5,
    *,
    d: int = 100,
    steps: int = 800,
    seeds: int = 16,
    batch: int = 1,
    every: int = 1,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""Each method of ``lrs`` (method → step size) on :func:`heavy_tail_problem`, ‖∇f‖₁ per step.

    All methods see the same noise draws (common random numbers), so a spike in SGD's curve is a
    large draw that the sign methods received too. ‖∇f‖₁ is recorded every ``every`` steps.
    """
    x0 = initial_point(seeds, d, seed, dtype=torch.float32)
    problem, noise = heavy_tail_problem(d, nu)
    return race(problem, noise, x0, lrs, steps=steps, batch=batch, seed=seed, every=every)


def stationary_spread(
    method: str,
    lrs: Sequence[float] = (0.1, 0.01),
    nu: float | None = 1.2,
    *,
    runs: int = 4000,
    steps: int | None = None,
    replicates: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    r"""Where ``method`` settles on f(x) = ½x² under unit t_ν noise: the median |x| at each step size.

    Runs of one coordinate start uniform on (−½, ½) (so SignSGD's lattice x₀ + ηℤ is not the same
    for every run) and go on for ``steps`` steps (default 10/min(``lrs``): many relaxation
    times); |x| is read 40 times over the second half of the run. Returns ``{"median": one per
    step size, "factor": Estimate}``, the factor being the median at the last step size over the
    median at the first, its standard error a bootstrap over the runs. For SGD the iterate is an
    EMA of the noise with β = 1 − η (:func:`signlab.sim.tails.ema_scale`); for SignSGD it is a
    walk of steps ±η pulled back towards 0.
    """
    grid = np.asarray(lrs, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or not np.all(grid > 0):
        raise ValueError(f"lrs must hold at least two step sizes > 0 (got {lrs!r})")
    runs = _validate.integer("runs", runs, low=2)
    steps = (
        math.ceil(10 / grid.min()) if steps is None else _validate.integer("steps", steps, low=2)
    )
    problem, noise = heavy_tail_problem(1, nu)
    generator = torch.Generator().manual_seed(_substream(seed, 0))
    x0 = torch.rand(runs * grid.size, 1, generator=generator, dtype=torch.float32) - 0.5
    run = simulate(
        problem, noise, method, x0, lr=np.repeat(grid, runs), steps=steps, seed=seed,
        record=("iterate",), every=max(1, steps // 40),
    )  # fmt: skip
    late = run.steps >= steps // 2
    size = np.abs(run["iterate"][:, late, 0]).reshape(grid.size, runs, -1)
    median = np.median(size.reshape(grid.size, -1), axis=1)
    rng = np.random.default_rng(_substream(seed, 1))
    again = []
    for _ in range(_validate.integer("replicates", replicates, low=2)):
        resample = size[:, rng.integers(0, runs, runs)].reshape(grid.size, -1)
        again.append(np.median(resample[-1]) / np.median(resample[0]))
    factor = Estimate(float(median[-1] / median[0]), float(np.std(again, ddof=1)), runs)
    return {"median": median, "factor": factor}
