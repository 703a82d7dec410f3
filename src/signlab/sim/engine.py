r"""The one step loop: an update rule on a problem with an oracle, for a population of runs at once.

Every simulation in the book goes through :func:`simulate`. A run iterates

.. math:: g_t = \text{oracle}(\nabla f(x_t)),\qquad x_{t+1} = \text{rule}(x_t, g_t)

for a whole population of independent runs stacked along the leading dims of x (shape
(runs, \*problem.shape)), and *recorders* (:class:`Recorder`) measure what a chapter needs at x_0 and
every ``every`` steps: f(x_t), ‖∇f(x_t)‖₁, ‖∇f(x_t)‖₂, ‖∇F(W_t)‖_*, the iterates themselves, or a
problem's own statistic (the zero chain's progress). The vocabulary is the same everywhere:

- a *problem* has ``shape``, ``value(x)`` and ``gradient(x)`` (:mod:`signlab.sim.problems`, the
  lower-bound constructions of :mod:`signlab.theory.lowerbound`);
- an *oracle* has ``sample(grad, batch, generator, x=x)``, the mean of ``batch`` stochastic gradients
  (:mod:`signlab.sim.noise`; ``None`` means exact gradients);
- a *method* is a named update rule of :mod:`signlab.optim.functional` with the engine's defaults
  (:data:`METHODS`): SGD, SignSGD, Signum, Lion, normalized SGD, steepest descent under a norm with
  its model's step length, and Muon (on matrix problems, with the theory's defaults: exact msign, no
  momentum, no shape scaling).

The same seed gives the same draws to every method and step size when the oracle is additive
(common random numbers), so comparisons between methods are not blurred by luck. "Gradients used"
counts stochastic gradients: B per step, N = Σ_t B_t, the currency of the complexity bounds (Tao, Yu &
Zhang, arXiv:2605.06615). :func:`gradients_to_reach` reads off N at which the run-mean of ‖∇f‖₁ first
drops to ε; :func:`tune` picks the step size minimising it.
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
    "Recorder",
    "Trajectory",
    "gradients_to_reach",
    "noise_generator",
    "simulate",
    "tune",
]

_CHECK_EVERY = 64


@dataclass(frozen=True)
class Method:
    """A named update rule of :mod:`signlab.optim.functional` with the engine's default keywords.

    ``separable`` says that the rule moves each coordinate using that coordinate's gradient only
    (so a problem may store a class of identical coordinates once, with its multiplicity).
    """

    name: str
    rule: Callable[..., Any]
    defaults: dict = field(default_factory=dict)
    separable: bool = True


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("sgd", F.sgd),
        Method("signsgd", F.signsgd),
        Method("signum", F.signum),
        Method("lion", F.lion),
        Method("normalized_sgd", F.normalized_sgd, separable=False),
        Method("steepest_descent", F.steepest_descent, separable=False),
        Method(
            "muon",
            F.muon,
            dict(momentum=0.0, nesterov=False, method="svd", adjust_lr_fn="none"),
            separable=False,
        ),
    )
}
"""The methods :func:`simulate` knows by name (pass a :class:`Method` for any other rule)."""


def _dims(problem: Any) -> tuple[int, ...]:
    return tuple(range(-len(problem.shape), 0))


def _weights(problem: Any, grad: torch.Tensor) -> torch.Tensor | None:
    m = getattr(problem, "multiplicity", None)
    return None if m is None else m.to(grad.dtype)


def _grad_l1(problem, x, grad):
    a, w = grad.abs(), _weights(problem, grad)
    return (a if w is None else a * w).sum(dim=_dims(problem))


def _grad_l2(problem, x, grad):
    w = _weights(problem, grad)
    if w is None:
        return torch.linalg.vector_norm(grad, dim=_dims(problem))
    return (grad * grad * w).sum(dim=_dims(problem)).sqrt()


def _grad_linf(problem, x, grad):
    a, w = grad.abs(), _weights(problem, grad)
    return (a if w is None else torch.where(w > 0, a, 0.0)).amax(dim=_dims(problem))


def _grad_nuclear(problem, x, grad):
    if len(problem.shape) != 2:
        raise ValueError(f"record 'grad_nuc' needs a matrix problem (got shape {problem.shape})")
    return torch.linalg.matrix_norm(grad, ord="nuc")


@dataclass(frozen=True)
class Recorder:
    """What to record: ``measure(problem, x, grad)`` returns one row per run (shape (runs, ...)).

    The built-in ones are in :data:`RECORDERS`; a problem-specific statistic is a new
    ``Recorder("progress", lambda problem, x, grad: problem.progress(x))``.
    """

    name: str
    measure: Callable[[Any, torch.Tensor, torch.Tensor], torch.Tensor]


RECORDERS: dict[str, Recorder] = {
    r.name: r
    for r in (
        Recorder("f", lambda problem, x, grad: problem.value(x)),
        Recorder("grad_l1", _grad_l1),
        Recorder("grad_l2", _grad_l2),
        Recorder("grad_linf", _grad_linf),
        Recorder("grad_nuc", _grad_nuclear),
        Recorder("iterate", lambda problem, x, grad: x.clone()),
    )
}
"""Recorders by name: f, ‖∇f‖₁, ‖∇f‖₂, ‖∇f‖∞, ‖∇F‖_* (matrices) and the iterates x_t."""


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
    """The record of one run: ``records[name]`` has shape (runs, len(steps), ...), at ``steps``.

    ``gradients[k]`` is the number of stochastic gradients used before the k-th recorded point.
    A run that blew up (a non-finite iterate) records ``inf`` from then on, never NaN.
    """

    method: str
    lr: float
    steps: np.ndarray
    gradients: np.ndarray
    records: dict[str, np.ndarray]
    x: torch.Tensor

    def __getitem__(self, name: str) -> np.ndarray:
        return self.records[name]


def _method(method: str | Method) -> Method:
    if isinstance(method, Method):
        return method
    return METHODS[_validate.choice("method", method, METHODS)]


def _recorders(record: Sequence[str | Recorder], until: float | None) -> list[Recorder]:
    chosen = [
        r if isinstance(r, Recorder) else RECORDERS[_validate.choice("record", r, RECORDERS)]
        for r in record
    ]
    if until is not None and all(r.name != "grad_l1" for r in chosen):
        chosen.append(RECORDERS["grad_l1"])
    names = [r.name for r in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"record names must be distinct (got {names})")
    return chosen


def _batches(batch: int | Callable[[int], int], steps: int) -> np.ndarray:
    """B_t for t = 0 … steps − 1 (a constant, or a schedule t ↦ B_t such as Theorem 1's B ∝ T)."""
    if callable(batch):
        sizes = [_validate.integer(f"batch({t})", batch(t), low=1) for t in range(steps)]
        return np.asarray(sizes, dtype=np.int64)
    return np.full(steps, _validate.integer("batch", batch, low=1), dtype=np.int64)


def _check_start(problem: Any, x0: Any) -> None:
    if not isinstance(x0, torch.Tensor) or not x0.is_floating_point():
        raise ValueError("x0 must be a floating-point torch tensor of shape (runs, *shape)")
    _validate.finite_array("x0", x0)
    k = len(problem.shape)
    if x0.ndim <= k or tuple(x0.shape[x0.ndim - k :]) != tuple(problem.shape):
        raise ValueError(f"x0 must have shape (runs, *{problem.shape}) (got {tuple(x0.shape)})")


def _bind(method: Method, problem: Any, lr: float, hyper: dict) -> Callable:
    """The rule with its keywords validated once: ``step(x, g, state) -> (x, state)``."""
    rule = method.rule
    unknown = set(hyper) - set(rule.spec.names)
    if unknown:
        raise ValueError(
            f"{method.name} has no hyperparameter {', '.join(sorted(unknown))} "
            f"(it takes {', '.join(rule.spec.names)})"
        )
    if getattr(problem, "multiplicity", None) is not None and not method.separable:
        raise ValueError(
            f"{method.name} mixes coordinates, so it cannot run on a problem with multiplicities"
        )
    options = {**method.defaults, **hyper, "lr": lr}
    if "dim" in rule.spec.names:
        options.setdefault("dim", _dims(problem))
    options = rule.spec.validate(options)
    return lambda x, g, state: rule.unchecked(x, g, state, **options)


def simulate(
    problem: Any,
    oracle: Any,
    method: str | Method,
    x0: torch.Tensor,
    *,
    lr: float,
    steps: int,
    batch: int | Callable[[int], int] = 1,
    seed: int = 0,
    record: Sequence[str | Recorder] = ("f", "grad_l1", "grad_l2"),
    every: int = 1,
    until: float | None = None,
    threads: int | None = 1,
    **hyper: Any,
) -> Trajectory:
    r"""Run ``method`` from ``x0`` (shape (runs, \*problem.shape)) for ``steps`` steps.

    At step t the oracle returns g_t = ``oracle.sample(∇f(x_t), B_t, generator, x=x_t)`` (``oracle=None``:
    exact gradients) and x_{t+1} = rule(x_t, g_t) with step size ``lr`` and the rule's other keywords
    ``hyper``. ``batch`` is B (an int) or a schedule t ↦ B_t. ``record`` lists recorder names of
    :data:`RECORDERS` or :class:`Recorder` objects, measured at x_0 and every ``every`` steps.
    ``until``: stop once the run-mean of ‖∇f‖₁ is ≤ ``until`` at a recorded step. ``seed`` seeds the
    oracle's generator (:func:`noise_generator`). ``threads``: torch intra-op threads during the run
    (restored after; ``None`` leaves them); one is the default, since the per-step tensors are small
    and on a shared machine extra threads made runs up to 10 times slower (benchmarks/simulate.md).
    """
    lr = _validate.positive("lr", lr)
    steps = _validate.integer("steps", steps, low=0)
    every = _validate.integer("every", every, low=1)
    seed = _validate.integer("seed", seed, low=0)
    if until is not None:
        until = _validate.positive("until", until)
    chosen = _method(method)
    _check_start(problem, x0)
    recorders = _recorders(record, until)
    step = _bind(chosen, problem, lr, hyper)
    batches = _batches(batch, steps)
    if threads is None:
        return _run(
            problem, oracle, chosen.name, lr, step, x0, batches, seed, recorders, every, until
        )
    threads = _validate.integer("threads", threads, low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _run(
            problem, oracle, chosen.name, lr, step, x0, batches, seed, recorders, every, until
        )
    finally:
        torch.set_num_threads(previous)


def _run(problem, oracle, name, lr, step, x0, batches, seed, recorders, every, until):
    """The loop itself (arguments validated by :func:`simulate`)."""
    generator = noise_generator(seed)
    steps = len(batches)
    rows: dict[str, list[torch.Tensor]] = {r.name: [] for r in recorders}
    recorded: list[int] = []
    x, state, reached = x0, None, False
    for t in range(steps + 1):
        grad = problem.gradient(x)
        if t % every == 0:
            recorded.append(t)
            for r in recorders:
                rows[r.name].append(r.measure(problem, x, grad))
            if until is not None and float(rows["grad_l1"][-1].mean()) <= until:
                reached = True
                break
        if t == steps or (t % _CHECK_EVERY == 0 and not bool(torch.isfinite(x).any())):
            break
        g = grad if oracle is None else oracle.sample(grad, int(batches[t]), generator, x=x)
        x, state = step(x, g, state)
    return _trajectory(name, lr, batches, len(recorded) if reached else None, rows, every, x)


def _trajectory(name, lr, batches, done, rows, every, x) -> Trajectory:
    """Stack the rows (``done`` of them when the target was reached); a run cut short because
    every run diverged is padded with inf up to the planned length."""
    planned = np.arange(0, len(batches) + 1, every)
    done = len(planned) if done is None else done
    records = {}
    for key, values in rows.items():
        arr = torch.stack(values, dim=1).double().numpy()
        arr = np.where(np.isnan(arr), np.inf, arr)
        pad = np.full((arr.shape[0], done - arr.shape[1], *arr.shape[2:]), np.inf)
        records[key] = np.concatenate([arr, pad], axis=1)
    used = np.concatenate([[0], np.cumsum(batches)])
    at = planned[:done]
    return Trajectory(name, lr, at, used[at].astype(float), records, x)


def gradients_to_reach(trajectory: Trajectory, eps: float, *, record: str = "grad_l1") -> float:
    r"""N(ε): the gradients used when the run-mean of ``record`` (default ‖∇f‖₁) first is ≤ ε.

    The mean over runs estimates the expectation E‖∇f(x_t)‖₁ of the bounds; ``inf`` if the run
    never gets there.
    """
    eps = _validate.positive("eps", eps)
    _validate.choice("record", record, trajectory.records)
    with np.errstate(over="ignore"):  # huge values of a diverging run average to inf: not reached
        hit = np.flatnonzero(trajectory.records[record].mean(axis=0) <= eps)
    return float(trajectory.gradients[hit[0]]) if hit.size else math.inf


def tune(
    problem: Any,
    oracle: Any,
    method: str | Method,
    x0: torch.Tensor,
    lrs: Sequence[float],
    eps: float,
    *,
    steps: int,
    first: int = 64,
    batch: int = 1,
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
    batch = _validate.integer("batch", batch, low=1)
    if len(lrs) == 0:
        raise ValueError("lrs must contain at least one learning rate")
    kwargs.setdefault("record", ())
    best: tuple[float | None, float] = (None, math.inf)
    cap = min(first, steps)
    while True:
        for lr in lrs:
            limit = cap if best[0] is None else min(cap, int(best[1]) // batch)
            run = simulate(
                problem, oracle, method, x0, lr=lr, steps=limit, batch=batch, until=eps, **kwargs
            )
            n = gradients_to_reach(run, eps)
            if n < best[1]:
                best = (run.lr, n)
        if best[0] is not None or cap == steps:
            return best
        cap = min(2 * cap, steps)
