"""The GPT-2 chapter's experiments as short named functions: one run per optimizer on the same
recipe, and the curves read back from the logs.

:func:`train_each` trains ``cpu-tiny`` once with each optimizer, from the same initialisation on
the same batches (seeded), on CPU, measuring the noise density φ along the runs named in
``density``. Seeding fixes the data and the start, not the floating-point arithmetic: the losses
repeat exactly on one machine with one torch thread, but another CPU or thread count (different
BLAS kernels, different summation orders) gives slightly different numbers, and so possibly a
different ordering of close runs; tests/test_gpt_compare.py checks the chapter's orderings on
this CPU for that reason. The other functions turn the logs into the series the figures plot.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from signlab import _validate, stats
from signlab._threads import torch_threads
from signlab.gpt.config import RunConfig
from signlab.gpt.density import embedding_density_split
from signlab.gpt.sweep import steps_to_target
from signlab.gpt.train import load_model, train


def run_parallel(fn, jobs: list, workers: int = 1) -> list:
    """``[fn(job) for job in jobs]``, in ``workers`` separate processes when ``workers > 1``.

    The processes are started fresh (``spawn``), not forked from a notebook's kernel, and each
    run keeps its own one-thread setting, so the results are the ones a sequential loop gives.
    """
    workers = _validate.integer("workers", workers)
    if workers == 1 or len(jobs) < 2:
        return [fn(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx) as pool:
        return list(pool.map(fn, jobs))


def train_seeds(
    optimizers,
    workdir: str | os.PathLike,
    seeds,
    density: tuple[str, ...] = ("sgd",),
    density_every: int = 30,
    density_samples: int = 16,
    workers: int = 1,
    preset: str = "cpu-tiny",
    **overrides,
) -> dict[str, list[list[dict]]]:
    """{optimizer: [log records of each seed]}: one ``preset`` run per optimizer and seed under
    ``workdir/<optimizer>/s<seed>``, on CPU, ``workers`` runs at a time (:func:`run_parallel`).

    Every optimizer sees the same initialisation and batches at a given seed, so differences
    between optimizers can be taken seed by seed (paired). ``overrides`` go to every
    :class:`RunConfig` (e.g. ``warmup_frac=0, min_lr_frac=1`` for a constant rate).
    """
    seeds = [_validate.integer("seed", s, low=0) for s in seeds]
    jobs = [
        RunConfig(
            preset=preset,
            optimizer=name,
            out=str(Path(workdir) / name / f"s{seed}"),
            seed=seed,
            device="cpu",
            progress=False,
            log_every=5,
            density_every=density_every if name in density else 0,
            density_samples=density_samples,
            **overrides,
        )
        for name in optimizers
        for seed in seeds
    ]
    records = iter(run_parallel(train, jobs, workers))
    return {name: [next(records) for _ in seeds] for name in optimizers}


def paired_gap(runs: dict, reference: str = "sgd") -> dict[str, dict]:
    """Per optimizer, its validation loss minus the ``reference``'s at every evaluation, seed by
    seed: {"steps", "mean", "se"} over the seeds (se 0 with one seed)."""
    steps, ref = _curves(runs[reference])
    out = {}
    for name, seeds in runs.items():
        s, own = _curves(seeds)
        if s != steps:
            raise ValueError(f"runs[{name!r}] is evaluated at other steps than {reference!r}")
        diff = own - ref
        se = diff.std(axis=0, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0 * diff[0]
        out[name] = {"steps": steps, "mean": diff.mean(axis=0).tolist(), "se": se.tolist()}
    return out


def _curves(seeds: list[list[dict]]) -> tuple[list[int], np.ndarray]:
    curves = [val_curve(r) for r in seeds]
    return curves[0][0], np.array([c[1] for c in curves])


def final_losses(runs: dict) -> dict[str, stats.Estimate]:
    """{optimizer: final validation loss, mean ± standard error over its seeds}."""
    return {name: _estimate([final_val_loss(r) for r in seeds]) for name, seeds in runs.items()}


def steps_estimates(runs: dict, target: float) -> dict[str, dict]:
    """Per optimizer, steps to reach validation loss ``target``: the count of each seed (None:
    not within the run) and, when every seed reached it, their mean ± standard error."""
    out = {}
    for name, seeds in runs.items():
        counts = [steps_to_target(r, target) for r in seeds]
        done = None not in counts
        out[name] = {"seeds": counts, "mean": _estimate(counts) if done else None}
    return out


def _estimate(values) -> stats.Estimate:
    """mean ± se over seeds (a single value: se 0)."""
    if len(values) == 1:
        return stats.Estimate(float(values[0]), 0.0, 1)
    return stats.mean_se(values)


def train_each(
    optimizers,
    workdir: str | os.PathLike,
    density: tuple[str, ...] = ("sgd",),
    density_every: int = 30,
    density_samples: int = 16,
    preset: str = "cpu-tiny",
    **overrides,
) -> dict[str, list[dict]]:
    """{optimizer: log records}: one ``preset`` run per optimizer under ``workdir/<optimizer>``.

    Runs on CPU with one log record every 5 steps and a final checkpoint (so a trained model can
    be loaded back with :func:`signlab.gpt.train.load_model`); ``overrides`` go to every
    :class:`RunConfig`.
    """
    runs = {}
    for name in optimizers:
        cfg = RunConfig(
            preset=preset,
            optimizer=name,
            out=str(Path(workdir) / name),
            device="cpu",
            progress=False,
            log_every=5,
            density_every=density_every if name in density else 0,
            density_samples=density_samples,
            **overrides,
        )
        runs[name] = train(cfg)
    return runs


def val_curve(records: list[dict]) -> tuple[list[int], list[float]]:
    """(steps done, validation losses) at the evaluations of a run."""
    points = [(r["step"] + 1, r["val_loss"]) for r in records if "val_loss" in r]
    return [s for s, _ in points], [v for _, v in points]


def density_curve(
    records: list[dict], key: str | None = None, n: int | None = None
) -> tuple[list[int], list[float]]:
    """(steps done, φ) at the density measurements of a run; ``key`` picks one tensor's φ, ``n``
    the overall φ estimated from only the first n draws (``density_subsamples``)."""

    def value(r):
        if n is not None:
            return r["phi_n"][str(n)]
        return r["phi"] if key is None else r["phi_layers"][key]

    points = [(r["step"] + 1, value(r)) for r in records if "phi" in r]
    return [s for s, _ in points], [v for _, v in points]


def final_val_loss(records: list[dict]) -> float:
    """The last validation loss of a run."""
    return val_curve(records)[1][-1]


def steps_to_reach(runs: dict[str, list[dict]], target: float) -> dict[str, int | None]:
    """{optimizer: steps until its validation loss first is <= ``target``} (None: never)."""
    return {name: steps_to_target(records, target) for name, records in runs.items()}


def embedding_split(
    run: str | os.PathLike, tokens, n_samples: int = 16, batch_size: int = 16, seed: int = 7
) -> dict:
    """:func:`~signlab.gpt.density.embedding_density_split` of the model saved by the run in
    directory ``run`` (its final checkpoint), on one CPU thread."""
    with torch_threads(1):
        return embedding_density_split(load_model(run), tokens, n_samples, batch_size, seed)


def final_gaps(runs: dict, reference: str = "sgd") -> dict[str, stats.Estimate]:
    """{optimizer: the ``reference``'s final validation loss minus its own, paired seed by seed,
    mean ± standard error}: positive means the optimizer ends lower than the reference."""
    ref = [final_val_loss(r) for r in runs[reference]]
    return {
        name: _estimate(np.subtract(ref, [final_val_loss(r) for r in seeds]))
        for name, seeds in runs.items()
        if name != reference
    }


def density_dip(records: list[dict]) -> dict:
    """Where a run's φ is lowest: its ``step``, ``phi`` and the validation loss of the evaluation
    nearest to that step (``val_loss``), to place the dip on the loss curve."""
    steps, phi = density_curve(records)
    k = int(np.argmin(phi))
    evals, losses = val_curve(records)
    near = int(np.argmin(np.abs(np.subtract(evals, steps[k]))))
    return {"step": steps[k], "phi": phi[k], "val_loss": losses[near]}


def density_by_draws(
    run: str | os.PathLike,
    tokens,
    counts=(4, 8, 16, 32, 64, 128),
    batch_size: int = 16,
    seed: int = 7,
) -> dict[str, float]:
    """{str(n): overall φ̂ from the first n of max(counts) microbatch gradients} of the model
    saved by the run in directory ``run``, at its final weights, on one CPU thread: how the
    estimate moves as the number of draws grows."""
    from signlab.gpt.density import microbatch_gradients, subsample_densities

    with torch_threads(1):
        model = load_model(run)
        stacks = microbatch_gradients(model, tokens, max(counts), batch_size, seed=seed)
        return subsample_densities(stacks, tuple(counts))
