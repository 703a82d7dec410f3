"""Training loop for :mod:`signlab.gpt`: :func:`train`, driven by a :class:`RunConfig`.

One optimizer step averages the loss over ``grad_accum`` microbatches (split across ranks under
``torchrun``), clips the gradient to ℓ2 norm ``grad_clip``, and steps with the learning rate of the
warmup + cosine schedule. The global batch of every step is drawn from one seeded generator shared
by all ranks, each rank taking its slice, so a DDP run computes the same gradient as one process
doing all the microbatches itself.

The path from the command line to the loss: ``python -m signlab.gpt`` builds a
:class:`RunConfig`, and :func:`train` resolves it against its preset (:meth:`RunConfig.resolved`,
the one configuration of the run from there on), builds a :class:`Trainer` (model, optimizer,
schedule, scaler, generators) and runs the loop itself: each step is
:meth:`Trainer.step` = :meth:`~Trainer.forward_backward` (the batch, forward and backward through
the model, clipping) then, unless :func:`divergence` finds the loss or gradient non-finite,
:meth:`~Trainer.apply` (the optimizer and the schedule); then the log record (:func:`_record`, with
the evaluations that are due) and the checkpoint (:mod:`signlab.gpt.checkpoint`);
:class:`~signlab.gpt.runlog.RunLog` writes the log. Every ``log_every`` steps a JSON line
``{"step", "train_loss", "lr", "tokens", "elapsed_s", ...}`` goes to ``<out>/log.jsonl``
(``elapsed_s``: seconds since this process started the run, data loading and compilation
included) (plus ``val_loss``
every ``eval_every`` steps and the noise density ``phi`` every ``density_every`` steps).
Resuming reproduces the uninterrupted loss curve. A non-finite loss or gradient stops the run
with :class:`DivergenceError`, leaving the last good checkpoint in place.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.distributed as dist

from signlab._threads import torch_threads
from signlab.gpt import checkpoint
from signlab.gpt import data as gdata
from signlab.gpt.config import RunConfig
from signlab.gpt.density import gradient_density, microbatch_gradients, subsample_densities
from signlab.gpt.model import GPT, GPTConfig, flops_per_token
from signlab.gpt.optimizers import make_optimizer
from signlab.gpt.presets import Preset
from signlab.gpt.runlog import LOG_NAME, Progress, RunLog, read_log
from signlab.gpt.schedule import lr_multiplier, warmup_steps

_SCHEDULER_ORDER_WARNING = r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`"
"""The start of torch's warning for a scheduler step with no optimizer step before it."""

__all__ = [
    "CKPT_NAME",
    "LOG_NAME",
    "DivergenceError",
    "RunConfig",
    "Trainer",
    "autocast_dtype",
    "choose_autocast",
    "divergence",
    "evaluate",
    "hardware_name",
    "load_corpus",
    "load_model",
    "read_log",
    "resolve_device",
    "train",
]

CKPT_NAME = checkpoint.CHECKPOINT_NAME
CPU = torch.device("cpu")
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class DivergenceError(RuntimeError):
    """Training produced a NaN/inf loss or gradient; the last good checkpoint is kept."""


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def choose_autocast(device_type: str, precision: str, bf16_supported: bool) -> torch.dtype | None:
    """The autocast dtype (None: plain fp32) for a device kind and a requested precision.

    ``auto`` means bf16 on a CUDA GPU that has native bf16 (A100, H100), fp16 on one that lacks
    it (T4, with a gradient scaler), and fp32 on CPU and other devices, where these small models
    are not limited by matmul speed and fp32 keeps the book's numbers exact. ``fp32``, ``bf16``
    and ``fp16`` force that dtype (fp16 on CPU exercises the loss-scaling path in tests).
    """
    if precision != "auto":
        return _DTYPES[precision]
    if device_type != "cuda":
        return None
    return torch.bfloat16 if bf16_supported else torch.float16


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """:func:`choose_autocast` for this machine's ``device``."""
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False)
    return choose_autocast(device.type, precision, bf16)


