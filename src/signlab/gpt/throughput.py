"""Training speed: tokens per second and model FLOPs utilisation (MFU).

    MFU = (tokens/s) · (FLOPs per token) / (peak FLOP/s of the device)

with FLOPs per token from :func:`signlab.gpt.model.flops_per_token` (6N + 12·L·T·d). On GPUs the
peak is the vendor's dense tensor-core number for the training dtype; a CPU has no such number, so
there the reference is a large matmul timed in the same process (labelled as measured).

:func:`benchmark_runs` is the GPU check of the presets: every optimizer trains the same model for
a fixed number of steps on offline data, each writing its JSONL log, and one summary reports
tokens/s, MFU and the final losses (``benchmarks/bench_gpt.py --runs``).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import torch

from signlab import _validate

# Dense (no sparsity) peak FLOP/s by GPU name fragment, per dtype (vendor data sheets). The first
# fragment contained in the device name wins, so the specific names come before "H100".
GPU_PEAK_FLOPS = {
    "H100 PCIe": {"bf16": 756e12, "fp16": 756e12, "fp32": 51e12},
    "H100 NVL": {"bf16": 835e12, "fp16": 835e12, "fp32": 60e12},
    "H100": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "H200": {"bf16": 989e12, "fp16": 989e12, "fp32": 67e12},
    "A100": {"bf16": 312e12, "fp16": 312e12, "fp32": 19.5e12},
    "L4": {"bf16": 121e12, "fp16": 121e12, "fp32": 30e12},
    "T4": {"fp16": 65e12, "fp32": 8.1e12},
}


def gpu_peak_flops(device_name: str, dtype: str) -> float | None:
    """The data-sheet peak for a GPU whose name contains a known fragment (e.g. "NVIDIA H100 80GB
    HBM3"), or None when unknown. H100 figures are for the SXM part."""
    for key, table in GPU_PEAK_FLOPS.items():
        if key in device_name:
            return table.get(dtype)
    return None


def mfu(tokens_per_s: float, flops_per_token: float, peak_flops: float) -> float:
    """Model FLOPs utilisation, tokens/s · FLOPs/token / peak."""
    return (
        _validate.nonnegative("tokens_per_s", tokens_per_s)
        * _validate.positive("flops_per_token", flops_per_token)
        / _validate.positive("peak_flops", peak_flops)
    )


def matmul_flops(
    device: torch.device, dtype: torch.dtype = torch.float32, n: int = 1024, repeats: int = 10
) -> float:
    """Measured FLOP/s of an n×n by n×n matmul (2n³ FLOPs each), the best of ``repeats`` runs."""
    n = _validate.integer("n", n)
    repeats = _validate.integer("repeats", repeats)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


DTYPE_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def steady_tokens_per_s(records: list[dict], skip_frac: float = 0.2) -> float:
    """Median tokens/s over the logged steps after the first ``skip_frac`` of them (which hold
    ``torch.compile``'s first-call compilation and the allocator's warm-up)."""
    rates = [r["tokens_per_s"] for r in records if r.get("tokens_per_s")]
    if not rates:
        raise ValueError("records must hold tokens_per_s values (log every step)")
    skip = int(len(rates) * _validate.unit_interval("skip_frac", skip_frac))
    return float(statistics.median(rates[skip:]))


def run_summary(out: str | os.PathLike, seconds: float | None = None) -> dict:
    """One row of the benchmark from a run's ``log.jsonl`` and ``run.json``: tokens/s (steady),
    model TFLOP/s, MFU against the device's data-sheet peak for the run's dtype (None when the
    device is not in :data:`GPU_PEAK_FLOPS`, e.g. a CPU), and the final losses."""
    from signlab.gpt.runlog import read_log

    records = read_log(out)
    with open(Path(out) / "run.json") as f:
        info = json.load(f)
    tps = steady_tokens_per_s(records)
    dtype = DTYPE_NAMES[info["dtype"]]
    peak = gpu_peak_flops(info["hardware"], dtype)
    vals = [r["val_loss"] for r in records if "val_loss" in r]
    return {
        "optimizer": info["config"]["optimizer"],
        "hardware": info["hardware"],
        "dtype": dtype,
        "steps": records[-1]["step"] + 1,
        "tokens_per_s": tps,
        "model_tflops": tps * info["flops_per_token"] / 1e12,
        "peak_tflops": None if peak is None else peak / 1e12,
        "mfu": None if peak is None else mfu(tps, info["flops_per_token"], peak),
        "first_train_loss": records[0]["train_loss"],
        "final_train_loss": records[-1]["train_loss"],
        "final_val_loss": vals[-1] if vals else None,
        "seconds": seconds,
    }


def summary_table(rows: list[dict]) -> str:
    """The benchmark rows as a Markdown table."""
    head = "| optimizer | device | dtype | steps | tokens/s | model TFLOP/s | MFU | train loss (first → last) | val loss | wall s |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        share = "n/a" if r["mfu"] is None else f"{100 * r['mfu']:.1f}% of {r['peak_tflops']:.0f}"
        val = "–" if r["final_val_loss"] is None else f"{r['final_val_loss']:.3f}"
        wall = "–" if r["seconds"] is None else f"{r['seconds']:.0f}"
        lines.append(
            f"| {r['optimizer']} | {r['hardware']} | {r['dtype']} | {r['steps']} | "
            f"{r['tokens_per_s']:,.0f} | {r['model_tflops']:.2f} | {share} | "
            f"{r['first_train_loss']:.3f} → {r['final_train_loss']:.3f} | {val} | {wall} |"
        )
    return "\n".join(lines) + "\n"


def benchmark_runs(
    out: str | os.PathLike,
    preset: str = "colab-t4",
    optimizers=("sgd", "signsgd", "signum", "lion", "adamw", "muon"),
    steps: int = 200,
    data: str = "bytes",
    compile: bool | None = None,
    device: str = "auto",
    time_budget_s: float = 420.0,
    progress: bool = True,
) -> list[dict]:
    """Train every optimizer on ``preset``'s model for ``steps`` steps on offline ``data``; write
    ``OUT/<optimizer>/log.jsonl``, ``OUT/summary.json`` and ``OUT/summary.md``; return the rows.

    After the first, no optimizer starts once ``time_budget_s`` has passed (the rest are listed as
    skipped), so the whole check stays inside a fixed slot of machine time.
    """
    from signlab.gpt.config import RunConfig
    from signlab.gpt.train import train

    out = Path(out)
    steps = _validate.integer("steps", steps, low=5)
    start = time.perf_counter()
    rows: list[dict] = []
    skipped: list[str] = []
    for name in optimizers:
        if rows and time.perf_counter() - start > time_budget_s:
            skipped.append(name)
            continue
        t0 = time.perf_counter()
        cfg = RunConfig(
            preset=preset,
            optimizer=name,
            out=str(out / name),
            steps=steps,
            data=data,
            eval_every=steps,
            log_every=1,
            checkpoint=False,
            compile=compile,
            device=device,
            progress=progress,
        )
        train(cfg)
        rows.append(run_summary(out / name, seconds=time.perf_counter() - t0))
    summary = {"preset": preset, "data": data, "steps": steps, "rows": rows, "skipped": skipped}
    with open(out / "summary.json", "w") as f:
        json.dump(summary, f, indent=1)
    with open(out / "summary.md", "w") as f:
        f.write(summary_table(rows))
        if skipped:
            f.write(f"\nSkipped (time budget {time_budget_s:.0f} s spent): {', '.join(skipped)}\n")
    return rows
