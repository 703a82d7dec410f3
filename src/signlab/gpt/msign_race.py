r"""Muon's matrix sign in training: Jordan's quintic, Polar Express and the exact SVD on the book's
small GPT-2, at equal wall clock (the Muon chapter's training comparison).

Every run trains the same recipe (``cpu-tiny`` by default) with Muon, whose msign is computed by

- ``jordan``: five Newton–Schulz steps of K. Jordan's quintic (torch.optim.Muon's default),
- ``polar_express``: five Newton–Schulz steps of Polar Express's schedule (Amsel et al., ICLR 2026),
- ``svd``: the exact polar factor UVᵀ from an SVD,

with Newton–Schulz in float32, so that the logs repeat on CPUs with and without native bf16.
**Equal wall clock**: a Newton–Schulz step costs three matrix products whatever its coefficients,
so the schedules run the same number of steps T; a variant with another cost per training step
c_v runs T_v = round(T·c_ref/c_v) steps, with c measured by :func:`step_costs` (medians of
interleaved training steps, CPU time of one thread: the wall clock of an idle core) and written
to ``costs.json`` before the runs start.
The learning-rate schedule (warmup, cosine) spans each run's own T_v.

Each variant runs every learning rate of ``lrs`` with seeds 0 … ``seeds`` − 1. A seed fixes the
initialisation and the batches, the same for every variant, so differences between variants are
paired by seed. Logs: ``OUT/<variant>/lr<lr>/s<seed>/log.jsonl`` (and ``run.json``), and
``OUT/costs.json``; :func:`summarize` rebuilds every number from them, and a rerun reuses the
finished runs. Command (about 25 minutes on two busy CPU cores)::

    python -m signlab.gpt.msign_race --out book/data/muon/msign
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from signlab import _validate
from signlab._io import atomic_write
from signlab._threads import torch_threads
from signlab.geometry.ns_schedules import NS_SCHEDULES
from signlab.gpt.compare import final_val_loss
from signlab.gpt.config import MSIGNS
from signlab.gpt.train import (
    RunConfig,
    Trainer,
    hardware_name,
    load_corpus,
    read_log,
    train,
)
from signlab.stats import Estimate, bootstrap

VARIANTS = ("jordan", "polar_express", "svd")
"""The compared ways of computing Muon's msign (names of :data:`signlab.gpt.config.MSIGNS`)."""

LRS = (0.01, 0.02, 0.04)
"""Muon's learning-rate grid: the ``cpu-tiny`` preset's 0.02 and a factor 2 either side."""

COSTS_NAME = "costs.json"


@dataclass(frozen=True)
class RaceConfig:
    """Which variants, rates and seeds; the reference budget T and how the costs are measured."""

    out: str = field(default="runs/muon-msign", metadata={"help": "output directory"})
    preset: str = field(default="cpu-tiny", metadata={"help": "the recipe every run uses"})
    variants: tuple[str, ...] = field(
        default=VARIANTS,
        metadata={"help": "msign variants, comma-separated; the first is the reference"},
    )
    lrs: tuple[float, ...] = field(default=LRS, metadata={"help": "Muon learning rates"})
    seeds: int = field(default=5, metadata={"help": "seeds 0..N-1 per (variant, lr)"})
    steps: int = field(default=300, metadata={"help": "steps T of the reference variant"})
    eval_every: int = field(default=10, metadata={"help": "steps between validation losses"})
    cost_rounds: int = field(
        default=60, metadata={"help": "interleaved training steps per variant to measure costs"}
    )
    equal_time: bool = field(
        default=True,
        metadata={
            "help": "give each variant the steps that fit the reference's wall clock "
            "(--no-equal-time: every variant runs --steps, a control at equal steps)"
        },
    )
    progress: bool = field(default=True, metadata={"help": "show progress"})

    def __post_init__(self):
        if len(self.variants) < (2 if self.equal_time else 1):
            raise ValueError(
                f"variants must list at least {2 if self.equal_time else 1} (got {self.variants!r})"
            )
        for name in self.variants:
            _validate.choice("variant", name, MSIGNS)
        if not self.lrs:
            raise ValueError("lrs must list at least one learning rate")
        for lr in self.lrs:
            _validate.positive("lr", lr)
        _validate.integer("seeds", self.seeds, low=2)
        _validate.integer("steps", self.steps)
        _validate.integer("eval_every", self.eval_every)
        _validate.integer("cost_rounds", self.cost_rounds, low=3)