def hardware_name(device: torch.device) -> str:
    """A human-readable name of the device a run used (GPU model, or CPU with its core count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return f"CPU {name}, {os.cpu_count()} cores"


def load_corpus(preset: Preset, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) token streams for the run's data source (``cfg.data`` or the preset's)."""
    source = cfg.data or preset.data
    if source == "bytes":
        return gdata.split_tokens(gdata.byte_corpus(), 0.1)
    if source == "stdlib":
        v = preset.model.vocab_size
        train, val, _ = gdata.prepare_offline_text(v, preset.corpus_bytes, cfg.data_dir)
        return gdata.load_token_file(train), gdata.load_token_file(val)
    train, val = gdata.prepare_web_text(preset.data_tokens, cfg.download, cfg.data_dir)
    return gdata.load_token_file(train), gdata.load_token_file(val)


def evaluate(model, tokens, block_size, batch_size, n_batches, device, autocast) -> float:
    """Mean loss over ``n_batches`` fixed validation batches (generator seeded 1234 every time)."""
    gen = torch.Generator().manual_seed(1234)
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for _ in range(n_batches):
            starts = gdata.batch_starts(len(tokens), block_size, batch_size, gen)
            x, y = gdata.windows(tokens, starts, block_size)
            with autocast():
                _, loss = model(x.to(device), y.to(device))
            total += float(loss)
    model.train(was_training)
    return total / n_batches


def load_model(out, device: torch.device | str = "cpu") -> GPT:
    """The network saved in ``<out>/checkpoint.pt`` (read with ``weights_only=True``), on
    ``device``, to measure or evaluate a finished run."""
    state = checkpoint.load(os.path.join(out, CKPT_NAME), device)
    model = GPT(GPTConfig(**state["model_config"])).to(device)
    model.load_state_dict(state["model"])
    return model


def divergence(train_loss: float, grad_norm: float, loss_scaling: bool) -> str | None:
    """What went wrong (``"train loss = nan"``), or None when the step is fine.

    Under fp16 loss scaling an inf gradient norm is routine: the scaler skips that step and
    lowers its scale, so only a non-finite *loss* counts as divergence there.
    """
    if not np.isfinite(train_loss):
        return f"train loss = {train_loss}"
    if not np.isfinite(grad_norm) and not loss_scaling:
        return f"gradient norm = {grad_norm}"
    return None


@dataclass(frozen=True)
class StepResult:
    """What one optimizer step measured; ``problem``: what :func:`divergence` found (the step
    was then not taken, and ``lr`` is NaN), else None."""

    train_loss: float
    grad_norm: float
    lr: float
    seconds: float
    problem: str | None = None


