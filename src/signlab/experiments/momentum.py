r"""Where momentum helps a sign method, computed: skewed noise, EMA scales, equal-budget races, MVR.

Three mechanisms, each with its control:

- **Skewed noise breaks SignSGD at batch one.** With the two-point noise of
  :class:`signlab.sim.noise.TwoPoint`, E[sign g] ≠ sign ∇f on a whole interval, and B = 1 SignSGD
  settles where the *median* of g is zero (:func:`skewed_problem`, :func:`sign_agreement`,
  :func:`skewed_race`). Averaging before the sign, over a batch or over time, repairs it.
- **An EMA shrinks heavy-tailed noise**, at the rate of a batch of its window
  (:func:`signlab.sim.tails.ema_scale`; measured by :func:`ema_scale_table`).
- **At an equal gradient budget** a batch pays B gradients for each step of length η, momentum pays
  one, plus the lag of its average (:func:`budget_race`). Momentum variance reduction
  (:func:`sign_mvr`) removes the lag for a second gradient per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab._threads import torch_threads
from signlab.experiments._progress import progress
from signlab.experiments.common import initial_point
from signlab.experiments.heavy_tails import Crossing, first_crossings, heavy_tail_problem
from signlab.optim.spec import REQUIRED, Hyper, Spec
from signlab.sim.engine import Method, Recorder, Trajectory, gradients_to_reach, simulate, tune
from signlab.sim.noise import TwoPoint, dense_sigma
from signlab.sim.problems import SeparableQuadratic
from signlab.sim.tails import ema_scale, ema_scale_limit, mean_scale, measure_ema_scale

__all__ = [
    "BUDGET_EPS",
    "MOMENTUM_LRS",
    "RaceInstance",
    "budget_race",
    "ema_scale_table",
    "lag_race",
    "noiseless_control",
    "race_instance",
    "sign_agreement",
    "sign_mvr",
    "skewed_problem",
    "skewed_race",
    "skewed_start",
    "theorem1_run",
]

MOMENTUM_LRS = tuple(float(x) for x in np.logspace(-3, -1 / 3, 9))
"""Step sizes tried for every method of the budget races, 10⁻³ … 10^(−1/3) in thirds of a decade."""

MEAN_X = Recorder("mean_x", lambda problem, x, grad: x.mean(dim=-1))
"""The mean coordinate of x_t: where the runs settle (c for B = 1 SignSGD on the skewed instance)."""


def skewed_problem(
    d: int = 10, sigma: float = 1.0, p: float = 0.1
) -> tuple[SeparableQuadratic, TwoPoint]:
    r"""f(x) = ½‖x‖² (float64) with skewed two-point noise of standard deviation ``sigma`` on every coordinate.

    Each draw is +σ√((1 − p)/p) with probability p and −c = −σ√(p/(1 − p)) otherwise: mean 0,
    variance σ². Since ∂_i f = x_i, B = 1 SignSGD settles at x_i = c (there the median of g_i is 0),
    at ‖∇f‖₁ = d·c (3.33 for the defaults), although the noise is unbiased.
    """
    d = _validate.integer("d", d, low=1)
    sigma = _validate.positive("sigma", sigma)
    return SeparableQuadratic(torch.ones(d, dtype=torch.float64)), TwoPoint(
        dense_sigma(d, sigma), p=p
    )


def skewed_start(
    seeds: int = 16, d: int = 10, seed: int = 0, *, scale: float = 2.0
) -> torch.Tensor:
    """x₀ = ``scale``·N(0, I_d) for each of ``seeds`` runs (float64)."""
    return _validate.positive("scale", scale) * initial_point(seeds, d, seed)


def sign_agreement(
    grads: Any,
    *,
    sigma: float = 1.0,
    p: float = 0.1,
    batches: Sequence[int] = (1, 8),
    betas: Sequence[float] = (0.9,),
    lion: tuple[float, float] | None = (0.9, 0.99),
    chains: int = 10_000,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    r"""E[sign(·)] of what each method takes the sign of, at true gradient ∂f for each value in ``grads``.

    - ``"B=k"``: the mean of k draws, exactly (:meth:`TwoPoint.expected_sign`);
    - ``"EMA β"``: Signum's m = ∂f + EMA_β(ξ) in its stationary state, by Monte Carlo over
      ``chains`` chains of the EMA of the noise run for ⌈6/(1 − β)⌉ steps (β^K ≤ e⁻⁶: the start
      is forgotten);
    - ``"Lion"``: Lion's c = β₁m + (1 − β₁)g, with m an EMA_β₂ of the past draws and g a fresh one.

    The noise does not depend on ∂f, so the same chains serve every value of ``grads`` (smooth
    curves, one simulation). The Monte-Carlo standard error of each value is at most 1/√chains
    (0.01 for the default). Returns arrays aligned with ``grads``, with ``"sign"``: sign(∂f) itself.
    """
    g = torch.as_tensor(np.asarray(grads, dtype=float))
    if g.ndim != 1:
        raise ValueError(
            f"grads must be a 1-D sequence of gradient values (got shape {tuple(g.shape)})"
        )
    out = {"sign": torch.sign(g).numpy()}
    for b in batches:
        out[f"B={b}"] = TwoPoint(dense_sigma(len(g), sigma), p=p).expected_sign(g, batch=b).numpy()
    oracle = TwoPoint(dense_sigma(1, sigma), p=p)
    generator = torch.Generator().manual_seed(_validate.integer("seed", seed, low=0))
    chains = _validate.integer("chains", chains, low=1)
    zero = torch.zeros(chains, 1, dtype=torch.float64)

    def ema(beta: float) -> torch.Tensor:
        m = torch.zeros_like(zero)
        for _ in range(math.ceil(6.0 / (1.0 - beta))):
            m = torch.lerp(m, oracle.sample(zero, 1, generator), 1.0 - beta)
        return m

    def expected_sign(noise: torch.Tensor) -> np.ndarray:  # noise (chains, 1) + each ∂f
        return torch.sign(g + noise).mean(dim=0).numpy()

    with torch_threads(1):  # small tensors in a loop: one thread is fastest on a shared machine
        for beta in betas:
            beta = _validate.unit_interval("betas", beta)
            out[f"EMA {beta:g}"] = expected_sign(ema(beta))
        if lion is not None:
            b1, b2 = lion
            out["Lion"] = expected_sign(
                torch.lerp(ema(b2), oracle.sample(zero, 1, generator), 1 - b1)
            )
    return out


def skewed_race(
    lrs: dict[str, float] | None = None,
    *,
    growth: int = 20,
    steps: int = 3000,
    seeds: int = 16,
    every: int = 10,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""B = 1 SignSGD, SignSGD with a growing batch, Signum and Lion (B = 1) on :func:`skewed_problem`.

    The growing batch is B_t = 1 + ⌊t/``growth``⌋ (so B grows ∝ t, as Theorem 1's B ∝ T asks);
    records ‖∇f‖₁ and the mean coordinate of x_t (:data:`MEAN_X`) every ``every`` steps. Keys:
    ``"signsgd"``, ``"signsgd, growing B"``, ``"signum"``, ``"lion"``.
    """
    growth = _validate.integer("growth", growth, low=1)
    lrs = {"signsgd": 0.003, "signum": 0.003, "lion": 0.003} if lrs is None else lrs
    problem, oracle = skewed_problem()
    x0 = skewed_start(seeds, seed=seed)
    record = ("grad_l1", MEAN_X)
    common: dict[str, Any] = dict(steps=steps, seed=seed, record=record, every=every)
    out = {"signsgd": simulate(problem, oracle, "signsgd", x0, lr=lrs["signsgd"], **common)}
    out["signsgd, growing B"] = simulate(
        problem, oracle, "signsgd", x0, lr=lrs["signsgd"], batch=lambda t: 1 + t // growth, **common
    )
    for method in ("signum", "lion"):
        out[method] = simulate(problem, oracle, method, x0, lr=lrs[method], **common)
    return out


