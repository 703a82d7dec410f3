"""Training speed: tokens per second and model FLOPs utilisation (MFU).

    MFU = (tokens/s) · (FLOPs per token) / (peak FLOP/s of the device)

with FLOPs per token from :func:`signlab.gpt.model.flops_per_token` (6N + 12·L·T·d). On GPUs the
peak is the vendor's dense tensor-core number for the training dtype; a CPU has no such number, so
there the reference is a large matmul timed in the same process (labelled as measured).
"""

from __future__ import annotations

import time

import torch

from signlab import _validate

# Dense (no sparsity) peak FLOP/s by GPU name fragment, per dtype (vendor data sheets).
GPU_PEAK_FLOPS = {
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
