"""The GPT-2 chapter at GPU scale: one recipe, a time budget, a learning-rate sweep, resumable runs.

The chapter runs at one of two scales, chosen by the runtime (:func:`chapter_scale`): on a CPU the
byte-level ``cpu-tiny`` model, on a CUDA GPU the :class:`GPURecipe`, a scaled GPT-2 with a BPE
vocabulary. Everything a student may want to change about the GPU scale is a field of
:class:`GPURecipe`: the model's shape, the corpus, and the time budget in minutes.

:func:`run_recipe` spends the budget in three stages, each resumable:

1. *Calibrate*: time a few steps and turn the budget into step counts (:func:`plan_budget`),
   written to ``plan.json`` so every later call, and every optimizer, uses the same numbers.
2. *Sweep*: every optimizer trains a short run at each rate of its grid; the rate with the lowest
   final validation loss is chosen (``sweep.json``).
3. *Final runs*: every optimizer trains at its chosen rate for the final step count, SGD also
   measuring the noise density φ along its run.

Every run writes its JSONL log and periodic checkpoints under ``out`` (Google Drive when it is
mounted, :func:`default_out`); calling :func:`run_recipe` again, after a disconnect or an
interrupted cell, skips finished runs and resumes the unfinished one from its last checkpoint.
:func:`read_recipe` reads the same folder back without training (the book reads committed GPU
runs this way).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from signlab import _validate
from signlab.gpt.model import GPTConfig
from signlab.gpt.presets import COLAB_T4, PRESETS, Preset

SCALE_ENV = "SIGNLAB_GPT_SCALE"
"""Environment variable that forces the chapter's scale: ``cpu``, ``gpu`` or ``standin``."""

SCALES = ("cpu", "gpu", "standin")

RECIPE_PRESET = "gpu-recipe"
"""The name the recipe's runs carry in their ``run.json``."""

GPU_OPTIMIZERS = ("sgd", "signsgd", "muon", "adamw")

LR_GRIDS = {  # three rates a factor √10 apart, around colab-t4's defaults
    "sgd": (3e-3, 1e-2, 3e-2),
    "signsgd": (3e-5, 1e-4, 3e-4),
    "signum": (3e-5, 1e-4, 3e-4),
    "lion": (3e-5, 1e-4, 3e-4),
    "muon": (0.01, 0.02, 0.05),
    "adamw": (3e-4, 1e-3, 3e-3),
}
"""The sweep's rates per optimizer; the middle one is ``colab-t4``'s untuned default."""


def chapter_scale(cuda: bool | None = None) -> str:
    """``"gpu"`` on a CUDA runtime, else ``"cpu"``; ``SIGNLAB_GPT_SCALE`` forces any of
    :data:`SCALES` (``standin``: the GPU recipe's code path on the CPU at a toy size, for tests)."""
    forced = os.environ.get(SCALE_ENV, "").strip()
    if forced:
        return _validate.choice(SCALE_ENV, forced, SCALES)
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return "gpu" if cuda else "cpu"


