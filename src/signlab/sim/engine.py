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
- a *method* (:class:`Method`) is a named update rule with the engine's defaults and the facts
  the engine relies on (gradients per step, a step affine in the step size); :data:`METHODS` has
  one per optimizer of :data:`signlab.optim.registry.REGISTRY`: SGD, SignSGD, Signum, Lion, AdamW,
  Muon (on matrix problems, with the theory's defaults: exact msign, no momentum, no shape
  scaling), normalized SGD and steepest descent under a norm with its model's step length.

The same seed gives the same draws to every method and step size when the oracle is additive
(common random numbers), so comparisons between methods are not blurred by luck. "Gradients used"
counts stochastic gradients: B per step, N = Σ_t B_t, the currency of the complexity bounds (Tao, Yu &
Zhang, arXiv:2605.06615). :func:`gradients_to_reach` reads off N at which the run-mean of ‖∇f‖₁ first
drops to ε; :func:`tune` runs a whole grid of step sizes as one population and picks the one
minimising it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from signlab import _validate
from signlab._threads import torch_threads
from signlab.optim.registry import REGISTRY
from signlab.optim.spec import Spec

__all__ = [
    "METHODS",
    "RECORDERS",
    "Method",
    "Recorder",
    "Trajectory",
    "Tuning",
    "gradients_to_reach",
    "noise_generator",
    "simulate",
    "tune",
]

_CHECK_EVERY = 64


class _EngineRule(Protocol):
    # What the engine reads of a rule: every Rule has it, and so may a class like
    # signlab.experiments.momentum's sign-MVR, which has no checked __call__.
    @property
    def spec(self) -> Spec: ...

    @property
    def unchecked(self) -> Callable[..., tuple[torch.Tensor, dict]]: ...


@dataclass(frozen=True)
class Method:
    """A named update rule (a :class:`~signlab.optim.functional.Rule`)
    with the engine's default keywords and the properties the engine relies on.

    ``separable``: the rule moves each coordinate using that coordinate's gradient only (so a
    problem may store a class of identical coordinates once, with its multiplicity).
    ``gradients_per_step``: stochastic gradients one step evaluates per sample of its batch (2 for
    a rule that also evaluates the previous point); the gradient counts are multiplied by it.
    ``lr_affine``: rule(x, g; η) = x + η·(rule(x, g; 1) − x) with a state independent of η, true
    of every rule of the registry (``tests/test_registry.py`` checks it); only then may one run
    take one step size per run (:func:`tune`'s grid as one population), which
    :func:`simulate` refuses otherwise.
    """

    name: str
    rule: _EngineRule
    defaults: dict = field(default_factory=dict)
    separable: bool = True
    gradients_per_step: float = 1.0
    lr_affine: bool = True

    def __post_init__(self) -> None:
        _validate.positive("gradients_per_step", self.gradients_per_step)
        for name in ("separable", "lr_affine"):
            if getattr(self, name) not in (True, False):
                raise ValueError(f"{name} must be True or False (got {getattr(self, name)!r})")