def _run_config(preset: str, variant: str, lr: float, seed: int, steps: int, **kw) -> RunConfig:
    return RunConfig(
        preset=preset,
        optimizer="muon",
        msign=variant,
        ns_dtype="float32",
        lr=lr,
        seed=seed,
        steps=steps,
        device="cpu",
        **kw,
    )


def step_costs(
    preset: str = "cpu-tiny", variants=VARIANTS, rounds: int = 60, lr: float = 0.02
) -> dict[str, float]:
    """Median seconds of one training step (forward, backward, optimizer) per variant, on one
    CPU thread: the thread's CPU time (``time.thread_time``), which is the wall clock of an idle
    core and leaves out the time a busy machine makes the thread wait. The variants' steps are
    interleaved round by round, so that what load remains (shared caches) reaches all of them
    alike; the first 5 rounds (warm-up) are left out."""
    rounds = _validate.integer("rounds", rounds, low=6)
    times: dict[str, list[float]] = {v: [] for v in variants}
    with torch_threads(1):
        trainers = {}
        for v in variants:
            cfg = _run_config(preset, v, lr, 0, 10_000, progress=False)
            trainers[v] = Trainer(cfg, *load_corpus(cfg.recipe, cfg), device=torch.device("cpu"))
        for _ in range(rounds):
            for v, trainer in trainers.items():
                start = time.thread_time()
                trainer.step()
                times[v].append(time.thread_time() - start)
    return {v: statistics.median(t[5:]) for v, t in times.items()}


def equal_time_steps(costs: dict[str, float], steps: int, reference: str) -> dict[str, int]:
    """Steps per variant for the wall clock of ``steps`` steps of ``reference``: a Newton–Schulz
    schedule costs what any other costs (three products per step), so it gets ``steps``; the others
    round(steps·c_reference/c_variant)."""
    steps = _validate.integer("steps", steps)
    _validate.choice("reference", reference, costs)
    same = set(NS_SCHEDULES)
    return {
        v: steps if v in same and reference in same else max(1, round(steps * costs[reference] / c))
        for v, c in costs.items()
    }


def run_dir(out: str | os.PathLike, variant: str, lr: float, seed: int) -> Path:
    """Where one run's log lives: ``OUT/<variant>/lr<lr>/s<seed>``."""
    return Path(out) / variant / f"lr{lr:g}" / f"s{seed}"


