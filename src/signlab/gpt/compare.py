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

from signlab.gpt.config import RunConfig
from signlab.gpt.density import embedding_density_split
from signlab.gpt.sweep import steps_to_target
from signlab.gpt.train import cpu_threads, load_model, train


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


def density_curve(records: list[dict], key: str | None = None) -> tuple[list[int], list[float]]:
    """(steps done, φ) at the density measurements of a run; ``key`` picks one tensor's φ."""
    points = [
        (r["step"] + 1, r["phi"] if key is None else r["phi_layers"][key])
        for r in records
        if "phi" in r
    ]
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
    with cpu_threads(1):
        return embedding_density_split(load_model(run), tokens, n_samples, batch_size, seed)