METHODS: dict[str, Method] = {
    name: Method(name, e.rule, dict(e.engine), e.separable, e.gradients_per_step, e.lr_affine)
    for name, e in REGISTRY.items()
}
"""The methods :func:`simulate` knows by name, one per optimizer of the registry (pass a
:class:`Method` for any other rule)."""


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
    A run that blew up (a non-finite iterate) records ``inf`` from then on, never NaN. ``x``,
    ``state`` and ``generator`` are where the run ended: passing them back to :func:`simulate`
    (``x0=run.x, state=run.state, seed=run.generator``) continues it exactly, draw for draw.
    """

    method: str
    lr: Any
    steps: np.ndarray
    gradients: np.ndarray
    records: dict[str, np.ndarray]
    x: torch.Tensor
    state: Any = None
    generator: torch.Generator | None = None

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


def _step_sizes(lr: Any, x0: torch.Tensor) -> float | torch.Tensor:
    """A positive float, or one positive step size per run as a tensor broadcasting against x0."""
    if isinstance(lr, (int, float, np.floating, np.integer)) and not isinstance(lr, bool):
        return _validate.positive("lr", lr)
    values = torch.as_tensor(np.asarray(lr, dtype=float), dtype=x0.dtype)
    if values.ndim != 1 or len(values) != len(x0):
        raise ValueError(
            f"lr must be a number or one step size per run ({len(x0)}; got shape "
            f"{tuple(values.shape)})"
        )
    if not bool(torch.isfinite(values).all()) or bool((values <= 0).any()):
        raise ValueError("lr must hold finite step sizes > 0")
    return values.view(-1, *([1] * (x0.ndim - 1)))


def _bind(method: Method, problem: Any, lr: Any, hyper: dict) -> Callable:
    """The rule with its keywords validated once: ``step(x, g, state) -> (x, state)``.

    With one step size η_r per run (a tensor ``lr``) the step is x + η_r·(rule(x, g; lr = 1) − x):
    exact for a rule affine in η (``method.lr_affine``, as every rule of
    :mod:`signlab.optim.functional` is: x(1 − ηλ) − η·d with a state that does not depend on η), so a
    whole grid of step sizes runs as one population; any other rule refuses a tensor ``lr``.
    """
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
    per_run = isinstance(lr, torch.Tensor)
    if per_run and not method.lr_affine:
        raise ValueError(
            f"{method.name} is not affine in lr (Method.lr_affine), so its runs cannot take one"
            " step size each: run simulate once per step size"
        )
    options = {**method.defaults, **hyper, "lr": 1.0 if per_run else lr}
    if "dim" in rule.spec.names:
        options.setdefault("dim", _dims(problem))
    options = rule.spec.validate(options)
    if not per_run:
        return lambda x, g, state: rule.unchecked(x, g, state, **options)

    def step(x, g, state):
        new, state = rule.unchecked(x, g, state, **options)
        return torch.addcmul(x, lr, new - x), state

    return step


def simulate(
    problem: Any,
    oracle: Any,
    method: str | Method,
    x0: torch.Tensor,
    *,
    lr: Any,
    steps: int,
    batch: int | Callable[[int], int] = 1,
    seed: int | torch.Generator = 0,
    state: Any = None,
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
    ``until``: stop once the run-mean of ‖∇f‖₁ is ≤ ``until`` at a recorded step. ``lr`` is a step
    size, or one per run (a grid of step sizes as one population: see :func:`tune`). ``seed`` seeds
    the oracle's generator (:func:`noise_generator`); a ``torch.Generator`` (a previous run's
    ``generator``) continues its stream, and ``state`` the rule's state, so a run can go on where
    another stopped. ``threads``: torch intra-op threads during the run (restored after; ``None``
    leaves them); one is the default, since the per-step tensors are small and on a shared machine
    extra threads made runs up to 10 times slower (benchmarks/simulate.md).
    """
    steps = _validate.integer("steps", steps, low=0)
    every = _validate.integer("every", every, low=1)
    if not isinstance(seed, torch.Generator):
        seed = noise_generator(seed)
    if until is not None:
        until = _validate.positive("until", until)
    chosen = _method(method)
    _check_start(problem, x0)
    lr = _step_sizes(lr, x0)
    recorders = _recorders(record, until)
    step = _bind(chosen, problem, lr, hyper)
    batches = _batches(batch, steps)
    loop = _Loop(
        problem=problem,
        oracle=oracle,
        method=chosen,
        lr=lr.reshape(-1).numpy() if isinstance(lr, torch.Tensor) else lr,
        step=step,
        batches=batches,
        generator=seed,
        recorders=tuple(recorders),
        every=every,
        until=until,
    )
    with torch_threads(threads):
        return _run(loop, x0, state)


@dataclass(frozen=True)
class _Loop:
    """Everything one :func:`simulate` loop needs, validated: the problem and oracle, the method
    and its bound ``step(x, g, state)``, the step sizes as shown in the result, the batch of every
    step, the noise stream, what to record and how often, and the target that ends it early."""

    problem: Any
    oracle: Any
    method: Method
    lr: Any
    step: Callable[[torch.Tensor, torch.Tensor, Any], tuple[torch.Tensor, Any]]
    batches: np.ndarray
    generator: torch.Generator
    recorders: tuple[Recorder, ...]
    every: int
    until: float | None


def _run(loop: _Loop, x: torch.Tensor, state: Any) -> Trajectory:
    """The loop itself, from ``x`` and the rule's ``state``."""
    problem, every, until = loop.problem, loop.every, loop.until
    steps = len(loop.batches)
    rows: dict[str, list[torch.Tensor]] = {r.name: [] for r in loop.recorders}
    recorded: list[int] = []
    reached = False
    for t in range(steps + 1):
        grad = problem.gradient(x)
        if t % every == 0:
            recorded.append(t)
            for r in loop.recorders:
                rows[r.name].append(r.measure(problem, x, grad))
            if until is not None and float(rows["grad_l1"][-1].mean()) <= until:
                reached = True
                break
        if t == steps or (t % _CHECK_EVERY == 0 and not bool(torch.isfinite(x).any())):
            break
        batch = int(loop.batches[t])
        g = grad if loop.oracle is None else loop.oracle.sample(grad, batch, loop.generator, x=x)
        x, state = loop.step(x, g, state)
    return _trajectory(loop, len(recorded) if reached else None, rows, x, state)


