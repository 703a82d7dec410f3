"""Time and accuracy of msign by SVD, Newton–Schulz (float32, bfloat16) and NS via eigh.

    python benchmarks/bench_matrix.py [--sizes 128 256 512 1024] [--rounds 5]

For square and 1:4 matrices of each size: the median time per call (candidates interleaved), the
spectral-norm error of five quintic NS steps against the exact polar factor UVᵀ, and the band of
their singular values. bf16 matmuls are native on CPUs with AVX512-BF16/AMX and emulated
(much slower) elsewhere, so the float32/bfloat16 ratio depends on the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from signlab.geometry.matrix import msign, spectral_norm


def median_time(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}")
    print("\n| shape | svd ms | NS f32 ms | NS bf16 ms | NS eigh ms | NS error | NS σ band |")
    print("|---|---:|---:|---:|---:|---:|---|")
    gen = torch.Generator().manual_seed(0)
    for size in args.sizes:
        for shape in [(size, size), (size, 4 * size)]:
            G = torch.randn(shape, generator=gen)
            candidates = {
                "svd": lambda G=G: msign(G, method="svd"),
                "f32": lambda G=G: msign(G, method="newton_schulz"),
                "bf16": lambda G=G: msign(G, method="newton_schulz", dtype=torch.bfloat16),
                "eigh": lambda G=G: msign(G, method="newton_schulz_eigh"),
            }
            t = {k: median_time(f, args.rounds) for k, f in candidates.items()}
            exact, ns = msign(G.double(), "svd"), msign(G.double(), "newton_schulz")
            err = float(spectral_norm(ns - exact))
            s = torch.linalg.svdvals(ns)
            print(
                f"| {shape} | {t['svd'] * 1e3:.1f} | {t['f32'] * 1e3:.1f} | "
                f"{t['bf16'] * 1e3:.1f} | {t['eigh'] * 1e3:.1f} | {err:.2f} | "
                f"[{float(s.min()):.3f}, {float(s.max()):.3f}] |"
            )


if __name__ == "__main__":
    main()