def ema_scale_table(
    alphas: Sequence[float] = (1.2, 1.5, 1.8, 2.0),
    betas: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.99),
    *,
    chains: int = 10_000,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[float, dict[str, np.ndarray]]:
    r"""The EMA scale of unit α-stable noise, measured and predicted, for each α and β.

    Per α: ``"measured"`` and ``"stderr"`` (:func:`signlab.sim.tails.measure_ema_scale`), ``"exact"``
    (1 − β)/(1 − β^α)^{1/α}, ``"limit"`` α^{−1/α}(1 − β)^{1 − 1/α}, and ``"mean"``: the scale
    B^{1/α − 1} of the mean of B = 1/(1 − β) draws, the batch of the same window.
    """
    b = np.asarray(betas, dtype=float)
    out = {}
    for k, alpha in enumerate(progress(alphas, show=show_progress, desc="EMA scales")):
        measured, stderr = measure_ema_scale(alpha, b, chains=chains, seed=seed + k)
        out[alpha] = {
            "measured": measured,
            "stderr": stderr,
            "exact": ema_scale(alpha, b),
            "limit": ema_scale_limit(alpha, b),
            "mean": mean_scale(1.0 / (1.0 - b), alpha),
        }
    return out


class _SignMVR:
    r"""Sign descent on a momentum-variance-reduced estimate (the rule behind :func:`sign_mvr`)."""

    spec = Spec(
        "sign_mvr",
        (
            Hyper("lr", REQUIRED, _validate.positive, "step size η > 0"),
            Hyper("momentum", 0.9, _validate.unit_interval, "β ∈ [0, 1): d ← g + β(d − g̃)"),
        ),
    )

    def __init__(self, problem: Any) -> None:
        self._problem = problem

    def unchecked(self, param, grad, state, *, lr, momentum):
        here = self._problem.gradient(param)
        if state is None:
            d = grad
        else:
            # the same sample at the previous point: additive noise g - ∇f(x_t), plus ∇f(x_{t-1})
            previous = state["previous"] + (grad - here)
            d = grad + momentum * (state["estimate"] - previous)
        step = torch.add(param, torch.sign(d), alpha=-lr)
        return step, {"estimate": d, "previous": here}