def _trajectory(
    loop: _Loop, done: int | None, rows: dict[str, list[torch.Tensor]], x: torch.Tensor, state: Any
) -> Trajectory:
    """Stack the rows (``done`` of them when the target was reached); a run cut short because
    every run diverged is padded with inf up to the planned length."""
    planned = np.arange(0, len(loop.batches) + 1, loop.every)
    done = len(planned) if done is None else done
    records = {}
    for key, values in rows.items():
        arr = torch.stack(values, dim=1).double().numpy()
        arr = np.where(np.isnan(arr), np.inf, arr)
        pad = np.full((arr.shape[0], done - arr.shape[1], *arr.shape[2:]), np.inf)
        records[key] = np.concatenate([arr, pad], axis=1)
    used = np.concatenate([[0], np.cumsum(loop.batches)])
    at = planned[:done]
    gradients = loop.method.gradients_per_step * used[at].astype(float)
    name, generator = loop.method.name, loop.generator
    return Trajectory(name, loop.lr, at, gradients, records, x, state, generator)


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


class _Tiled:
    """An additive oracle whose draw for ``runs`` runs is repeated ``copies`` times (step sizes)."""

    additive = True

    def __init__(self, oracle: Any, runs: int, copies: int) -> None:
        if not getattr(oracle, "additive", False):
            raise ValueError(
                "common_noise needs an additive oracle (noise that does not depend on the point);"
                " pass common_noise=False"
            )
        self.oracle, self.runs, self.copies = oracle, runs, copies

    def sample(self, grad, batch=1, generator=None, *, x=None):
        shape = (self.runs, *grad.shape[1:])
        noise = self.oracle.sample(torch.zeros(shape, dtype=grad.dtype), batch, generator)
        return (grad.view(self.copies, *shape) + noise).view(grad.shape)


@dataclass(frozen=True)
class Tuning:
    """A grid of step sizes run as one population by :func:`tune`.

    ``gradients[k]``: N(ε) of ``lrs[k]``, the gradients used when the mean over seeds of ‖∇f‖₁
    first is ≤ ε (``inf``: not reached when the run stopped); ``lr``/``best``: the best step size
    and its N(ε) (None/inf if none reached). ``records[name]`` has shape (len(lrs), seeds,
    len(steps), ...) at the recorded ``steps``, where ``used`` gradients had been spent; ``x`` the
    final iterates (len(lrs), seeds, ...).
    """

    method: str
    lrs: np.ndarray
    gradients: np.ndarray
    lr: float | None
    best: float
    eps: float
    steps: np.ndarray
    used: np.ndarray
    records: dict[str, np.ndarray]
    x: torch.Tensor

    def run(self, k: int | None = None) -> Trajectory:
        """The trajectory of step size ``lrs[k]`` (default: the best one)."""
        if k is None:
            if self.lr is None:
                raise ValueError("no step size reached eps: pass k to pick one")
            k = int(np.argmin(self.gradients))
        k = _validate.integer("k", k, low=0, high=len(self.lrs) - 1)
        records = {name: values[k] for name, values in self.records.items()}
        return Trajectory(
            self.method, float(self.lrs[k]), self.steps, self.used, records, self.x[k]
        )

    def crossings(self, eps: Any = None) -> np.ndarray:
        """N(ε) of every step size of the grid, the mean over all the seeds (as :attr:`gradients`),
        at the target ``eps`` (default :attr:`eps`) or at each of a sequence of targets, each
        ≥ :attr:`eps` (result shape (len(lrs), len(eps))); ``inf`` where not reached when the run
        stopped, which for a target above :attr:`eps` can only be a step size that lost there."""
        targets = self._targets(eps)
        with np.errstate(over="ignore", invalid="ignore"):
            means = np.nan_to_num(self.records["grad_l1"].mean(axis=1), nan=np.inf)
        counts = np.stack([_first_crossing(means, t, self.used) for t in targets], axis=-1)
        return counts if np.ndim(eps) else counts[:, 0]

    def resampled(self, seeds: Any, eps: Any = None) -> np.ndarray:
        """The best N(ε) over the grid when the mean over seeds runs over each row of ``seeds``
        (indices into the seeds, repeats allowed; shape (B, seeds)): B bootstrap replicates of
        :attr:`best`, the step size chosen again inside each replicate. ``inf`` where a
        resample's mean had not reached ε when the run stopped.

        ``eps``: the target (default :attr:`eps`), or a sequence of targets, each ≥ :attr:`eps`,
        read off the same record (result shape (B, len(eps))). A larger target is crossed no later
        than the tuned one by the step size that won there, so the record holds its best count;
        one row of all the seeds, ``[range(seeds)]``, gives the point estimate at each target.
        """
        seeds = np.asarray(seeds, dtype=int)
        targets = self._targets(eps)
        values = self.records["grad_l1"]
        weights = np.zeros((seeds.shape[0], values.shape[1]))
        np.add.at(weights, (np.arange(seeds.shape[0])[:, None], seeds), 1.0 / seeds.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):
            means = np.nan_to_num(np.einsum("bs,jsp->bjp", weights, values), nan=np.inf)
        counts = np.stack(
            [_first_crossing(means, t, self.used).min(axis=1) for t in targets], axis=-1
        )
        return counts if np.ndim(eps) else counts[:, 0]

    def _targets(self, eps: Any) -> np.ndarray:
        """``eps`` (default :attr:`eps`) as a 1-D array of targets, each at least :attr:`eps`."""
        targets = np.atleast_1d(np.asarray(self.eps if eps is None else eps, dtype=float))
        if targets.ndim != 1 or targets.size == 0:
            raise ValueError("eps must be a target or a non-empty 1-D sequence of targets")
        for target in targets:
            if not np.isfinite(target) or target < self.eps:
                raise ValueError(
                    f"eps must be finite and >= the tuned target {self.eps!r} (got {target!r})"
                )
        return targets


