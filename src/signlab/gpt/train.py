"""Training loop for :mod:`signlab.gpt`: :func:`train`, driven by a :class:`RunConfig`.

One optimizer step averages the loss over ``grad_accum`` microbatches (split across ranks under
``torchrun``), clips the gradient to ℓ2 norm ``grad_clip``, and steps with the learning rate of the
warmup + cosine schedule. The global batch of every step is drawn from one seeded generator shared
by all ranks, each rank taking its slice, so a DDP run computes the same gradient as one process
doing all the microbatches itself.

Every ``log_every`` steps a JSON line ``{"step", "train_loss", "lr", "tokens", ...}`` goes to
``<out>/log.jsonl`` (plus ``val_loss`` every ``eval_every`` steps and the noise density ``phi``
every ``density_every`` steps). Checkpoints hold the weights, optimizer and scheduler state, the
step and every RNG state, and are written atomically (temp file, then ``os.replace``), so resuming
reproduces the uninterrupted loss curve. A non-finite loss or gradient stops the run with
:class:`DivergenceError`, leaving the last good checkpoint in place.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from signlab import _validate
from signlab.gpt import data as gdata
from signlab.gpt.density import gradient_density, microbatch_gradients
from signlab.gpt.model import GPT, flops_per_token
from signlab.gpt.optimizers import make_optimizer
from signlab.gpt.presets import OPTIMIZERS, get_preset
from signlab.gpt.schedule import lr_multiplier, warmup_steps

LOG_NAME = "log.jsonl"
CKPT_NAME = "checkpoint.pt"


class DivergenceError(RuntimeError):
    """Training produced a NaN/inf loss or gradient; the last good checkpoint is kept."""


@dataclass
class RunConfig:
    """One run: a preset, an optimizer, and overrides (``None`` keeps the preset's value).

    ``resume=True`` continues from ``<out>/checkpoint.pt`` when it exists and starts afresh
    otherwise, so the same command works before and after an interruption.
    """

    preset: str = "cpu-tiny"
    optimizer: str = "adamw"
    out: str = "runs"
    steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    n_embd: int | None = None
    seed: int = 0
    device: str = "auto"
    log_every: int = 1
    eval_every: int | None = None
    checkpoint_every: int = 0
    density_every: int = 0
    density_samples: int = 32
    resume: bool = False
    stop_at: int | None = None
    compile: bool | None = None
    progress: bool = True
    data_dir: str | None = None
    download: bool = False

    def __post_init__(self):
        get_preset(self.preset)
        _validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        _validate.integer("seed", self.seed, low=0)
        _validate.integer("log_every", self.log_every)
        _validate.integer("checkpoint_every", self.checkpoint_every, low=0)
        _validate.integer("density_every", self.density_every, low=0)
        _validate.integer("density_samples", self.density_samples, low=2)
        for name in ("steps", "batch_size", "grad_accum", "n_embd", "eval_every", "stop_at"):
            if getattr(self, name) is not None:
                _validate.integer(name, getattr(self, name))
        if self.lr is not None:
            _validate.positive("lr", self.lr)
        _validate.choice("device", self.device.split(":")[0], ("auto", "cpu", "cuda", "mps"))


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision by device: bf16 on CUDA GPUs that support it (A100/H100), fp16 on older
    ones (T4: with a gradient scaler), none (fp32) on CPU, where bf16 matmuls are much slower."""
    if device.type != "cuda":
        return None
    if torch.cuda.is_bf16_supported(including_emulation=False):
        return torch.bfloat16
    return torch.float16


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


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _init_distributed(device: torch.device) -> bool:
    """Join the process group that ``torchrun`` describes in the environment (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return True


def evaluate(model, tokens, block_size, batch_size, n_batches, device, autocast) -> float:
    """Mean loss over ``n_batches`` fixed validation batches (generator seeded 1234 every time)."""
    gen = torch.Generator().manual_seed(1234)
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for _ in range(n_batches):
            x, y = gdata.windows(
                tokens, gdata.batch_starts(len(tokens), block_size, batch_size, gen), block_size
            )
            with autocast():
                _, loss = model(x.to(device), y.to(device))
            total += float(loss)
    model.train(was_training)
    return total / n_batches


def load_corpus(preset, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) token streams for the preset's data source."""
    if preset.data == "bytes":
        return gdata.split_tokens(gdata.byte_corpus(), 0.1)
    train, val = gdata.prepare_web_text(preset.data_tokens, cfg.download, cfg.data_dir)
    return gdata.load_token_file(train), gdata.load_token_file(val)


def _to(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Host batch to device; pinned and asynchronous on CUDA so the copy overlaps compute."""
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_log(out: str | os.PathLike) -> list[dict]:
    """The JSONL records of the run in directory ``out``, in order."""
    return _read_log(Path(out) / LOG_NAME)


def train(cfg: RunConfig) -> list[dict]:
    """Run (or resume) the training described by ``cfg``; return this run's log records."""
    preset = get_preset(cfg.preset)
    device = resolve_device(cfg.device)
    owns_group = _init_distributed(device)
    rank, world = _dist_info()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    threads = torch.get_num_threads()
    if device.type == "cpu" and preset.cpu_threads:
        torch.set_num_threads(preset.cpu_threads)
    try:
        return _train(cfg, preset, device, rank, world)
    finally:
        torch.set_num_threads(threads)
        if owns_group:
            dist.destroy_process_group()


def _train(cfg: RunConfig, preset, device, rank: int, world: int) -> list[dict]:
    model_cfg = preset.model
    if cfg.n_embd is not None:
        model_cfg = replace(model_cfg, n_embd=cfg.n_embd)
    steps = cfg.steps or preset.steps
    batch_size = cfg.batch_size or preset.batch_size
    accum = cfg.grad_accum or preset.grad_accum
    if accum % world:
        raise ValueError(f"grad_accum must be a multiple of the world size {world} (got {accum})")
    local_accum = accum // world
    eval_every = cfg.eval_every or preset.eval_every
    lr = cfg.lr or preset.lr[cfg.optimizer]
    block = model_cfg.block_size
    out = Path(cfg.out)
    log_path, ckpt_path = out / LOG_NAME, out / CKPT_NAME
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = autocast_dtype(device)
    autocast = (lambda: torch.autocast(device_type=device.type, dtype=amp)) if amp else nullcontext
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)

    if rank == 0:
        train_tokens, val_tokens = load_corpus(preset, cfg)  # rank 0 downloads, if anyone does
    if world > 1:
        dist.barrier()
    if rank != 0:
        train_tokens, val_tokens = load_corpus(preset, cfg)
    model = GPT(model_cfg, seed=cfg.seed).to(device)
    n_params = model.num_params()
    optimizer = make_optimizer(
        cfg.optimizer, model, lr, preset.weight_decay, adamw_lr=preset.muon_adamw_lr
    )
    warm = warmup_steps(steps, preset.warmup_frac)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda t: lr_multiplier(min(t, steps - 1), steps, warm, preset.min_lr_frac)
    )
    data_gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed + rank)
    start, records = 0, []
    if cfg.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        data_gen.set_state(state["data_rng"])
        torch.set_rng_state(state["torch_rng"][rank])
        if device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"][rank], device)
        start = state["step"]
        records = [r for r in _read_log(log_path) if r["step"] < start]
    if rank == 0:
        _write_atomic(
            log_path, lambda p: p.write_text("".join(json.dumps(r) + "\n" for r in records))
        )
        info = {
            "config": asdict(cfg),
            "model_config": model_cfg.to_dict(),
            "n_params": n_params,
            "lr": lr,
            "steps": steps,
            "tokens_per_step": batch_size * accum * block,
            "flops_per_token": flops_per_token(model_cfg, n_params),
            "world_size": world,
            "hardware": hardware_name(device),
            "dtype": str(amp or torch.float32).removeprefix("torch."),
            "torch": torch.__version__,
        }
        _write_atomic(out / "run.json", lambda p: p.write_text(json.dumps(info, indent=1)))

    net = model
    if cfg.compile if cfg.compile is not None else (preset.compile and device.type == "cuda"):
        net = torch.compile(model)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None
        )

    def save_checkpoint(step: int) -> None:
        mine = (
            torch.get_rng_state(),
            torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        )
        rng = [mine]
        if world > 1:
            rng = [None] * world
            dist.all_gather_object(rng, mine)
        if rank != 0:
            return
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "data_rng": data_gen.get_state(),
            "torch_rng": [r[0] for r in rng],
            "cuda_rng": [r[1] for r in rng],
            "step": step,
            "config": asdict(cfg),
            "model_config": model_cfg.to_dict(),
        }
        _write_atomic(ckpt_path, lambda p: torch.save(state, p))

    from tqdm.auto import tqdm

    stop = min(steps, cfg.stop_at or steps)
    bar = tqdm(range(start, stop), disable=not cfg.progress or rank != 0, desc=cfg.optimizer)
    tokens_per_step = batch_size * accum * block
    new_records = []
    log_file = open(log_path, "a") if rank == 0 else None
    try:
        for step in bar:
            t0 = time.perf_counter()
            starts = gdata.batch_starts(len(train_tokens), block, batch_size * accum, data_gen)
            mine = starts.view(accum, batch_size)[rank * local_accum : (rank + 1) * local_accum]
            loss_sum = torch.zeros((), device=device)
            for micro in range(local_accum):
                x, y = gdata.windows(train_tokens, mine[micro], block)
                sync = net.no_sync if world > 1 and micro < local_accum - 1 else nullcontext
                with sync(), autocast():
                    _, loss = net(_to(x, device), _to(y, device))
                scaler.scale(loss / local_accum).backward()
                loss_sum += loss.detach()
            if world > 1:
                dist.all_reduce(loss_sum)
            train_loss = float(loss_sum) / accum
            scaler.unscale_(optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), preset.grad_clip))
            # under fp16 loss scaling an inf gradient is routine: the scaler skips that step
            grad_ok = np.isfinite(grad_norm) or scaler.is_enabled()
            if not (np.isfinite(train_loss) and grad_ok):
                bad = train_loss if not np.isfinite(train_loss) else grad_norm
                what = "train loss" if not np.isfinite(train_loss) else "gradient norm"
                if log_file:
                    log_file.write(
                        json.dumps(
                            {"step": step, "train_loss": None, "diverged": f"{what} = {bad}"}
                        )
                        + "\n"
                    )
                kept = f"{ckpt_path}" if ckpt_path.exists() else "none (no checkpoint yet)"
                raise DivergenceError(
                    f"training diverged at step {step}: the {what} is {bad} "
                    f"(optimizer {cfg.optimizer}, lr {lr:g}); last good checkpoint: {kept}. "
                    "Lower the learning rate and resume or restart."
                )
            current_lr = optimizer.param_groups[0]["lr"]
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            scheduler.step()
            done = step + 1
            elapsed = time.perf_counter() - t0
            record = None
            if step % cfg.log_every == 0 or done == steps:
                record = {
                    "step": step,
                    "train_loss": train_loss,
                    "lr": current_lr,
                    "grad_norm": grad_norm,
                    "tokens": done * tokens_per_step,
                    "tokens_per_s": tokens_per_step / elapsed,
                }
            if done % eval_every == 0 or done == steps:
                record = record or {"step": step, "train_loss": train_loss}
                record["val_loss"] = evaluate(
                    net, val_tokens, block, batch_size, preset.eval_batches, device, autocast
                )
            if cfg.density_every and (step % cfg.density_every == 0 or done == steps):
                record = record or {"step": step, "train_loss": train_loss}
                stacks = microbatch_gradients(
                    model,
                    train_tokens,
                    cfg.density_samples,
                    batch_size,
                    seed=cfg.seed + 10_000 + step,
                    autocast=autocast,
                    forward=net,
                )
                record["phi"], record["phi_layers"] = gradient_density(stacks)
            if record is not None:
                new_records.append(record)
                if log_file:
                    log_file.write(json.dumps(record) + "\n")
                    log_file.flush()
                bar.set_postfix(loss=f"{train_loss:.3f}")
            periodic = cfg.checkpoint_every and done % cfg.checkpoint_every == 0
            if periodic or (done == stop and (cfg.checkpoint_every or cfg.stop_at)):
                if log_file:
                    log_file.flush()
                save_checkpoint(done)
    finally:
        if log_file:
            log_file.close()
        bar.close()
    return records + new_records