def sign_mvr(problem: Any, oracle: Any) -> Method:
    r"""Sign descent on the momentum-variance-reduced estimate d_t (STORM's estimator), as a Method.

    .. math::

       d_t = g(x_t; \xi_t) + \beta\,\big(d_{t-1} - g(x_{t-1}; \xi_t)\big), \qquad
       x_{t+1} = x_t - \eta\,\operatorname{sign}(d_t)

    (d_1 = g_1): the same sample ξ_t evaluated at the current and the previous point, two gradient
    evaluations per step (the Method says so, ``gradients_per_step=2``, and the engine counts
    both). With additive
    noise, g(x; ξ) = ∇f(x) + ξ, the error e_t = d_t − ∇f(x_t) obeys e_t = βe_{t−1} + (1 − β)ξ_t
    exactly: an EMA of the noise and nothing else. Signum's error m_t − ∇f(x_t) obeys the same
    recursion minus β(∇f(x_t) − ∇f(x_{t−1})): its average also lags behind the moving gradient.
    Needs an additive oracle (the noise must not depend on x) and the problem's exact gradient,
    from which g(x_{t−1}; ξ_t) = ∇f(x_{t−1}) + (g_t − ∇f(x_t)) is formed.
    """
    if not getattr(oracle, "additive", False):
        raise ValueError("sign_mvr needs an additive oracle (noise independent of x)")
    return Method("sign_mvr", _SignMVR(problem), gradients_per_step=2.0)


def theorem1_run(
    problem: Any,
    oracle: Any,
    x0: torch.Tensor,
    sigma: Any,
    budget: float,
    *,
    seed: int = 0,
    every: int = 1,
) -> tuple[Trajectory, dict[str, float]]:
    r"""SignSGD with Theorem 1's hyperparameters for a budget of ``budget`` gradients.

    B = max(1, ‖σ‖₁√(2N/(L∞Δ))), T = N/B, η = √(2Δ/(L∞T))
    (:func:`signlab.theory.bounds.signsgd_schedule`, B and T rounded), with L∞ = ‖L‖₁ and
    Δ = mean f(x₀) over the runs (inf f = 0). Returns the run (‖∇f‖₁ every ``every`` steps) and the
    schedule ``{"batch", "steps", "lr"}``.
    """
    from signlab.theory.bounds import signsgd_schedule

    delta = float(problem.value(x0).mean())
    schedule = signsgd_schedule(budget, problem.linf_smoothness, delta, sigma)
    batch = max(1, round(schedule["batch"]))
    steps = max(1, round(budget / batch))
    run = simulate(
        problem, oracle, "signsgd", x0, lr=schedule["lr"], steps=steps, batch=batch, seed=seed,
        record=("grad_l1",), every=every,
    )  # fmt: skip
    return run, {"batch": batch, "steps": steps, "lr": schedule["lr"]}


BUDGET_EPS = {"skewed": (0.5, 0.7, 1.0, 1.5, 2.0), "student_t": (8.0, 10.0, 15.0, 20.0, 30.0)}
"""The targets ε of :func:`budget_race` on each instance (B = 1 SignSGD stalls at 3.33 on the
skewed one; E‖∇f(x₀)‖₁ ≈ 80 on the Student-t one)."""