class Trainer:
    """Model, optimizer, schedule, loss scaler and generators of one run, and its one step.

    ``cfg`` is resolved against its preset (:meth:`RunConfig.resolved`); ``device``, ``rank`` and
    ``world`` say where this process runs. The torch generator is seeded ``seed + rank`` and the
    batch generator ``seed``, so every rank draws the same global batch and takes its own slice.
    """

    def __init__(
        self,
        cfg: RunConfig,
        train_tokens,
        val_tokens,
        *,
        device: torch.device = CPU,
        rank: int = 0,
        world: int = 1,
    ):
        cfg = cfg.resolved()
        if cfg.grad_accum % world:
            raise ValueError(
                f"grad_accum must be a multiple of the world size {world} (got {cfg.grad_accum})"
            )
        self.cfg, self.device, self.rank, self.world = cfg, device, rank, world
        self.amp = autocast_dtype(device, cfg.precision)
        self.local_accum = cfg.grad_accum // world
        self.train_tokens, self.val_tokens = train_tokens, val_tokens
        preset = cfg.recipe
        self.model = GPT(cfg.model, seed=cfg.seed).to(device)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            self.model,
            cfg.lr,
            preset.weight_decay,
            adamw_lr=preset.muon_adamw_lr,
            msign=cfg.msign,
            ns_dtype=None if cfg.ns_dtype == "auto" else getattr(torch, cfg.ns_dtype),
        )
        steps = cfg.steps
        warm = warmup_steps(steps, cfg.warmup_frac)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda t: lr_multiplier(min(t, steps - 1), steps, warm, cfg.min_lr_frac),
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.amp == torch.float16)
        self.data_gen = torch.Generator().manual_seed(cfg.seed)
        torch.manual_seed(cfg.seed + rank)
        self.net = self._wrap(self.model)
        self.started = time.perf_counter()  # train() sets it to before the data were loaded

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the step calls: compiled and/or DDP-wrapped ``model``."""
        cfg, device = self.cfg, self.device
        net: torch.nn.Module = model
        default = cfg.recipe.compile and device.type == "cuda"
        if cfg.compile if cfg.compile is not None else default:
            net = torch.compile(model)  # type: ignore[assignment]  # an OptimizedModule; stub: a callable
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=ids)
        return net

    def autocast(self):
        """The autocast context of this run (a no-op in fp32)."""
        if self.amp is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def _to(self, x: torch.Tensor) -> torch.Tensor:
        """Host batch to device; pinned and asynchronous on CUDA so the copy overlaps compute."""
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x.to(self.device)

    def forward_backward(self) -> tuple[float, float]:
        """Gradient of one global batch, unscaled and clipped: (mean train loss, grad ℓ2 norm).

        The global batch is drawn from the batch generator; this rank runs forward and backward
        through the model on its ``local_accum`` microbatches (DDP averages the gradients on the
        last), then the gradient is unscaled and clipped to ℓ2 norm ``grad_clip``.
        """
        cfg, accum, local = self.cfg, self.cfg.grad_accum, self.local_accum
        block = cfg.model.block_size
        starts = gdata.batch_starts(
            len(self.train_tokens),
            block,
            cfg.batch_size * accum,
            self.data_gen,
        )
        mine = starts.view(accum, cfg.batch_size)
        mine = mine[self.rank * local : (self.rank + 1) * local]
        loss_sum = torch.zeros((), device=self.device)
        for micro in range(local):
            x, y = gdata.windows(self.train_tokens, mine[micro], block)
            last = micro == local - 1
            # DDP's no_sync; Module.__getattr__ is typed Tensor | Module, so mypy cannot call it
            sync = self.net.no_sync if self.world > 1 and not last else nullcontext
            with sync(), self.autocast():  # type: ignore[operator]
                _, loss = self.net(self._to(x), self._to(y))
            self.scaler.scale(loss / local).backward()
            loss_sum += loss.detach()
        if self.world > 1:
            dist.all_reduce(loss_sum)
        self.scaler.unscale_(self.optimizer)
        clip = cfg.recipe.grad_clip
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        return float(loss_sum) / accum, grad_norm

    def apply(self) -> float:
        """Take the optimizer step (the scaler may skip it) and advance the schedule; the lr used.

        The schedule follows the step count: step t uses lr(t) whether the scaler took or skipped
        it, so a run's lr curve does not shift by the number of fp16 overflows.
        """
        lr = self.optimizer.param_groups[0]["lr"]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():
            if self.scaler.is_enabled():
                # When GradScaler skips an overflowing first step, torch's scheduler sees no
                # optimizer.step() and warns that the calls are out of order, though they are not
                # (pytorch/pytorch#44511, #55585: scaler.step gives no sign of the skip). Only then.
                warnings.filterwarnings("ignore", _SCHEDULER_ORDER_WARNING, UserWarning)
            self.scheduler.step()
        return lr

    def evaluate(self) -> float:
        """Validation loss on the preset's fixed batches, with the plain (uncompiled, unwrapped)
        model: a forward pass needs no DDP, and a compiled model would compile again for eval."""
        cfg = self.cfg
        return evaluate(
            self.model,
            self.val_tokens,
            cfg.model.block_size,
            cfg.batch_size,
            cfg.recipe.eval_batches,
            self.device,
            self.autocast,
        )

    def density(self, step: int) -> tuple[float, dict[str, float], dict[str, float]]:
        """(overall φ, per-tensor φ, {n: overall φ from the first n draws}) from
        ``density_samples`` microbatch gradients at this point (n from ``density_subsamples``)."""
        stacks = microbatch_gradients(
            self.model,
            self.train_tokens,
            self.cfg.density_samples,
            self.cfg.batch_size,
            seed=self.cfg.seed + 10_000 + step,
            autocast=self.autocast,
            forward=self.net,
        )
        phi, layers = gradient_density(stacks)
        return phi, layers, subsample_densities(stacks, self.cfg.density_subsamples)

    def state_dict(self, step: int) -> dict:
        """A checkpoint of the run after ``step`` steps (every rank's RNG states included)."""
        mine = checkpoint.rng_state(self.device)
        rngs: list[checkpoint._RngState | None] = [mine]
        if self.world > 1:
            rngs = [None] * self.world
            dist.all_gather_object(rngs, mine)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "data_rng": self.data_gen.get_state(),
            "rng": rngs,
            "step": step,
            "config": asdict(self.cfg),
            "model_config": self.cfg.model.to_dict(),
        }

    def load_state_dict(self, state: dict) -> int:
        """Restore a checkpoint; returns its step."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.data_gen.set_state(state["data_rng"].cpu())
        checkpoint.set_rng_state(state["rng"][self.rank], self.device)
        return int(state["step"])

    def step(self) -> StepResult:
        """One optimizer step on the next global batch: :meth:`forward_backward`, then
        :meth:`apply` unless :func:`divergence` finds the loss or the gradient non-finite."""
        t0 = time.perf_counter()
        train_loss, grad_norm = self.forward_backward()
        problem = divergence(train_loss, grad_norm, self.scaler.is_enabled())
        lr = float("nan") if problem is not None else self.apply()
        return StepResult(train_loss, grad_norm, lr, time.perf_counter() - t0, problem)


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def _process(cfg: RunConfig):
    """The device of this process, inside its process group and CPU-thread cap (both undone)."""
    device = resolve_device(cfg.device)
    owns_group = False
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns_group = True
    rank, world = _dist_info()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    cap = cfg.recipe.cpu_threads if device.type == "cpu" else None
    try:
        with torch_threads(cap):
            yield device, rank, world
    finally:
        if owns_group:
            dist.destroy_process_group()


def _load_data(cfg: RunConfig, rank: int, world: int):
    """Rank 0 loads (and downloads, if anyone does) first; the others wait, then load."""
    if rank == 0:
        tokens = load_corpus(cfg.recipe, cfg)
    if world > 1:
        dist.barrier()
    if rank != 0:
        tokens = load_corpus(cfg.recipe, cfg)
    return tokens


def _run_info(trainer: Trainer) -> dict:
    cfg = trainer.cfg
    n_params = trainer.model.num_params()
    return {
        "config": asdict(cfg),
        "model_config": cfg.model.to_dict(),
        "n_params": n_params,
        "lr": cfg.lr,
        "steps": cfg.steps,
        "tokens_per_step": cfg.tokens_per_step,
        "flops_per_token": flops_per_token(cfg.model, n_params),
        "world_size": trainer.world,
        "hardware": hardware_name(trainer.device),
        "dtype": str(trainer.amp or torch.float32).removeprefix("torch."),
        "torch": torch.__version__,
    }


def _record(trainer: Trainer, step: int, result: StepResult) -> dict | None:
    """The log record of ``step`` (None when nothing is due), with evaluations attached."""
    cfg = trainer.cfg
    done = step + 1
    last = done == cfg.steps
    record: dict | None = None
    if step % cfg.log_every == 0 or last:
        record = {
            "step": step,
            "train_loss": result.train_loss,
            "lr": result.lr,
            "grad_norm": result.grad_norm,
            "tokens": done * cfg.tokens_per_step,
            "tokens_per_s": cfg.tokens_per_step / result.seconds,
            "elapsed_s": time.perf_counter() - trainer.started,
        }
    if done % cfg.eval_every == 0 or last:
        record = record or {"step": step, "train_loss": result.train_loss}
        record["val_loss"] = trainer.evaluate()
    if cfg.density_every and (step % cfg.density_every == 0 or last):
        record = record or {"step": step, "train_loss": result.train_loss}
        record["phi"], record["phi_layers"], by_n = trainer.density(step)
        if by_n:
            record["phi_n"] = by_n
    return record


def _diverged(cfg: RunConfig, step: int, problem: str) -> DivergenceError:
    ckpt = cfg.out_dir / CKPT_NAME
    kept = f"{ckpt}" if ckpt.exists() else "none (no checkpoint yet)"
    what, _, value = problem.partition(" = ")
    return DivergenceError(
        f"training diverged at step {step}: the {what} is {value} "
        f"(optimizer {cfg.optimizer}, lr {cfg.lr:g}); last good checkpoint: {kept}. "
        "Lower the learning rate and resume or restart."
    )


def _reached(cfg: RunConfig, record: dict | None) -> bool:
    if cfg.target_loss is None or record is None or "val_loss" not in record:
        return False
    return record["val_loss"] <= cfg.target_loss


def _resume(cfg: RunConfig, trainer: Trainer) -> tuple[int, list[dict]]:
    """(first step, records to keep) after restoring ``<out>/checkpoint.pt`` if asked and present."""
    path = cfg.out_dir / CKPT_NAME
    if not (cfg.resume and path.exists()):
        return 0, []
    start = trainer.load_state_dict(checkpoint.load(path, trainer.device))
    return start, [r for r in read_log(cfg.out_dir) if r["step"] < start]


def _checkpoint(trainer: Trainer, done: int, stop: int, reached: bool) -> None:
    """Save ``<out>/checkpoint.pt`` after ``done`` steps when one is due: every
    ``checkpoint_every`` steps, at the target loss, and at the last step of this process."""
    cfg = trainer.cfg
    periodic = cfg.checkpoint_every and done % cfg.checkpoint_every == 0
    if cfg.checkpoint and (periodic or reached or done == stop):
        state = trainer.state_dict(done)
        if trainer.rank == 0:
            checkpoint.save(cfg.out_dir / CKPT_NAME, state)


def train(cfg: RunConfig) -> list[dict]:
    """Run (or resume) the training described by ``cfg``; return the run's log records.

    The loop is here: each step is :meth:`Trainer.step`; a diverged step stops the run with
    :class:`DivergenceError`; otherwise its log record (:func:`_record`) is written, and its
    checkpoint (:func:`_checkpoint`) when one is due; the run stops at ``stop_at`` or when the
    validation loss reaches ``target_loss``.
    """
    started = time.perf_counter()
    cfg = cfg.resolved()
    with _process(cfg) as (device, rank, world):
        if rank == 0:
            cfg.out_dir.mkdir(parents=True, exist_ok=True)
        tokens = _load_data(cfg, rank, world)
        trainer = Trainer(cfg, *tokens, device=device, rank=rank, world=world)
        trainer.started = started
        start, kept = _resume(cfg, trainer)
        if rank == 0:
            info = json.dumps(_run_info(trainer), indent=1)
            with open(cfg.out_dir / "run.json", "w") as f:
                f.write(info)
        stop = min(cfg.steps, cfg.stop_at or cfg.steps)
        progress = Progress(stop, start, cfg.optimizer, enabled=cfg.progress and rank == 0)
        with RunLog(cfg.out_dir, kept, progress, writer=rank == 0) as log:
            for step in range(start, stop):
                result = trainer.step()
                if result.problem is not None:
                    log.write(
                        {"step": step, "train_loss": None, "diverged": result.problem}, keep=False
                    )
                    raise _diverged(cfg, step, result.problem)
                record = _record(trainer, step, result)
                if record is not None:
                    log.write(record)
                log.progress.update(step + 1, record)
                reached = _reached(cfg, record)
                _checkpoint(trainer, step + 1, stop, reached)
                if reached:
                    break
        return log.records