@dataclass(frozen=True)
class GPURecipe:
    """The GPU scale in one place: model shape, corpus, batch, time budget and rate grids.

    ``minutes`` is the whole budget: the sweep gets ``sweep_share`` of it, split evenly over its
    runs, and the final runs the rest, split evenly over the optimizers. The default (a 30M
    parameter GPT-2, 6 layers of width 384, 65,536 tokens a step, two hours) is sized for one free
    Colab session on a T4. ``corpus="web"`` streams FineWeb-Edu once (GPT-2's BPE via tiktoken,
    needs internet and ``pip install tiktoken datasets``); ``"stdlib"`` needs nothing: Python's
    standard library, tokenized by a BPE learned from it (:mod:`signlab.gpt.bpe`).
    """

    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    block_size: int = 512
    batch_size: int = 16
    grad_accum: int = 8
    minutes: float = 120.0
    sweep_share: float = 0.3
    optimizers: tuple[str, ...] = GPU_OPTIMIZERS
    lr_grids: dict = field(default_factory=lambda: dict(LR_GRIDS))
    corpus: str = "web"
    vocab_size: int | None = None  # None: 50304 (GPT-2's, padded) for web, 8192 for stdlib
    web_tokens: int = 100_000_000
    corpus_bytes: int | None = None  # stdlib: read at most this many characters (None: all)
    evaluations: int = 20  # validation losses per run
    eval_batches: int = 20
    density_points: int = 8  # φ measurements along SGD's final run
    density_samples: int = 16
    checkpoint_minutes: float = 5.0
    calibration_steps: int = 12
    strict_budget: bool = True  # False: a budget too small still gives every run 10 steps
    seed: int = 0
    device: str = "auto"
    compile: bool | None = None  # None: on CUDA

    def __post_init__(self):
        for name in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "grad_accum"):
            _validate.integer(name, getattr(self, name))
        _validate.positive("minutes", self.minutes)
        _validate.unit_interval("sweep_share", self.sweep_share)
        _validate.choice("corpus", self.corpus, ("web", "stdlib"))
        for name in self.optimizers:
            _validate.choice("optimizer", name, tuple(LR_GRIDS))
            if not self.lr_grids.get(name):
                raise ValueError(f"lr_grids must give rates for {name!r}")
        for name in ("evaluations", "eval_batches", "density_points", "calibration_steps"):
            _validate.integer(name, getattr(self, name))
        _validate.integer("density_samples", self.density_samples, low=2)
        _validate.positive("checkpoint_minutes", self.checkpoint_minutes)

    @property
    def vocab(self) -> int:
        """The vocabulary V: the field, or 50304 (web, GPT-2's padded) / 8192 (stdlib BPE)."""
        if self.vocab_size is not None:
            return self.vocab_size
        return COLAB_T4.model.vocab_size if self.corpus == "web" else 8192

    @property
    def model(self) -> GPTConfig:
        """The network's shape."""
        return GPTConfig(
            vocab_size=self.vocab,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
        )

    @property
    def tokens_per_step(self) -> int:
        """Tokens one optimizer step sees: batch · accumulation · context."""
        return self.batch_size * self.grad_accum * self.block_size

    def preset(self, steps: int = 1000) -> Preset:
        """The recipe as a :class:`~signlab.gpt.presets.Preset` of ``steps`` steps (the schedule of
        ``colab-t4``: 10% warmup, cosine to 10%, weight decay 0.1, clipping 1.0)."""
        return replace(
            COLAB_T4,
            name=RECIPE_PRESET,
            model=self.model,
            data=self.corpus,
            batch_size=self.batch_size,
            grad_accum=self.grad_accum,
            steps=steps,
            eval_every=max(1, steps // self.evaluations),
            eval_batches=self.eval_batches,
            lr={**COLAB_T4.lr, **{k: v[len(v) // 2] for k, v in self.lr_grids.items()}},
            data_tokens=self.web_tokens,
            corpus_bytes=self.corpus_bytes,
            compile=True,
            cpu_threads=1,  # on a CPU (the stand-in) one thread is fastest for small models
        )

    def describe(self) -> str:
        """One line: parameters, tokens a step, corpus, budget."""
        n = self.model.num_params()
        return (
            f"GPT-2 of {self.n_layer} layers, width {self.n_embd}, context {self.block_size},"
            f" vocabulary {self.vocab:,}: N = {n / 1e6:.1f}M parameters;"
            f" {self.tokens_per_step:,} tokens a step; corpus {self.corpus};"
            f" budget {self.minutes:g} minutes"
        )


STANDIN = GPURecipe(
    n_layer=1,
    n_head=2,
    n_embd=32,
    block_size=32,
    batch_size=4,
    grad_accum=2,
    minutes=1.5,
    corpus="stdlib",
    vocab_size=384,
    corpus_bytes=150_000,
    evaluations=5,
    eval_batches=2,
    density_points=3,
    density_samples=4,
    checkpoint_minutes=0.02,
    calibration_steps=6,
    strict_budget=False,  # on a busy CPU the budget may not hold; every run still trains
    device="cpu",
    compile=False,
)
"""The GPU recipe's code path at a toy size on the CPU: what the tests and the stand-in scale run."""


def register(recipe: GPURecipe, steps: int) -> Preset:
    """Make ``recipe`` at ``steps`` steps the preset named :data:`RECIPE_PRESET`, so that
    :class:`~signlab.gpt.config.RunConfig` and :func:`~signlab.gpt.train.train` find it."""
    preset = recipe.preset(steps)
    PRESETS[RECIPE_PRESET] = preset
    return preset


@dataclass(frozen=True)
class BudgetPlan:
    """Step counts that spend a recipe's budget, from a measured time per step and per run."""

    seconds_per_step: float
    seconds_per_run: float
    sweep_steps: int
    final_steps: int
    hardware: str = ""

    def minutes(self, recipe: GPURecipe) -> dict[str, float]:
        """Estimated minutes of the sweep and of the final runs (each run's start included)."""
        n_sweep = _sweep_runs(recipe) if recipe.sweep_share else 0
        n_final = len(recipe.optimizers)
        per = self.seconds_per_step * (1 + _overhead(recipe))
        return {
            "sweep": n_sweep * (self.sweep_steps * per + self.seconds_per_run) / 60,
            "final": n_final * (self.final_steps * per + self.seconds_per_run) / 60,
        }


def _sweep_runs(recipe: GPURecipe) -> int:
    return sum(len(recipe.lr_grids[o]) for o in recipe.optimizers)


def _overhead(recipe: GPURecipe) -> float:
    """Evaluation time as a fraction of training time, for a run of 1000 steps: each of its
    evaluations is ``eval_batches`` forward passes of one microbatch, about a third of a
    microbatch's training cost each."""
    return recipe.evaluations * recipe.eval_batches / 3 / recipe.grad_accum / 1000


def plan_budget(
    recipe: GPURecipe, seconds_per_step: float, seconds_per_run: float = 0.0, hardware: str = ""
) -> BudgetPlan:
    """Spend ``recipe.minutes``: ``sweep_share`` of it over the sweep's runs and the rest over
    the final runs, each run costing ``seconds_per_run`` to start (loading data, compiling)
    plus ``seconds_per_step`` a step. A budget too small to give every run 10 steps raises
    ``ValueError`` with the budget that would (unless ``recipe.strict_budget`` is False: then
    every run gets at least 10 steps, over budget if need be)."""
    step = _validate.positive("seconds_per_step", seconds_per_step) * (1 + _overhead(recipe))
    start = _validate.nonnegative("seconds_per_run", seconds_per_run)
    n_sweep, n_final = _sweep_runs(recipe), len(recipe.optimizers)
    total = recipe.minutes * 60
    sweep = int((total * recipe.sweep_share / n_sweep - start) / step) if recipe.sweep_share else 0
    final = int((total * (1 - recipe.sweep_share) / n_final - start) / step)
    if not recipe.strict_budget:  # the stand-in: always runs, however slow the machine
        return BudgetPlan(
            seconds_per_step,
            start,
            max(sweep, 10) if recipe.sweep_share else 0,
            max(final, 10),
            hardware,
        )
    if min(final, sweep if recipe.sweep_share else 10) < 10:
        runs = n_final + (n_sweep if recipe.sweep_share else 0)
        need = (
            (10 * step + start)
            * runs
            / 60
            / max(min(recipe.sweep_share, 1 - recipe.sweep_share), 0.05)
        )
        raise ValueError(
            f"minutes must give every run at least 10 steps at {seconds_per_step:.3g} s a step "
            f"and {start:.3g} s a start (got {recipe.minutes:g}; about {need:.1f} would do)"
        )
    return BudgetPlan(seconds_per_step, start, sweep, final, hardware)


def default_out(scale: str = "gpu") -> Path:
    """Where the recipe's runs live: ``MyDrive/signlab_runs/gpt2-<scale>`` when Google Drive is
    mounted in Colab (runs and checkpoints survive a disconnect), else ``runs/gpt2-<scale>``."""
    from signlab.gpt.data import DRIVE_DIR

    base = DRIVE_DIR / "signlab_runs" if DRIVE_DIR.is_dir() else Path("runs")
    return base / f"gpt2-{_validate.choice('scale', scale, SCALES)}"


def _config(recipe: GPURecipe, out: Path, optimizer: str, lr: float, steps: int, **extra):
    from signlab.gpt.config import RunConfig

    every = max(1, steps // recipe.evaluations)
    return RunConfig(
        preset=RECIPE_PRESET,
        optimizer=optimizer,
        out=str(out),
        lr=lr,
        steps=steps,
        seed=recipe.seed,
        device=recipe.device,
        eval_every=every,
        log_every=max(1, every // 5),
        compile=recipe.compile,
        resume=True,
        data_dir=None,
        download=recipe.corpus == "web",
        **extra,
    )


def calibrate(recipe: GPURecipe, out: str | os.PathLike) -> BudgetPlan:
    """The budget plan, from ``out/plan.json`` if an earlier call wrote it, else measured: a few
    AdamW steps of the recipe's model give the seconds per step (over the second half of them,
    evaluations, logging and checkpoints included) and the seconds a run takes to start (until
    its first step is done: loading the prepared corpus, the model, compilation), and the plan
    is written to ``out/plan.json``. The corpus is prepared (downloaded, tokenized) before the
    timing starts."""
    from signlab.gpt.train import train

    out = Path(out)
    path = out / "plan.json"
    if path.exists():
        return BudgetPlan(**json.loads(path.read_text()))
    from signlab.gpt.train import load_corpus

    steps = recipe.calibration_steps
    preset = register(recipe, 1000)
    cfg = _config(recipe, out / "calibration", "adamw", 1e-3, 1000, stop_at=steps)
    cfg = replace(cfg, log_every=1, checkpoint=False, resume=False, progress=False)
    load_corpus(preset, cfg)  # prepared once here (download, BPE), so no run's start counts it
    records = train(cfg)
    half = records[len(records) // 2]
    step = (records[-1]["elapsed_s"] - half["elapsed_s"]) / (records[-1]["step"] - half["step"])
    start = max(records[0]["elapsed_s"] - step, 0.0)
    info = json.loads((out / "calibration" / "run.json").read_text())
    plan = plan_budget(recipe, step, start, info["hardware"])
    from signlab._io import atomic_write

    with atomic_write(path) as f:
        json.dump(asdict(plan), f, indent=1)
    return plan


def _status(directory: Path, steps: int) -> str:
    """``"done"``, ``"diverged"`` or ``"todo"`` for the run logged in ``directory``."""
    from signlab.gpt.runlog import read_log

    records = read_log(directory)
    if records and "diverged" in records[-1]:
        return "diverged"
    if records and records[-1]["step"] + 1 >= steps and (directory / "run.json").exists():
        return "done"
    return "todo"


def _train(recipe: GPURecipe, cfg, progress: bool) -> str:
    """Run (or resume, or skip when finished) one configuration; its final status."""
    from signlab.gpt.train import DivergenceError, train

    status = _status(cfg.out_dir, cfg.steps)
    if status != "todo":
        return status
    steps_per_minute = 60 / max(_plan_sps(cfg.out_dir.parent), 1e-9)
    every = max(1, int(recipe.checkpoint_minutes * steps_per_minute))
    try:
        train(replace(cfg, checkpoint_every=every, progress=progress))
    except DivergenceError:
        return "diverged"
    return _status(cfg.out_dir, cfg.steps)


def _plan_sps(directory: Path) -> float:
    """Seconds per step of the plan.json found in ``directory`` or a parent (1 when none)."""
    for d in (directory, *directory.parents):
        if (d / "plan.json").exists():
            return json.loads((d / "plan.json").read_text())["seconds_per_step"]
    return 1.0


def sweep_dir(out: Path, optimizer: str, lr: float) -> Path:
    """Where one sweep run lives: ``out/sweep/<optimizer>/lr<lr>``."""
    return Path(out) / "sweep" / optimizer / f"lr{lr:g}"


def choose_rates(out: str | os.PathLike, recipe: GPURecipe) -> dict[str, dict]:
    """Per optimizer: the final validation loss of each swept rate (``None``: diverged or not
    run) and the chosen rate, the lowest loss (``None`` when no rate finished)."""
    from signlab.gpt.compare import final_val_loss
    from signlab.gpt.runlog import read_log

    table = {}
    for name in recipe.optimizers:
        losses = {}
        for lr in recipe.lr_grids[name]:
            records = read_log(sweep_dir(Path(out), name, lr))
            ok = records and "diverged" not in records[-1] and any("val_loss" in r for r in records)
            losses[f"{lr:g}"] = final_val_loss(records) if ok else None
        done = {k: v for k, v in losses.items() if v is not None and math.isfinite(v)}
        chosen = float(min(done, key=done.__getitem__)) if done else None
        table[name] = {"losses": losses, "chosen": chosen}
    return table


def run_recipe(recipe: GPURecipe, out: str | os.PathLike, progress: bool = True) -> dict | None:
    """Calibrate, sweep and train the final runs of ``recipe`` under ``out`` (resuming whatever an
    earlier call left unfinished); return :func:`read_recipe` of the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plan = calibrate(recipe, out)
    if plan.sweep_steps:
        register(recipe, plan.sweep_steps)
        for name in recipe.optimizers:
            for lr in recipe.lr_grids[name]:
                cfg = _config(recipe, sweep_dir(out, name, lr), name, lr, plan.sweep_steps)
                _train(recipe, cfg, progress)
        rates = choose_rates(out, recipe)
    else:  # no sweep (sweep_share = 0): the middle rate of each grid, untuned
        rates = {n: {"losses": {}, "chosen": g[len(g) // 2]} for n, g in recipe.lr_grids.items()}
    from signlab._io import atomic_write

    with atomic_write(out / "sweep.json") as f:
        json.dump(rates, f, indent=1)
    register(recipe, plan.final_steps)
    every = max(1, plan.final_steps // recipe.density_points)
    for name in recipe.optimizers:
        lr = rates[name]["chosen"]
        if lr is None:
            continue
        density = {"density_every": every, "density_samples": recipe.density_samples}
        extra = density if name == "sgd" else {}
        cfg = _config(recipe, out / "final" / name, name, lr, plan.final_steps, **extra)
        _train(recipe, cfg, progress)
    with atomic_write(out / "recipe.json") as f:
        json.dump(_recipe_json(recipe, plan, time.perf_counter() - started), f, indent=1)
    return read_recipe(out)


def _recipe_json(recipe: GPURecipe, plan: BudgetPlan, seconds: float) -> dict:
    fields = asdict(recipe)
    return {
        "recipe": fields,
        "n_params": recipe.model.num_params(),
        "tokens_per_step": recipe.tokens_per_step,
        "plan": asdict(plan),
        "estimated_minutes": plan.minutes(recipe),
        "seconds_this_call": seconds,
    }


def read_recipe(out: str | os.PathLike) -> dict | None:
    """What a recipe folder holds, read from its files alone: ``runs`` {optimizer: log records of
    its final run}, ``info`` {optimizer: its ``run.json``}, ``sweep`` (``sweep.json``), ``plan``
    (``plan.json``) and ``hardware`` (the device the final runs used). Empty dicts where a file is
    missing; ``None`` when ``out`` holds no final run."""
    from signlab.gpt.runlog import read_log

    out = Path(out)
    final = out / "final"
    names = sorted(p.name for p in final.glob("*") if (p / "run.json").exists())
    if not names:
        return None
    runs = {n: read_log(final / n) for n in names}
    info = {n: json.loads((final / n / "run.json").read_text()) for n in names}

    def read(name):
        path = out / name
        return json.loads(path.read_text()) if path.exists() else {}

    hardware = sorted({i["hardware"] for i in info.values()})
    return {
        "runs": runs,
        "info": info,
        "sweep": read("sweep.json"),
        "plan": read("plan.json"),
        "hardware": ", ".join(hardware),
    }


def export_logs(out: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Copy a recipe folder's logs and JSON files (no checkpoints) to ``dest``, for committing
    as ``book/data/gpt2/gpu``; the copied paths, relative to ``dest``."""
    import shutil

    out, dest = Path(out), Path(dest)
    copied = []
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".jsonl"):
            rel = path.relative_to(out)
            if rel.parts[0] == "calibration":
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / rel)
            copied.append(rel)
    return copied


def main(argv: list[str] | None = None) -> int:
    """``python -m signlab.gpt.recipe``: run the chapter's GPU recipe from a shell (a GPU machine
    without a notebook), then optionally export its logs for the book."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m signlab.gpt.recipe", description=main.__doc__)
    p.add_argument("--minutes", type=float, default=GPURecipe.minutes, help="the whole budget")
    p.add_argument("--corpus", choices=("web", "stdlib"), default="stdlib")
    p.add_argument("--n-layer", type=int, default=GPURecipe.n_layer)
    p.add_argument("--n-embd", type=int, default=GPURecipe.n_embd)
    p.add_argument("--sweep-share", type=float, default=GPURecipe.sweep_share)
    p.add_argument("--standin", action="store_true", help="the toy CPU stand-in instead")
    p.add_argument("--out", default="runs/gpt2-gpu")
    p.add_argument("--export", help="copy the logs (no checkpoints) here, e.g. book/data/gpt2/gpu")
    args = p.parse_args(argv)
    if args.standin:
        recipe = replace(STANDIN, minutes=args.minutes)
    else:
        heads = max(1, args.n_embd // 64)
        recipe = GPURecipe(
            n_layer=args.n_layer,
            n_head=heads,
            n_embd=args.n_embd,
            minutes=args.minutes,
            corpus=args.corpus,
            sweep_share=args.sweep_share,
        )
    print(recipe.describe(), flush=True)
    result = run_recipe(recipe, args.out)
    if result is None:  # read_recipe's None: every optimizer's sweep diverged, no final run
        print(f"no final run in {args.out}: no rate of any sweep ran without diverging", flush=True)
        return 1
    for name, records in result["runs"].items():
        vals = [r["val_loss"] for r in records if "val_loss" in r]
        print(f"{name}: lr {result['info'][name]['lr']:g}, final val loss {vals[-1]:.4f}")
    print(f"device: {result['hardware']}; logs: {args.out}")
    if args.export:
        n = len(export_logs(args.out, args.export))
        print(f"exported {n} files to {args.export}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