@dataclass(frozen=True)
class RaceInstance:
    """A :func:`budget_race` instance, run as independent one-dimensional runs.

    ``problem`` and ``oracle`` act on one coordinate, ``x0`` holds ``seeds``·``d`` starts (the
    coordinates of ``seeds`` starts in ``d`` dimensions: the problem is separable and every method
    moves each coordinate on its own), so E‖∇f‖₁ in d dimensions is ``d`` times the mean of the
    recorded |∂f|. ``sigma``: σ of one coordinate for Theorem 1; ``eps``: the targets.
    """

    problem: Any
    oracle: Any
    x0: torch.Tensor
    sigma: torch.Tensor
    d: int
    eps: tuple[float, ...]


def race_instance(name: str, seed: int = 0) -> RaceInstance:
    r"""The named instance of :func:`budget_race`, its starts drawn from ``seed``.

    ``"skewed"``: :func:`skewed_problem` (d = 10), 16 starts from :func:`skewed_start`;
    ``"student_t"``: the heavy-tail chapter's isotropic problem in d = 100 at ν = 3
    (σ_i = √3, the noise's standard deviation), 4 starts from x₀ ~ N(0, I).
    """
    if name == "skewed":
        problem, oracle = skewed_problem(1)
        x0 = skewed_start(16, 10, seed).reshape(-1, 1)
        return RaceInstance(problem, oracle, x0, oracle.sigma, 10, BUDGET_EPS["skewed"])
    if name == "student_t":
        problem, oracle = heavy_tail_problem(1, 3.0)
        x0 = initial_point(4, 100, seed, dtype=torch.float32).reshape(-1, 1)
        sigma = torch.full((1,), math.sqrt(3.0))
        return RaceInstance(problem, oracle, x0, sigma, 100, BUDGET_EPS["student_t"])
    raise ValueError(f"instance must be 'skewed' or 'student_t' (got {name!r})")


# budget_race's default budgets (a module constant: mypy misreads a generator in a default)
_BUDGETS = tuple(float(x) for x in np.logspace(2, 6, 13))


