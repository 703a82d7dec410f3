"""Training loop for :mod:`signlab.gpt`: :func:`train`, driven by a :class:`RunConfig`.

One optimizer step averages the loss over ``grad_accum`` microbatches (split across ranks under
``torchrun``), clips the gradient to ℓ2 norm ``grad_clip``, and steps with the learning rate of the
warmup + cosine schedule. The global batch of every step is drawn from one seeded generator shared
by all ranks, each rank taking its slice, so a DDP run computes the same gradient as one process
doing all the microbatches itself.

The pieces: :func:`make_plan` resolves the numbers of a run (preset plus overrides);
:class:`Trainer` holds the model, optimizer, schedule, scaler and generators and does one
:meth:`~Trainer.step`; :mod:`signlab.gpt.checkpoint` saves and restores it;
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
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.distributed as dist

from signlab.gpt import checkpoint
from signlab.gpt import data as gdata
from signlab.gpt.config import RunConfig
from signlab.gpt.density import gradient_density, microbatch_gradients, subsample_densities
from signlab.gpt.model import GPT, GPTConfig, flops_per_token
from signlab.gpt.optimizers import make_optimizer
from signlab.gpt.presets import Preset, get_preset
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
    "cpu_threads",
    "divergence",
    "evaluate",
    "hardware_name",
    "load_corpus",
    "load_model",
    "make_plan",
    "read_log",
    "resolve_device",
    "train",
]

CKPT_NAME = checkpoint.CHECKPOINT_NAME
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
class Plan:
    """The resolved numbers of one run: the preset's values with the config's overrides."""

    preset: Preset
    model: GPTConfig
    steps: int
    batch_size: int
    accum: int
    eval_every: int
    lr: float
    device: torch.device
    amp: torch.dtype | None
    warmup_frac: float = 0.1
    min_lr_frac: float = 0.1
    rank: int = 0
    world: int = 1

    @property
    def local_accum(self) -> int:
        """Microbatches this rank runs per step."""
        return self.accum // self.world

    @property
    def tokens_per_step(self) -> int:
        """Tokens one optimizer step sees, over all ranks."""
        return self.batch_size * self.accum * self.model.block_size


def make_plan(cfg: RunConfig, device: torch.device, rank: int = 0, world: int = 1) -> Plan:
    """Resolve ``cfg`` against its preset; ``ValueError`` if the batch does not split on ranks."""
    preset = get_preset(cfg.preset)
    model = preset.model if cfg.n_embd is None else replace(preset.model, n_embd=cfg.n_embd)
    accum = cfg.grad_accum or preset.grad_accum
    if accum % world:
        raise ValueError(f"grad_accum must be a multiple of the world size {world} (got {accum})")
    return Plan(
        preset=preset,
        model=model,
        steps=cfg.steps or preset.steps,
        batch_size=cfg.batch_size or preset.batch_size,
        accum=accum,
        eval_every=cfg.eval_every or preset.eval_every,
        lr=cfg.lr or preset.lr[cfg.optimizer],
        device=device,
        amp=autocast_dtype(device, cfg.precision),
        warmup_frac=preset.warmup_frac if cfg.warmup_frac is None else cfg.warmup_frac,
        min_lr_frac=preset.min_lr_frac if cfg.min_lr_frac is None else cfg.min_lr_frac,
        rank=rank,
        world=world,
    )


@dataclass(frozen=True)
class StepResult:
    """What one optimizer step measured."""

    train_loss: float
    grad_norm: float
    lr: float
    seconds: float


class Trainer:
    """Model, optimizer, schedule, loss scaler and generators of one run, and its one step.

    The torch generator is seeded ``seed + rank`` and the batch generator ``seed``, so every rank
    draws the same global batch and takes its own slice of it.
    """

    def __init__(self, cfg: RunConfig, plan: Plan, train_tokens, val_tokens):
        self.cfg, self.plan = cfg, plan
        self.train_tokens, self.val_tokens = train_tokens, val_tokens
        device, preset = plan.device, plan.preset
        self.model = GPT(plan.model, seed=cfg.seed).to(device)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            self.model,
            plan.lr,
            preset.weight_decay,
            adamw_lr=preset.muon_adamw_lr,
            msign=cfg.msign,
            ns_dtype=None if cfg.ns_dtype == "auto" else getattr(torch, cfg.ns_dtype),
        )
        warm = warmup_steps(plan.steps, plan.warmup_frac)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda t: lr_multiplier(min(t, plan.steps - 1), plan.steps, warm, plan.min_lr_frac),
        )
        self.scaler = torch.amp.GradScaler(device.type, enabled=plan.amp == torch.float16)
        self.data_gen = torch.Generator().manual_seed(cfg.seed)
        torch.manual_seed(cfg.seed + plan.rank)
        self.net = self._wrap(self.model)
        self.started = time.perf_counter()  # train() sets it to before the data were loaded

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the step calls: compiled and/or DDP-wrapped ``model``."""
        cfg, plan = self.cfg, self.plan
        net = model
        default = plan.preset.compile and plan.device.type == "cuda"
        if cfg.compile if cfg.compile is not None else default:
            net = torch.compile(model)
        if plan.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [plan.device.index] if plan.device.type == "cuda" else None
            net = DistributedDataParallel(net, device_ids=ids)
        return net

    def autocast(self):
        """The autocast context of this run (a no-op in fp32)."""
        if self.plan.amp is None:
            return nullcontext()
        return torch.autocast(device_type=self.plan.device.type, dtype=self.plan.amp)

    def _to(self, x: torch.Tensor) -> torch.Tensor:
        """Host batch to device; pinned and asynchronous on CUDA so the copy overlaps compute."""
        if self.plan.device.type == "cuda":
            return x.pin_memory().to(self.plan.device, non_blocking=True)
        return x.to(self.plan.device)

    def _backward(self) -> torch.Tensor:
        """Forward and backward over this rank's microbatches; the summed loss (a tensor)."""
        plan = self.plan
        block = plan.model.block_size
        starts = gdata.batch_starts(
            len(self.train_tokens), block, plan.batch_size * plan.accum, self.data_gen
        )
        mine = starts.view(plan.accum, plan.batch_size)
        mine = mine[plan.rank * plan.local_accum : (plan.rank + 1) * plan.local_accum]
        loss_sum = torch.zeros((), device=plan.device)
        for micro in range(plan.local_accum):
            x, y = gdata.windows(self.train_tokens, mine[micro], block)
            last = micro == plan.local_accum - 1
            sync = self.net.no_sync if plan.world > 1 and not last else nullcontext
            with sync(), self.autocast():
                _, loss = self.net(self._to(x), self._to(y))
            self.scaler.scale(loss / plan.local_accum).backward()
            loss_sum += loss.detach()
        if plan.world > 1:
            dist.all_reduce(loss_sum)
        return loss_sum

    def forward_backward(self) -> tuple[float, float]:
        """Gradient of one global batch, unscaled and clipped: (mean train loss, grad ℓ2 norm)."""
        loss_sum = self._backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.plan.preset.grad_clip
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip))
        return float(loss_sum) / self.plan.accum, grad_norm

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
        p = self.plan
        return evaluate(
            self.model,
            self.val_tokens,
            p.model.block_size,
            p.batch_size,
            p.preset.eval_batches,
            p.device,
            self.autocast,
        )

    def density(self, step: int) -> tuple[float, dict[str, float], dict[str, float]]:
        """(overall φ, per-tensor φ, {n: overall φ from the first n draws}) from
        ``density_samples`` microbatch gradients at this point (n from ``density_subsamples``)."""
        stacks = microbatch_gradients(
            self.model,
            self.train_tokens,
            self.cfg.density_samples,
            self.plan.batch_size,
            seed=self.cfg.seed + 10_000 + step,
            autocast=self.autocast,
            forward=self.net,
        )
        phi, layers = gradient_density(stacks)
        return phi, layers, subsample_densities(stacks, self.cfg.density_subsamples)

    def state_dict(self, step: int) -> dict:
        """A checkpoint of the run after ``step`` steps (every rank's RNG states included)."""
        mine = checkpoint.rng_state(self.plan.device)
        rngs = [mine]
        if self.plan.world > 1:
            rngs = [None] * self.plan.world
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
            "model_config": self.plan.model.to_dict(),
        }

    def load_state_dict(self, state: dict) -> int:
        """Restore a checkpoint; returns its step."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.data_gen.set_state(state["data_rng"].cpu())
        checkpoint.set_rng_state(state["rng"][self.plan.rank], self.plan.device)
        return int(state["step"])

    def step(self) -> StepResult:
        """One optimizer step on the next global batch."""
        t0 = time.perf_counter()
        train_loss, grad_norm = self.forward_backward()
        problem = divergence(train_loss, grad_norm, self.scaler.is_enabled())
        if problem is not None:
            return StepResult(train_loss, grad_norm, float("nan"), time.perf_counter() - t0)
        lr = self.apply()
        return StepResult(train_loss, grad_norm, lr, time.perf_counter() - t0)


@contextmanager
def cpu_threads(n: int | None):
    """Run the block with torch capped at ``n`` CPU threads (``None``: unchanged), then restore.

    Tiny models are fastest on one thread, and on a shared machine two threads per process can
    be ~20× slower (``benchmarks/gpt.md``).
    """
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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
    cap = get_preset(cfg.preset).cpu_threads if device.type == "cpu" else None
    try:
        with cpu_threads(cap):
            yield device, rank, world
    finally:
        if owns_group:
            dist.destroy_process_group()


def _load_data(cfg: RunConfig, plan: Plan):
    """Rank 0 loads (and downloads, if anyone does) first; the others wait, then load."""
    if plan.rank == 0:
        tokens = load_corpus(plan.preset, cfg)
    if plan.world > 1:
        dist.barrier()
    if plan.rank != 0:
        tokens = load_corpus(plan.preset, cfg)
    return tokens


def _run_info(cfg: RunConfig, plan: Plan, trainer: Trainer) -> dict:
    n_params = trainer.model.num_params()
    return {
        "config": asdict(cfg),
        "model_config": plan.model.to_dict(),
        "n_params": n_params,
        "lr": plan.lr,
        "steps": plan.steps,
        "tokens_per_step": plan.tokens_per_step,
        "flops_per_token": flops_per_token(plan.model, n_params),
        "world_size": plan.world,
        "hardware": hardware_name(plan.device),
        "dtype": str(plan.amp or torch.float32).removeprefix("torch."),
        "torch": torch.__version__,
    }


def _record(trainer: Trainer, step: int, result: StepResult) -> dict | None:
    """The log record of ``step`` (None when nothing is due), with evaluations attached."""
    cfg, plan = trainer.cfg, trainer.plan
    done = step + 1
    last = done == plan.steps
    record = None
    if step % cfg.log_every == 0 or last:
        record = {
            "step": step,
            "train_loss": result.train_loss,
            "lr": result.lr,
            "grad_norm": result.grad_norm,
            "tokens": done * plan.tokens_per_step,
            "tokens_per_s": plan.tokens_per_step / result.seconds,
            "elapsed_s": time.perf_counter() - trainer.started,
        }
    if done % plan.eval_every == 0 or last:
        record = record or {"step": step, "train_loss": result.train_loss}
        record["val_loss"] = trainer.evaluate()
    if cfg.density_every and (step % cfg.density_every == 0 or last):
        record = record or {"step": step, "train_loss": result.train_loss}
        record["phi"], record["phi_layers"], by_n = trainer.density(step)
        if by_n:
            record["phi_n"] = by_n
    return record


def _diverged(cfg: RunConfig, plan: Plan, step: int, problem: str) -> DivergenceError:
    ckpt = cfg.out_dir / CKPT_NAME
    kept = f"{ckpt}" if ckpt.exists() else "none (no checkpoint yet)"
    what, _, value = problem.partition(" = ")
    return DivergenceError(
        f"training diverged at step {step}: the {what} is {value} "
        f"(optimizer {cfg.optimizer}, lr {plan.lr:g}); last good checkpoint: {kept}. "
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
    start = trainer.load_state_dict(checkpoint.load(path, trainer.plan.device))
    return start, [r for r in read_log(cfg.out_dir) if r["step"] < start]


def _loop(cfg: RunConfig, plan: Plan, trainer: Trainer, start: int, log: RunLog) -> None:
    stop = min(plan.steps, cfg.stop_at or plan.steps)
    ckpt = cfg.out_dir / CKPT_NAME
    for step in range(start, stop):
        result = trainer.step()
        problem = divergence(result.train_loss, result.grad_norm, trainer.scaler.is_enabled())
        if problem is not None:
            record = {"step": step, "train_loss": None, "diverged": problem}
            log.write(record, keep=False)
            raise _diverged(cfg, plan, step, problem)
        record = _record(trainer, step, result)
        if record is not None:
            log.write(record)
        log.progress.update(step + 1, record)
        reached = _reached(cfg, record)
        periodic = cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0
        if cfg.checkpoint and (periodic or reached or step + 1 == stop):
            state = trainer.state_dict(step + 1)
            if plan.rank == 0:
                checkpoint.save(ckpt, state)
        if reached:
            return


def train(cfg: RunConfig) -> list[dict]:
    """Run (or resume) the training described by ``cfg``; return the run's log records."""
    started = time.perf_counter()
    with _process(cfg) as (device, rank, world):
        plan = make_plan(cfg, device, rank, world)
        out = cfg.out_dir
        if rank == 0:
            out.mkdir(parents=True, exist_ok=True)
        train_tokens, val_tokens = _load_data(cfg, plan)
        trainer = Trainer(cfg, plan, train_tokens, val_tokens)
        trainer.started = started
        start, kept = _resume(cfg, trainer)
        if rank == 0:
            info = json.dumps(_run_info(cfg, plan, trainer), indent=1)
            with open(out / "run.json", "w") as f:
                f.write(info)
        stop = min(plan.steps, cfg.stop_at or plan.steps)
        progress = Progress(stop, start, cfg.optimizer, enabled=cfg.progress and rank == 0)
        with RunLog(out, kept, progress, writer=rank == 0) as log:
            _loop(cfg, plan, trainer, start, log)
        return log.records
