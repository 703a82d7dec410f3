"""Training throughput of a signlab.gpt preset: tokens/s and model FLOPs utilisation (MFU).

    python benchmarks/bench_gpt.py --preset gpt2-124m --optimizer adamw      # on a GPU
    python benchmarks/bench_gpt.py --preset cpu-tiny --threads 1              # on a CPU

    # the GPU check: every optimizer, colab-t4's model, 200 steps of offline bytes, one summary
    python benchmarks/bench_gpt.py --runs --preset colab-t4 --steps 200 --out runs/gpu-check

``--runs`` trains each optimizer with the real training loop (``signlab.gpt.train``, JSONL logs
under ``OUT/<optimizer>/``) and writes ``OUT/summary.json`` and ``OUT/summary.md`` with tokens/s,
MFU against the device's bf16 data-sheet peak and the losses
(:func:`signlab.gpt.throughput.benchmark_runs`).

It times full optimizer steps (forward, backward, clipping, step) of the preset's model on
random tokens, in the dtype a training run would use on this device (bf16 autocast on recent
GPUs, fp16 on a T4, fp32 on CPU). MFU = tokens/s · (6N + 12·L·T·d) / peak. On a GPU the peak is
the data-sheet dense tensor-core figure; on a CPU there is none, so the reference is an n×n
fp32 matmul timed in the same process ("MFU vs matmul"). Results are recorded in benchmarks/gpt.md.
"""

from __future__ import annotations

import argparse
import time
from contextlib import nullcontext

import torch

from signlab.gpt.model import GPT, flops_per_token
from signlab.gpt.optimizers import make_optimizer
from signlab.gpt.presets import OPTIMIZERS, PRESETS, get_preset
from signlab.gpt.throughput import benchmark_runs, gpu_peak_flops, matmul_flops, mfu, summary_table
from signlab.gpt.train import autocast_dtype, hardware_name, resolve_device


def bench(preset_name, optimizer, steps, warmup, batch_size, compile_model, device):
    """Mean seconds per optimizer step over ``steps`` timed steps, and the derived rates."""
    preset = get_preset(preset_name)
    cfg = preset.model
    batch = batch_size or preset.batch_size
    model = GPT(cfg, seed=0).to(device)
    opt = make_optimizer(
        optimizer, model, preset.lr[optimizer], preset.weight_decay, adamw_lr=preset.muon_adamw_lr
    )
    net = torch.compile(model) if compile_model else model
    amp = autocast_dtype(device)
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp else nullcontext
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(cfg.vocab_size, (batch, cfg.block_size + 1), generator=gen).to(device)

    def step():
        with autocast():
            _, loss = net(x[:, :-1], x[:, 1:])
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), preset.grad_clip)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / steps
    tokens_per_s = batch * cfg.block_size / seconds
    fpt = flops_per_token(cfg, model.num_params())
    dtype = {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[amp]
    return {
        "preset": preset_name,
        "optimizer": optimizer,
        "device": hardware_name(device),
        "dtype": dtype,
        "batch": batch,
        "params": model.num_params(),
        "s_per_step": seconds,
        "tokens_per_s": tokens_per_s,
        "model_flops_per_s": tokens_per_s * fpt,
        "fpt": fpt,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cpu-tiny", choices=list(PRESETS))
    p.add_argument("--optimizer", default="adamw", choices=list(OPTIMIZERS))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch-size", type=int, help="sequences per step (default: the preset's)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", default="auto")
    p.add_argument("--runs", action="store_true", help="train every optimizer (the GPU check)")
    p.add_argument("--out", default="runs/gpu-check", help="--runs: output directory")
    p.add_argument("--no-compile", action="store_true", help="--runs: never torch.compile")
    p.add_argument("--budget", type=float, default=420.0, help="--runs: seconds before skipping")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.runs:
        rows = benchmark_runs(
            args.out,
            preset=args.preset,
            steps=args.steps,
            compile=False if args.no_compile else None,
            device=args.device,
            time_budget_s=args.budget,
        )
        print(summary_table(rows), end="")
        print(f"logs and summary: {args.out}")
        return
    device = resolve_device(args.device)
    r = bench(
        args.preset, args.optimizer, args.steps, args.warmup, args.batch_size, args.compile, device
    )
    if device.type == "cuda":
        peak = gpu_peak_flops(r["device"], r["dtype"])
        label = f"MFU vs {r['dtype']} data-sheet peak"
    else:
        peak = matmul_flops(device, torch.float32, n=1024)
        label = f"MFU vs measured fp32 1024² matmul ({peak / 1e9:.1f} GFLOP/s)"
    print(
        f"| preset | optimizer | device | dtype | batch | N | tokens/s | model TFLOP/s | {label} |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    share = (
        "n/a (unknown peak)"
        if peak is None
        else f"{100 * mfu(r['tokens_per_s'], r['fpt'], peak):.1f}%"
    )
    print(
        f"| {r['preset']} | {r['optimizer']} | {r['device']} | {r['dtype']} | {r['batch']} | "
        f"{r['params'] / 1e6:.2f}M | {r['tokens_per_s']:,.0f} | "
        f"{r['model_flops_per_s'] / 1e12:.4f} | {share} |"
    )


if __name__ == "__main__":
    main()
