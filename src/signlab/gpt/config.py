"""The one definition of a training run's options: :class:`RunConfig`.

Each field is one option with its help text in ``metadata``; the command line
(``python -m signlab.gpt``) is generated from these fields by :mod:`signlab.gpt.cli`, so an option
is added in exactly one place. ``None`` means "the preset's value": :meth:`RunConfig.resolved`
fills those in, and the resolved config is what :func:`signlab.gpt.train.train` runs from the
command line to the loop (and what its ``run.json`` and checkpoints record).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from signlab import _validate
from signlab.gpt.model import GPTConfig
from signlab.gpt.presets import DATA_SOURCES, OPTIMIZERS, PRESETS, Preset, get_preset
from signlab.gpt.schedule import fraction

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MSIGNS = ("jordan", "polar_express", "cans", "you", "svd")
"""Muon's matrix sign in a run: a Newton–Schulz schedule of geometry.ns_schedules, or exact SVD."""
NS_DTYPES = ("auto", "float32", "bfloat16")


def _opt(default, text: str, **extra):
    return field(default=default, metadata={"help": text, **extra})


@dataclass
class RunConfig:
    """Train a GPT-2 with one optimizer and log the loss curve as JSONL.

    ``resume=True`` continues from ``<out>/checkpoint.pt`` when it exists and starts afresh
    otherwise, so the same command works before and after an interruption.
    """

    preset: str = _opt("cpu-tiny", "the recipe", choices=tuple(PRESETS))
    optimizer: str = _opt("adamw", "the optimizer", choices=OPTIMIZERS)
    out: str | None = _opt(None, "output directory (default: runs/<preset>/<optimizer>)")
    steps: int | None = _opt(None, "optimizer steps, the schedule's length (default: preset's)")
    lr: float | None = _opt(None, "learning rate (default: the preset's for the optimizer)")
    batch_size: int | None = _opt(None, "sequences per microbatch (default: the preset's)")
    grad_accum: int | None = _opt(None, "microbatches per step, over all ranks (default: preset's)")
    n_embd: int | None = _opt(None, "model width d (default: the preset's)")
    warmup_frac: float | None = _opt(
        None, "fraction of the steps spent in linear warmup (default: the preset's)"
    )
    min_lr_frac: float | None = _opt(
        None,
        "the cosine's floor as a fraction of the lr; with --warmup-frac 0 and --min-lr-frac 1 "
        "the rate is constant (default: the preset's)",
    )
    seed: int = _opt(0, "seed of the initialisation and of the batches")
    device: str = _opt("auto", "auto (CUDA when available), cpu, cuda or cuda:K")
    precision: str = _opt(
        "auto",
        "autocast dtype: auto (bf16 on GPUs that have it, fp16 with loss scaling on older "
        "GPUs, fp32 on CPU), or force fp32, bf16 or fp16",
        choices=PRECISIONS,
    )
    data: str | None = _opt(
        None,
        "corpus: bytes (offline pydoc_data text), web (FineWeb-Edu, needs --download once) or "
        "stdlib (offline: the standard library's modules, a BPE learned from them) "
        "(default: the preset's)",
        choices=DATA_SOURCES,
    )
    msign: str = _opt(
        "jordan",
        "Muon only: msign by Newton–Schulz with this schedule (jordan: torch.optim.Muon's "
        "quintic; polar_express, cans, you: per-step schedules) or by exact svd",
        choices=MSIGNS,
    )
    ns_dtype: str = _opt(
        "auto",
        "Muon only: Newton–Schulz dtype (auto: geometry.matrix.working_dtype's choice)",
        choices=NS_DTYPES,
    )
    log_every: int = _opt(1, "steps between log records")
    eval_every: int | None = _opt(None, "steps between validation losses (default: preset's)")
    target_loss: float | None = _opt(
        None, "stop as soon as the validation loss is at or below this value"
    )
    checkpoint: bool = _opt(True, "write checkpoints (--no-checkpoint: never)")
    checkpoint_every: int = _opt(
        0, "steps between checkpoints; 0: one checkpoint when the run ends or stops"
    )
    density_every: int = _opt(0, "measure the noise density φ every N steps (0: never)")
    density_samples: int = _opt(32, "microbatch gradients per φ measurement")
    density_subsamples: tuple[int, ...] = _opt(
        (),
        "also log φ estimated from only the first n of those gradients, for each n listed "
        "(the estimator's bias at small n, from the same draws)",
    )
    resume: bool = _opt(False, "continue from <out>/checkpoint.pt when it exists")
    stop_at: int | None = _opt(None, "stop after this step, keeping the schedule (resume later)")
    compile: bool | None = _opt(None, "torch.compile the model (default: on CUDA for GPU presets)")
    progress: bool = _opt(True, "show progress (a bar on a terminal, a few plain lines otherwise)")
    data_dir: str | None = _opt(
        None, "where prepared corpora (web, stdlib) live (default: cache dir)"
    )
    download: bool = _opt(False, "allow streaming the web corpus (needs tiktoken and datasets)")

    def __post_init__(self):
        get_preset(self.preset)
        _validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        _validate.choice("device", self.device.split(":")[0], DEVICES)
        _validate.choice("precision", self.precision, PRECISIONS)
        _validate.choice("msign", self.msign, MSIGNS)
        _validate.choice("ns_dtype", self.ns_dtype, NS_DTYPES)
        if self.data is not None:
            _validate.choice("data", self.data, DATA_SOURCES)
        _validate.integer("seed", self.seed, low=0)
        _validate.integer("log_every", self.log_every)
        _validate.integer("checkpoint_every", self.checkpoint_every, low=0)
        _validate.integer("density_every", self.density_every, low=0)
        _validate.integer("density_samples", self.density_samples, low=2)
        for name in ("steps", "batch_size", "grad_accum", "n_embd", "eval_every", "stop_at"):
            if getattr(self, name) is not None:
                _validate.integer(name, getattr(self, name))
        for name in ("lr", "target_loss"):
            if getattr(self, name) is not None:
                _validate.positive(name, getattr(self, name))
        for name in ("warmup_frac", "min_lr_frac"):
            if getattr(self, name) is not None:
                fraction(name, getattr(self, name))
        for n in self.density_subsamples:
            _validate.integer("density_subsamples", n, low=2, high=self.density_samples)

    def resolved(self) -> ResolvedRunConfig:
        """This config with every option left to the preset (None) set to the preset's value:
        steps, lr (the preset's for the optimizer), batch size, accumulation, width, warmup and
        floor of the schedule, data source, evaluation interval."""
        preset = self.recipe
        done = replace(
            self,
            steps=self.steps or preset.steps,
            lr=self.lr or preset.lr[self.optimizer],
            batch_size=self.batch_size or preset.batch_size,
            grad_accum=self.grad_accum or preset.grad_accum,
            n_embd=self.n_embd or preset.model.n_embd,
            warmup_frac=preset.warmup_frac if self.warmup_frac is None else self.warmup_frac,
            min_lr_frac=preset.min_lr_frac if self.min_lr_frac is None else self.min_lr_frac,
            data=self.data or preset.data,
            eval_every=self.eval_every or preset.eval_every,
        )
        return cast("ResolvedRunConfig", done)  # every field below is set just above

    @property
    def recipe(self) -> Preset:
        """The preset this run starts from (its model, weight decay, clipping, evaluation size)."""
        return get_preset(self.preset)

    @property
    def model(self) -> GPTConfig:
        """The network's shape: the preset's, at width ``n_embd`` when given."""
        shape = self.recipe.model
        return shape if self.n_embd is None else replace(shape, n_embd=self.n_embd)

    @property
    def tokens_per_step(self) -> int:
        """Tokens one optimizer step sees, over all ranks (the preset's batch size and
        accumulation where this config leaves them to it)."""
        cfg = self.resolved()  # the same values when self is resolved already
        return cfg.batch_size * cfg.grad_accum * cfg.model.block_size

    @property
    def out_dir(self) -> Path:
        """The run's directory: ``out``, or ``runs/<preset>/<optimizer>``."""
        return Path(self.out) if self.out else Path("runs") / self.preset / self.optimizer


if TYPE_CHECKING:

    class ResolvedRunConfig(RunConfig):
        """For the type checker only: a :class:`RunConfig` after :meth:`RunConfig.resolved`,
        whose options left to the preset are set (at run time there is no such class: a
        resolved config is a plain RunConfig)."""

        steps: int
        lr: float
        batch_size: int
        grad_accum: int
        n_embd: int
        warmup_frac: float
        min_lr_frac: float
        data: str
        eval_every: int
