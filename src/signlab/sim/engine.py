r"""One vectorised engine: an update rule on a problem with a noise model, many seeds at once.

A run iterates x_{t+1} = rule(x_t, g_t) with g_t the mean of B stochastic gradients at x_t, for a
whole population of independent problems stacked along the leading dims of x (shape
(seeds, \*shape)), and records per-step statistics such as f(x_t), ‖∇f(x_t)‖₁ and ‖∇f(x_t)‖₂.
The update rules are those of :mod:`signlab.optim.functional`, called through small *adapters*
(:class:`Method`, :data:`METHODS`): a new method is one :func:`register_method` call, not a new
simulator. The same seed gives the same noise draws to every method and step size when the noise
is additive (common random numbers), so comparisons between methods are not blurred by luck.

"Gradients used" counts stochastic gradients: B per step, N = B·t after t steps, the currency of
the complexity bounds (Tao, Yu & Zhang, arXiv:2605.06615). :func:`gradients_to_reach` reads off N
at which the seed-mean of ‖∇f‖₁ first drops to ε, :func:`tune` picks the step size minimising it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from signlab import _validate
from signlab.optim import functional as F

__all__ = [
    "METHODS",
    "RECORDERS",
    "Method",
    "Trajectory",
    "gradients_to_reach",
    "noise_generator",
    "register_method",
    "register_recorder",
    "simulate",
    "sweep",
    "tune",
]

_CHECK_EVERY = 64
Step = Callable[[torch.Tensor, torch.Tensor, Any, dict, tuple], tuple[torch.Tensor, Any]]


@dataclass(frozen=True)
class Method:
    """An adapter: ``step(param, grad, state, hyper, dims) -> (param, state)`` calls one rule.

    ``state`` starts as ``None`` (every rule of :mod:`signlab.optim.functional` accepts that);
    ``hyper`` holds ``lr`` and the rule's other keywords, starting from ``defaults``; ``dims`` are
    the dims of one problem (the others index independent seeds), for rules that reduce over them.
    """

    name: str
    step: Step
    defaults: dict = field(default_factory=dict)


METHODS: dict[str, Method] = {}


def register_method(name: str, step: Step, **defaults: Any) -> Method:
    """Register the adapter ``step`` under ``name`` (e.g. "muon" on (seeds, m, n) parameters)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string (got {name!r})")
    METHODS[name] = Method(name, step, dict(defaults))
    return METHODS[name]


register_method("sgd", lambda p, g, s, h, dims: F.sgd(p, g, s, check_finite=False, **h))
register_method("signsgd", lambda p, g, s, h, dims: (F.signsgd(p, g, check_finite=False, **h), s))
register_method("signum", lambda p, g, s, h, dims: F.signum(p, g, s, check_finite=False, **h))
register_method("lion", lambda p, g, s, h, dims: F.lion(p, g, s, check_finite=False, **h))
register_method(
    "normalized_sgd",
    lambda p, g, s, h, dims: (F.normalized_sgd(p, g, dim=dims, check_finite=False, **h), s),
)


def _grad_l1(problem, x, grad, dims):
    return grad.abs().sum(dim=dims)


def _grad_l2(problem, x, grad, dims):
    return torch.linalg.vector_norm(grad, dim=dims)


def _grad_linf(problem, x, grad, dims):
    return grad.abs().amax(dim=dims)


def _grad_nuclear(problem, x, grad, dims):
    if len(dims) != 2:
        raise ValueError(f"record 'grad_nuc' needs matrix parameters (got {len(dims)} dims)")
    return torch.linalg.matrix_norm(grad, ord="nuc")


RECORDERS: dict[str, Callable] = {
    "f": lambda problem, x, grad, dims: problem.value(x),
    "grad_l1": _grad_l1,
    "grad_l2": _grad_l2,
    "grad_linf": _grad_linf,
    "grad_nuc": _grad_nuclear,
}