def budget_race(
    instance: str = "skewed",
    *,
    eps: Sequence[float] | None = None,
    lrs: Sequence[float] = MOMENTUM_LRS,
    steps: int = 4000,
    budgets: Sequence[float] = _BUDGETS,
    batches: Sequence[int] = (4, 8, 16, 32),
    replicates: int = 200,
    seed: int = 0,
    show_progress: bool = False,
) -> dict[str, dict[str, Any]]:
    r"""Gradients to reach E‖∇f‖₁ ≤ ε for each way of averaging the noise, for a range of ε.

    ``instance``: ``"skewed"`` or ``"student_t"`` (:func:`race_instance`; ``eps`` defaults to
    :data:`BUDGET_EPS` of the instance). Rows:

    - ``"signsgd B=1"``, ``"signum B=1"`` (β = 0.9), ``"lion B=1"`` (β = (0.9, 0.99)),
      ``"sign-MVR β=0.9"`` and ``"sign-MVR β=0.99"`` (:func:`sign_mvr`, two gradients per step): the
      step size tuned over ``lrs`` by :func:`signlab.sim.engine.tune`, at most ``steps`` steps
      (``steps/4`` for B = 1 SignSGD, which stalls at d·c on the skewed instance and is fastest
      on the other);
    - ``"Theorem 1"``: :func:`theorem1_run` for each planned budget of ``budgets``, the best of
      them (its own B, T and η, untuned), up to the first budget that reaches the smallest ε;
    - ``"best constant B"``: SignSGD at each B of ``batches``, each with its step size tuned, the
      best (B, η) (the control: a batch tuned to this instance).

    Each row: ``{"crossing", "batch"}``, the :class:`signlab.experiments.heavy_tails.Crossing`
    (N(ε) with its bootstrap standard error over the runs; ``choice``: the winning step size, or
    the winning budget for Theorem 1) and the batch of the winner at each ε.
    """
    race = race_instance(instance, seed)
    targets = np.asarray(race.eps if eps is None else eps, dtype=float)
    problem, oracle, x0 = race.problem, race.oracle, race.x0
    smallest = float(targets.min()) / race.d

    def crossing(runs, labels):
        return first_crossings(
            runs, targets, labels=labels, scale=race.d, replicates=replicates, seed=seed
        )

    def tuned(method, batch=1, cap=steps, **hyper):
        result = tune(
            problem, oracle, method, x0, lrs, smallest, steps=cap, batch=batch, seed=seed,
            margin=1.5, **hyper,
        )  # fmt: skip
        return [result.run(k) for k in range(len(lrs))]

    def one_sample(method, cap=steps, **hyper):  # B = 1, the step size tuned
        return lambda: {
            "crossing": crossing(tuned(method, cap=cap, **hyper), lrs),
            "batch": np.ones(targets.size),
        }

    def best_constant_batch():
        runs, labels, sizes = [], [], []
        for b in batches:
            runs += tuned("signsgd", batch=int(b), cap=max(64, steps // int(b)))
            labels += list(lrs)
            sizes += [int(b)] * len(lrs)
        found = crossing(runs, np.arange(len(runs)))
        return _relabel(found, np.asarray(labels), np.asarray(sizes, dtype=float))

    mvr = sign_mvr(problem, oracle)
    jobs = {
        "signsgd B=1": one_sample("signsgd", cap=max(64, steps // 4)),
        "signum B=1": one_sample("signum", momentum=0.9),
        "lion B=1": one_sample("lion"),
        "sign-MVR β=0.9": one_sample(mvr, momentum=0.9),
        "sign-MVR β=0.99": one_sample(mvr, momentum=0.99),
        "best constant B": best_constant_batch,
        "Theorem 1": lambda: _theorem1_row(race, targets, budgets, crossing, seed),
    }
    shown = progress(jobs.items(), show=show_progress, desc=f"budget race ({instance})")
    return {label: job() for label, job in shown}


def _relabel(found, labels, sizes) -> dict[str, Any]:
    """A crossing whose ``choice`` indexes candidates: the winner's step size and batch."""
    index = np.where(np.isfinite(found.choice), found.choice, 0).astype(int)
    ok = np.isfinite(found.choice)
    choice = np.where(ok, labels[index], np.nan)
    return {"crossing": replace(found, choice=choice), "batch": np.where(ok, sizes[index], np.nan)}


def _theorem1_row(race, targets, budgets, crossing, seed) -> dict[str, Any]:
    """Theorem 1's runs for the planned budgets in increasing order, up to the first that reaches
    the smallest target; the best of them at each ε (``choice``: the planned budget)."""
    runs, plan, sizes = [], [], []
    for budget in sorted(budgets):
        run, schedule = theorem1_run(
            race.problem, race.oracle, race.x0, race.sigma, budget, seed=seed
        )
        runs.append(run)
        plan.append(float(budget))
        sizes.append(float(schedule["batch"]))
        if math.isfinite(gradients_to_reach(run, float(targets.min()) / race.d)):
            break
    found = crossing(runs, np.arange(len(runs)))
    return _relabel(found, np.asarray(plan), np.asarray(sizes))


def lag_race(
    lr: float = 0.01,
    betas: Sequence[float] = (0.9, 0.99),
    *,
    steps: int = 2000,
    seeds: int = 16,
    every: int = 10,
    seed: int = 0,
) -> dict[str, Trajectory]:
    r"""Signum against sign-MVR (:func:`sign_mvr`) at the same β and step size, on :func:`skewed_problem`.

    Both average the noise with the same EMA weights; Signum's average also lags behind the moving
    gradient, MVR's does not. Keys ``"signum β"`` and ``"sign-MVR β"``; the MVR runs' ``gradients``
    count two evaluations per step.
    """
    problem, oracle = skewed_problem()
    x0 = skewed_start(seeds, seed=seed)
    mvr = sign_mvr(problem, oracle)
    out = {}
    for beta in betas:
        common: dict[str, Any] = dict(
            lr=lr, steps=steps, seed=seed, record=("grad_l1",), every=every, momentum=beta
        )
        out[f"signum {beta:g}"] = simulate(problem, oracle, "signum", x0, **common)
        out[f"sign-MVR {beta:g}"] = simulate(problem, oracle, mvr, x0, **common)
    return out


def noiseless_control(
    instance: str = "skewed",
    *,
    eps: Sequence[float] | None = None,
    lrs: Sequence[float] = MOMENTUM_LRS,
    steps: int = 2000,
    seed: int = 0,
) -> dict[str, Crossing]:
    r"""N(ε) of SignSGD, Signum (β = 0.9) and Lion with exact gradients on a :func:`budget_race` instance.

    The control for the races: without noise there is nothing to average, so what momentum costs
    here is its lag alone (step size tuned over ``lrs``; the standard error is over the starts).
    """
    race = race_instance(instance, seed)
    targets = np.asarray(race.eps if eps is None else eps, dtype=float)
    out = {}
    for method in ("signsgd", "signum", "lion"):
        result = tune(
            race.problem, None, method, race.x0, lrs, float(targets.min()) / race.d,
            steps=steps, seed=seed, margin=1.5,
        )  # fmt: skip
        runs = [result.run(k) for k in range(len(lrs))]
        out[method] = first_crossings(runs, targets, labels=lrs, scale=race.d, seed=seed)
    return out