def _first_crossing(means: np.ndarray, eps: float, used: np.ndarray) -> np.ndarray:
    """Along the last axis of ``means``, the gradients ``used`` at the first value ≤ ε (else inf)."""
    below = means <= eps
    first = np.argmax(below, axis=-1)
    return np.where(below.any(axis=-1), used[first], np.inf)


def tune(
    problem: Any,
    oracle: Any,
    method: str | Method,
    x0: torch.Tensor,
    lrs: Sequence[float] | np.ndarray,
    eps: float,
    *,
    steps: int,
    batch: int | Callable[[int], int] = 1,
    seed: int = 0,
    first: int = 64,
    until: str = "best",
    margin: float = 1.0,
    every: int | None = None,
    points: int = 64,
    record: Sequence[str | Recorder] = (),
    common_noise: bool = True,
    threads: int | None = 1,
    **hyper: Any,
) -> Tuning:
    r"""Every step size of ``lrs`` from the seeds of ``x0``, all in one population of the engine.

    The ``len(lrs)·seeds`` runs go in chunks, each continuing the last exactly (iterates, the rule's
    state and the noise stream), the first ``first`` steps long and then a quarter of the steps
    done so far, until the best step size has reached E‖∇f‖₁ ≤ ε (``until="best"``: a longer run
    cannot beat it) or every one has (``"all"``), and then ``margin`` ≥ 1 times as long as that
    first crossing (so a bootstrap resample of the seeds, whose mean may cross a little later, is
    still on the record), or until ``steps``. ``common_noise``: every step size sees the same
    draws (the oracle must be additive), so group k is exactly the run ``simulate(..., lr=lrs[k])``
    would make; with False each run draws its own. ‖∇f‖₁ is recorded every ``every`` steps, or
    about ``points`` times per chunk. Gradients are counted as :func:`simulate` counts them (the
    method's ``gradients_per_step`` per sample). ``record`` adds recorders.
    """
    eps = _validate.positive("eps", eps)
    steps = _validate.integer("steps", steps, low=1)
    first = _validate.integer("first", first, low=1)
    points = _validate.integer("points", points, low=1)
    until = _validate.choice("until", until, ("best", "all"))
    margin = _validate.positive("margin", margin)
    if margin < 1:
        raise ValueError(f"margin must be >= 1 (got {margin!r})")
    grid = np.asarray(lrs, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("lrs must be a non-empty 1-D sequence of step sizes")
    for value in grid:
        _validate.positive("lrs", value)
    _check_start(problem, x0)
    chosen = _method(method)
    seeds, n = len(x0), grid.size
    population = _Population(problem, oracle, chosen, x0, grid, common_noise)
    records = _recorders((*record, "grad_l1"), None)
    chunk = dict(batch=batch, threads=threads, record=records, hyper=hyper)
    while True:
        length = min(max(first, population.done // 4), steps - population.done)
        population.extend(length, every or max(1, length // points), seed, chunk)
        hits = population.hits(eps)
        reached = np.isfinite(hits)
        stop_at = hits.max() if until == "all" else hits.min()
        enough = reached.all() if until == "all" else reached.any()
        if enough and population.used()[-1] >= margin * stop_at:
            break
        if population.done >= steps or population.dead():
            break
    best = int(np.argmin(hits)) if reached.any() else None
    return Tuning(
        chosen.name,
        grid,
        hits,
        None if best is None else float(grid[best]),
        math.inf if best is None else float(hits[best]),
        eps,
        population.steps(),
        population.used(),
        {name: v.reshape(n, seeds, *v.shape[1:]) for name, v in population.records().items()},
        population.x.reshape(n, seeds, *x0.shape[1:]),
    )


class _Population:
    """The runs of :func:`tune`: x₀ repeated for every step size, continued chunk by chunk.

    A run whose iterate stops being finite is dead: it restarts from 0 (so the next chunk has a
    finite start) but records ``inf`` from then on.
    """

    def __init__(self, problem, oracle, method, x0, grid, common_noise):
        self.problem, self.method = problem, method
        self.seeds, self.n = len(x0), len(grid)
        tiled = oracle is not None and common_noise
        self.oracle = _Tiled(oracle, self.seeds, self.n) if tiled else oracle
        self.lr = np.repeat(grid, self.seeds)
        self.x = x0.repeat(self.n, *([1] * (x0.ndim - 1)))
        self.dead_rows = np.zeros(len(self.x), dtype=bool)
        self.state, self.generator, self.done = None, None, 0
        self.parts: dict[str, list[np.ndarray]] = {}
        self.at: list[np.ndarray] = []
        self.spent: list[np.ndarray] = []
        self.total = 0.0

    def extend(self, length: int, every: int, seed: int, options: dict) -> None:
        """Run ``length`` more steps, continuing iterates, state and noise stream exactly."""
        batch, offset = options["batch"], self.done
        schedule = (lambda t: batch(t + offset)) if callable(batch) else batch
        run = simulate(
            self.problem,
            self.oracle,
            self.method,
            self.x,
            lr=self.lr,
            steps=length,
            batch=schedule,
            seed=seed if self.generator is None else self.generator,
            state=self.state,
            record=options["record"],
            every=every,
            threads=options["threads"],
            **options["hyper"],
        )
        skip = 1 if self.at and self.at[-1][-1] == offset else 0  # the start was recorded already
        for name, values in run.records.items():
            values = values[:, skip:].copy()
            values[self.dead_rows] = np.inf
            self.parts.setdefault(name, []).append(values)
        self.at.append(offset + run.steps[skip:])
        self.spent.append(self.total + run.gradients[skip:])
        per_step = self.method.gradients_per_step
        self.total += per_step * float(_batches(schedule, length).sum())
        self.done += length
        self.state, self.generator = run.state, run.generator
        flat = run.x.reshape(len(run.x), -1)
        self.dead_rows |= ~torch.isfinite(flat).all(dim=1).numpy()
        rows = torch.from_numpy(self.dead_rows).view(-1, *([1] * (run.x.ndim - 1)))
        self.x = torch.where(rows, torch.zeros_like(run.x), run.x)

    def records(self) -> dict[str, np.ndarray]:
        """Each recorder's values over all chunks, (runs, points, ...)."""
        return {name: np.concatenate(parts, axis=1) for name, parts in self.parts.items()}

    def steps(self) -> np.ndarray:
        """The recorded step indices over all chunks."""
        return np.concatenate(self.at)

    def used(self) -> np.ndarray:
        """Gradients used at the recorded steps."""
        return np.concatenate(self.spent)

    def hits(self, eps: float) -> np.ndarray:
        """N(ε) per step size: the first crossing of the mean over seeds of ‖∇f‖₁."""
        values = self.records()["grad_l1"].reshape(self.n, self.seeds, -1)
        with np.errstate(over="ignore", invalid="ignore"):
            means = np.nan_to_num(values.mean(axis=1), nan=np.inf)
        return _first_crossing(means, eps, self.used())

    def dead(self) -> bool:
        """True when every run has died (nothing left to run)."""
        return bool(self.dead_rows.all())
