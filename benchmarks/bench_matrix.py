"""Time and accuracy of msign by SVD, Newton–Schulz (float32, bfloat16) and NS via eigh, and the
accuracy per unit time of each Newton–Schulz coefficient schedule.

    python benchmarks/bench_matrix.py [--sizes 128 256 512 1024] [--rounds 5] [--threads 1]
    python benchmarks/bench_matrix.py --schedules [--schedule-size 512] [--rounds 5] [--threads 1]

First the matmul rate of float32 and bfloat16 on this CPU (what decides
``signlab.geometry.matrix.working_dtype``'s CPU default: bf16 matmuls are native on CPUs with
AVX512-BF16/AMX and emulated, much slower, elsewhere; ``lscpu`` says which). Then, for square and
1:4 matrices of each size: the median time per call (candidates interleaved), the spectral-norm
error of five quintic NS steps against the exact polar factor UVᵀ, the band of their singular
values, and the relative RMS difference of bf16 and eigh-float32 NS from float64 NS.

``--schedules``: for a square matrix whose singular values are log-spaced on [1e-3, 1] (the
interval Polar Express is built for), each schedule of ``NS_SCHEDULES`` at 1–10 steps: the median
time per call and the spectral-norm error ‖NS_k(G) − UVᵀ‖_op in float32 and bfloat16, then the
time each needs to reach an error ε (accuracy per unit time), beside the SVD's time and error.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from signlab.geometry.matrix import msign, newton_schulz, spectral_norm


def median_times(candidates: dict, rounds: int) -> dict[str, float]:
    """Median seconds per call, candidates interleaved within each round (after one warm-up)."""
    for fn in candidates.values():
        fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def matmul_rates(rounds: int) -> None:
    print("\n| n | float32 GFLOP/s | bfloat16 GFLOP/s | bf16 / f32 |")
    print("|---|---:|---:|---:|")
    gen = torch.Generator().manual_seed(1)
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        a16, b16 = a.bfloat16(), b.bfloat16()
        t = median_times(
            {"f32": lambda a=a, b=b: a @ b, "bf16": lambda a=a16, b=b16: a @ b}, rounds
        )
        f32, bf16 = (2 * n**3 / t[k] / 1e9 for k in ("f32", "bf16"))
        print(f"| {n} | {f32:.0f} | {bf16:.0f} | {bf16 / f32:.2f} |")


def rel_rms(X: torch.Tensor, ref: torch.Tensor) -> float:
    return float((X.double() - ref).square().mean().sqrt() / ref.square().mean().sqrt())


def msign_table(sizes: list[int], rounds: int) -> None:
    print(
        "\n| shape | svd ms | NS f32 ms | NS bf16 ms | NS eigh ms | NS error | NS σ band "
        "| bf16 vs f64 | eigh f32 vs f64 |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|")
    gen = torch.Generator().manual_seed(0)
    for size in sizes:
        for shape in [(size, size), (size, 4 * size)]:
            G = torch.randn(shape, generator=gen)
            t = median_times(
                {
                    "svd": lambda G=G: msign(G, method="svd"),
                    "f32": lambda G=G: msign(G, method="newton_schulz"),
                    "bf16": lambda G=G: msign(G, method="newton_schulz", dtype=torch.bfloat16),
                    "eigh": lambda G=G: msign(G, method="newton_schulz_eigh"),
                },
                rounds,
            )
            exact, ns = msign(G.double(), "svd"), newton_schulz(G.double())
            err = float(spectral_norm(ns - exact))
            s = torch.linalg.svdvals(ns)
            bf16 = rel_rms(newton_schulz(G, dtype=torch.bfloat16), ns)
            eigh = rel_rms(msign(G, "newton_schulz_eigh"), ns)
            print(
                f"| {shape} | {t['svd'] * 1e3:.1f} | {t['f32'] * 1e3:.1f} | "
                f"{t['bf16'] * 1e3:.1f} | {t['eigh'] * 1e3:.1f} | {err:.2f} | "
                f"[{float(s.min()):.3f}, {float(s.max()):.3f}] | {bf16:.1e} | {eigh:.1e} |"
            )


SCHEDULES = ("jordan", "you", "cans", "polar_express")
DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def log_spaced_matrix(n: int, seed: int = 0) -> torch.Tensor:
    """U diag(σ) Vᵀ (float64) with σ log-spaced on [1e-3, 1] and Haar-random U, V."""
    gen = torch.Generator().manual_seed(seed)
    U, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return U @ torch.diag(torch.logspace(-3, 0, n, dtype=torch.float64)) @ V.T


def schedule_table(size: int, rounds: int, max_steps: int = 10) -> None:
    G = log_spaced_matrix(size)
    exact = msign(G, "svd")
    G32 = G.float()
    print(
        f"\n{size}×{size}, singular values log-spaced on [1e-3, 1] (normalised by ‖G‖_F: "
        f"[{1e-3 / float(G.norm()):.1e}, {1 / float(G.norm()):.2f}]); median of {rounds}\n"
    )
    print("| schedule | steps | f32 ms | bf16 ms | error f32 | error bf16 |")
    print("|---|---:|---:|---:|---:|---:|")
    results = {}
    for steps in range(1, max_steps + 1):
        candidates = {
            (name, d): (
                lambda n=name, dt=dtype, k=steps: msign(G32, "newton_schulz", k, n, dtype=dt)
            )
            for name in SCHEDULES
            for d, dtype in DTYPES.items()
        }
        t = median_times(candidates, rounds)
        for name in SCHEDULES:
            errors = {
                d: float(
                    spectral_norm(
                        msign(G32, "newton_schulz", steps, name, dtype=dt).double() - exact
                    )
                )
                for d, dt in DTYPES.items()
            }
            results[name, steps] = (t[name, "f32"], t[name, "bf16"], errors)
            print(
                f"| {name} | {steps} | {t[name, 'f32'] * 1e3:.2f} | {t[name, 'bf16'] * 1e3:.2f} "
                f"| {errors['f32']:.1e} | {errors['bf16']:.1e} |"
            )
    svd_t = median_times({"svd": lambda: msign(G32, "svd")}, rounds)["svd"]
    svd_err = float(spectral_norm(msign(G32, "svd").double() - exact))
    svd_bf16 = float(spectral_norm(exact.bfloat16().double() - exact))
    print(
        f"| SVD (float32) | – | {svd_t * 1e3:.2f} | – | {svd_err:.1e} | "
        f"{svd_bf16:.1e} (UVᵀ rounded to bf16) |"
    )
    print(
        "\nTime to reach ‖NS_k(G) − UVᵀ‖_op ≤ ε (ms; fewest steps that reach it, – if none ≤ 10)\n"
    )
    eps_list = (0.3, 0.1, 0.03, 0.01)
    print("| schedule | dtype | " + " | ".join(f"ε = {e:g}" for e in eps_list) + " |")
    print("|---|---|" + "---:|" * len(eps_list))
    for name in SCHEDULES:
        for i, d in enumerate(DTYPES):
            cells = []
            for e in eps_list:
                hit = [
                    (k, results[name, k][i])
                    for k in range(1, max_steps + 1)
                    if results[name, k][2][d] <= e
                ]
                cells.append(f"{hit[0][1] * 1e3:.2f} ({hit[0][0]} steps)" if hit else "–")
            print(f"| {name} | {d} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--schedules", action="store_true", help="the schedules' table only")
    parser.add_argument("--schedule-size", type=int, default=512)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    bf16_native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
        f"native bf16 (AVX512-BF16 or AMX): {bf16_native}, load average {os.getloadavg()[0]:.2f}"
    )
    if args.schedules:
        schedule_table(args.schedule_size, args.rounds)
    else:
        matmul_rates(args.rounds)
        msign_table(args.sizes, args.rounds)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