def register_recorder(name: str, record: Callable) -> None:
    """Register ``record(problem, x, grad, dims) -> (seeds,)``, a statistic recorded per step."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string (got {name!r})")
    RECORDERS[name] = record


def noise_generator(seed: int) -> torch.Generator:
    """The torch generator of a run's noise, seeded from ``seed`` through numpy's SeedSequence.

    The mixing keeps the noise independent of anything drawn from ``manual_seed(seed)`` directly
    (for instance x₀): with the same raw seed, x₀ and the first noise draw would coincide.
    """
    seed = _validate.integer("seed", seed, low=0)
    state = np.random.SeedSequence((seed, 0x5EED)).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


@dataclass(frozen=True)
class Trajectory:
    """The record of one run: ``records[name]`` has shape (seeds, len(steps)), at ``steps``.

    A run that blew up (a non-finite iterate) records ``inf`` from then on, never NaN.
    """

    method: str
    lr: float
    batch: int
    steps: np.ndarray
    records: dict[str, np.ndarray]
    x: torch.Tensor

    @property
    def gradients(self) -> np.ndarray:
        """Stochastic gradients used at each recorded step: N = B·t."""
        return self.batch * self.steps

    def __getitem__(self, name: str) -> np.ndarray:
        return self.records[name]


def simulate(
    problem: Any,
    noise: Any,
    method: str,
    x0: torch.Tensor,
    *,
    lr: float,
    steps: int,
    batch: int = 1,
    seed: int = 0,
    record: Sequence[str] = ("f", "grad_l1", "grad_l2"),
    every: int = 1,
    until: float | None = None,
    threads: int | None = 1,
    **hyper: Any,
) -> Trajectory:
    r"""Run ``method`` from ``x0`` (shape (seeds, \*problem.shape)) for ``steps`` steps.

    At each step g_t = ``noise.gradient(∇f(x_t), batch, generator)`` (``noise=None``: exact
    gradients) and x_{t+1} = rule(x_t, g_t) with learning rate ``lr`` and keywords ``hyper``.
    ``record`` names entries of :data:`RECORDERS`, evaluated at x_0 and every ``every`` steps.
    ``until``: stop once the seed-mean of ‖∇f‖₁ is ≤ ``until`` at a recorded step.
    ``threads``: torch intra-op threads during the run (restored after; ``None`` leaves them as
    they are). One is the default: the per-step tensors are small, and on a shared machine extra
    threads made runs up to 10 times slower in our measurements (benchmarks/simulate.md).
    """
    if threads is None:
        return _simulate(
            problem, noise, method, x0, lr, steps, batch, seed, record, every, until, hyper
        )
    threads = _validate.integer("threads", threads, low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _simulate(
            problem, noise, method, x0, lr, steps, batch, seed, record, every, until, hyper
        )
    finally:
        torch.set_num_threads(previous)


def _simulate(problem, noise, method, x0, lr, steps, batch, seed, record, every, until, hyper):
    method = _validate.choice("method", method, METHODS)
    lr = _validate.positive("lr", lr)
    steps = _validate.integer("steps", steps, low=0)
    batch = _validate.integer("batch", batch, low=1)
    every = _validate.integer("every", every, low=1)
    seed = _validate.integer("seed", seed, low=0)
    for name in record:
        _validate.choice("record", name, RECORDERS)
    if until is not None:
        until = _validate.positive("until", until)
    if not isinstance(x0, torch.Tensor) or not x0.is_floating_point():
        raise ValueError("x0 must be a floating-point torch tensor of shape (seeds, *shape)")
    _validate.finite_array("x0", x0)
    shape_ndim = len(problem.shape)
    if x0.ndim <= shape_ndim or tuple(x0.shape[x0.ndim - shape_ndim :]) != tuple(problem.shape):
        raise ValueError(f"x0 must have shape (seeds, *{problem.shape}) (got {tuple(x0.shape)})")
    dims = tuple(range(x0.ndim - shape_ndim, x0.ndim))
    adapter = METHODS[method]
    options = {**adapter.defaults, **hyper, "lr": lr}
    generator = noise_generator(seed)

    n_rec = steps // every + 1
    names = tuple(dict.fromkeys((*record, *(("grad_l1",) if until is not None else ()))))
    rows: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    x, state = x0, None
    for t in range(steps + 1):
        grad = problem.gradient(x)
        if t % every == 0:
            for name in names:
                rows[name].append(RECORDERS[name](problem, x, grad, dims))
            if until is not None and float(rows["grad_l1"][-1].mean()) <= until:
                n_rec = len(rows["grad_l1"])
                break
        if t % _CHECK_EVERY == 0 and not bool(torch.isfinite(x).any()):
            break
        if t == steps:
            break
        g = grad if noise is None else noise.gradient(grad, batch, generator)
        x, state = adapter.step(x, g, state, options, dims)
    records = {}
    for name in names:
        values = torch.stack(rows[name], dim=-1).double().numpy()
        values = np.where(np.isnan(values), np.inf, values)
        pad = np.full((*values.shape[:-1], n_rec - values.shape[-1]), np.inf)
        records[name] = np.concatenate([values, pad], axis=-1)
    return Trajectory(method, lr, batch, np.arange(n_rec) * every, records, x)


def gradients_to_reach(trajectory: Trajectory, eps: float, *, record: str = "grad_l1") -> float:
    r"""N(ε): the gradients used when the seed-mean of ``record`` (default ‖∇f‖₁) first is ≤ ε.

    The mean over seeds estimates the expectation E‖∇f(x_t)‖₁ of the bounds; ``inf`` if the run
    never gets there.
    """
    eps = _validate.positive("eps", eps)
    _validate.choice("record", record, trajectory.records)
    with np.errstate(over="ignore"):  # huge values of a diverging run average to inf: not reached
        hit = np.flatnonzero(trajectory.records[record].mean(axis=0) <= eps)
    return float(trajectory.gradients[hit[0]]) if hit.size else math.inf


def sweep(
    problem: Any, noise: Any, method: str, x0: torch.Tensor, lrs: Sequence[float], **kwargs: Any
) -> list[Trajectory]:
    """One :func:`simulate` run per learning rate in ``lrs``, all with the same seed and noise."""
    if len(lrs) == 0:
        raise ValueError("lrs must contain at least one learning rate")
    return [simulate(problem, noise, method, x0, lr=lr, **kwargs) for lr in lrs]


def tune(
    problem: Any,
    noise: Any,
    method: str,
    x0: torch.Tensor,
    lrs: Sequence[float],
    eps: float,
    *,
    steps: int,
    first: int = 64,
    **kwargs: Any,
) -> tuple[float | None, float]:
    r"""The step size in ``lrs`` that reaches E‖∇f‖₁ ≤ ε with the fewest gradients: (lr, N(ε)).

    Every step size is run for ``first`` steps, then twice as long, and so on up to ``steps``,
    until one reaches ε; the others are then run no longer than the best (a longer run cannot win).
    A step size whose error plateaus above ε thus costs at most about twice the best run, not
    ``steps``. Runs are reproducible, so a rerun with a longer cap repeats the shorter one.
    Returns (None, inf) if no step size reaches ε within ``steps`` steps.
    """
    eps = _validate.positive("eps", eps)
    steps = _validate.integer("steps", steps, low=1)
    first = _validate.integer("first", first, low=1)
    if len(lrs) == 0:
        raise ValueError("lrs must contain at least one learning rate")
    batch = kwargs.get("batch", 1)
    best: tuple[float | None, float] = (None, math.inf)
    cap = min(first, steps)
    while True:
        for lr in lrs:
            limit = cap if best[0] is None else min(cap, int(best[1]) // batch)
            run = simulate(problem, noise, method, x0, lr=lr, steps=limit, until=eps, **kwargs)
            n = gradients_to_reach(run, eps)
            if n < best[1]:
                best = (run.lr, n)
        if best[0] is not None or cap == steps:
            return best
        cap = min(2 * cap, steps)