def _measured_costs(cfg: RaceConfig) -> dict:
    path = Path(cfg.out) / COSTS_NAME
    if path.exists():
        return json.loads(path.read_text())
    load = os.getloadavg()[0]
    if cfg.equal_time:
        costs = step_costs(cfg.preset, cfg.variants, cfg.cost_rounds)
        steps = equal_time_steps(costs, cfg.steps, cfg.variants[0])
    else:
        costs, steps = None, dict.fromkeys(cfg.variants, cfg.steps)
    record = {
        "seconds_per_step": costs,
        "steps": steps,
        "reference": cfg.variants[0],
        "hardware": hardware_name(torch.device("cpu")),
        "load_average": [load, os.getloadavg()[0]],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "config": asdict(cfg),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        json.dump(record, f, indent=1)
    return record


def _finished(directory: Path, steps: int) -> bool:
    records = read_log(directory) if (directory / "run.json").exists() else []
    return bool(records) and records[-1]["step"] + 1 == steps


def run_race(cfg: RaceConfig) -> dict:
    """Measure the costs (once), run every (variant, lr, seed) not yet finished; the summary."""
    budgets = _measured_costs(cfg)["steps"]
    for seed in range(cfg.seeds):
        for lr in cfg.lrs:
            for v in cfg.variants:
                directory = run_dir(cfg.out, v, lr, seed)
                if not _finished(directory, budgets[v]):
                    run = _run_config(
                        cfg.preset,
                        v,
                        lr,
                        seed,
                        budgets[v],
                        out=str(directory),
                        eval_every=cfg.eval_every,
                        log_every=cfg.eval_every,
                        checkpoint=False,
                        progress=cfg.progress,
                    )
                    train(run)
    return summarize(cfg.out)


def summarize(out: str | os.PathLike) -> dict:
    """Every number of the race from the logs under ``out``: the measured costs and budgets, and
    per variant and learning rate the seeds and their final validation losses."""
    out = Path(out)
    costs = json.loads((out / COSTS_NAME).read_text())
    variants = {}
    for v in costs["steps"]:
        rates = {}
        for directory in sorted((out / v).glob("lr*"), key=lambda p: float(p.name[2:])):
            seeds = sorted(
                int(p.name[1:]) for p in directory.glob("s*") if (p / "log.jsonl").exists()
            )
            rates[directory.name[2:]] = {
                "seeds": seeds,
                "final": [final_val_loss(read_log(directory / f"s{s}")) for s in seeds],
            }
        variants[v] = rates
    return {
        "seconds_per_step": costs["seconds_per_step"],
        "steps": costs["steps"],
        "hardware": costs["hardware"],
        "variants": variants,
    }


def final_losses(summary: dict, variant: str) -> tuple[list[float], np.ndarray]:
    """(learning rates, final validation losses of shape (seeds, rates)) of one variant, over the
    seeds that every rate has, in seed order: the rows are paired across variants by seed."""
    rates = summary["variants"][variant]
    common = sorted(set.intersection(*(set(r["seeds"]) for r in rates.values())))
    table = [[r["final"][r["seeds"].index(s)] for r in rates.values()] for s in common]
    return [float(lr) for lr in rates], np.asarray(table, dtype=float)


def best_lr(summary: dict, variant: str) -> float:
    """The learning rate with the lowest mean final validation loss over the seeds."""
    lrs, table = final_losses(summary, variant)
    return lrs[int(np.argmin(table.mean(axis=0)))]


def tuned_final(summary: dict, variant: str, *, seed: int = 0) -> Estimate:
    """min over rates of the mean final validation loss, with its bootstrap standard error over
    the seeds (every resample tunes the rate again)."""
    return bootstrap(
        final_losses(summary, variant)[1], lambda x: float(x.mean(axis=0).min()), seed=seed
    )


def tuned_difference(
    summary: dict, a: str, b: str, *, against: dict | None = None, seed: int = 0
) -> Estimate:
    """tuned_final(a) − tuned_final(b), with a paired bootstrap error (the seeds resampled
    together: a seed is the same initialisation and batches for every variant); ``b`` is read
    from the summary ``against`` when given (a control race)."""
    ta = final_losses(summary, a)[1]
    tb = final_losses(summary if against is None else against, b)[1]
    n = min(len(ta), len(tb))
    k = ta.shape[1]
    both = np.concatenate([ta[:n], tb[:n]], axis=1)
    statistic = lambda x: float(x[:, :k].mean(axis=0).min() - x[:, k:].mean(axis=0).min())
    return bootstrap(both, statistic, seed=seed)


def rerun_prefix(
    out: str | os.PathLike,
    workdir: str | os.PathLike,
    variant: str,
    lr: float,
    seed: int,
    steps: int = 21,
) -> tuple[list[int], list[float], list[float]]:
    """(steps, committed, rerun): the training losses at the steps that the committed log of one
    run records among its first ``steps``, and the same losses from a rerun made now in
    ``workdir`` with the run's configuration (its run.json), stopped after ``steps`` steps of the
    same schedule. A check that the committed logs are what the code makes."""
    source = run_dir(out, variant, lr, seed)
    saved = json.loads((source / "run.json").read_text())["config"]
    cfg = RunConfig(
        **{
            **saved,
            "out": str(workdir),
            "stop_at": _validate.integer("steps", steps),
            "log_every": 1,
            "progress": False,
            "checkpoint": False,
            "eval_every": steps + saved["steps"],  # no evaluation: only the training losses
        }
    )
    committed = {r["step"]: r["train_loss"] for r in read_log(source) if r["step"] < steps}
    rerun = {r["step"]: r["train_loss"] for r in train(cfg)}
    shared = sorted(set(committed) & set(rerun))
    return shared, [committed[s] for s in shared], [rerun[s] for s in shared]


def main(argv: list[str] | None = None) -> int:
    """``python -m signlab.gpt.msign_race``: flags generated from :class:`RaceConfig`."""
    from signlab.gpt.cli import config_from_args, parser_for

    parser = parser_for(RaceConfig, prog="python -m signlab.gpt.msign_race", doc=__doc__)
    cfg = config_from_args(RaceConfig, parser.parse_args(argv))
    summary = run_race(cfg)
    with atomic_write(Path(cfg.out) / "summary.json") as f:
        json.dump(summary, f, indent=1)
    print(f"race done; summary: {Path(cfg.out) / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
