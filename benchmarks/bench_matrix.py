"""Time and accuracy of msign by SVD, Newton–Schulz (float32, bfloat16) and NS via eigh, and the
accuracy per unit time of each Newton–Schulz coefficient schedule.

    python benchmarks/bench_matrix.py [--sizes 128 256 512 1024] [--rounds 5] [--threads 1]
    python benchmarks/bench_matrix.py --schedules [--schedule-size 512] [--rounds 5] [--threads 1]
                                      [--clock cpu]

First the matmul rate of float32 and bfloat16 on this CPU (what decides
``signlab.geometry.matrix.working_dtype``'s CPU default: bf16 matmuls are native on CPUs with
AVX512-BF16/AMX and emulated, much slower, elsewhere; ``lscpu`` says which). Then, for square and
1:4 matrices of each size: the median time per call (candidates interleaved), the spectral-norm
error of five quintic NS steps against the exact polar factor UVᵀ, the band of their singular
values, and the relative RMS difference of bf16 and eigh-float32 NS from float64 NS.

``--schedules``: for a square matrix whose singular values are log-spaced on [1e-3, 1] (the
interval Polar Express is built for), each schedule of ``NS_SCHEDULES`` at 1–10 steps: the median
time per call, the worst |σ_i − 1| of the result (how far from orthogonal) and its distance
‖NS_k(G) − UVᵀ‖_op from the exact polar factor, in float32 and bfloat16, then the time each needs
to bring max|σ_i − 1| to ε (accuracy per unit time), beside the SVD's time and errors.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from signlab.experiments.muon import log_spaced_matrix
from signlab.geometry.matrix import msign, newton_schulz, spectral_norm

CLOCK = time.perf_counter
"""The clock of every timing: wall clock, or with ``--clock cpu`` the calling thread's CPU time
(``time.thread_time``, with one torch thread), which leaves out the time a busy machine makes the
thread wait."""


def median_times(candidates: dict, rounds: int) -> dict[str, float]:
    """Median seconds per call, candidates interleaved within each round (after one warm-up)."""
    for fn in candidates.values():
        fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = CLOCK()
            fn()
            times[name].append(CLOCK() - start)
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


def errors_of(X: torch.Tensor, exact: torch.Tensor) -> tuple[float, float]:
    """(max |σ_i(X) − 1|, ‖X − UVᵀ‖_op): how far X is from orthogonal, and from the polar factor."""
    X = X.double()
    return (
        float((torch.linalg.svdvals(X) - 1).abs().max()),
        float(spectral_norm(X - exact)),
    )


def time_to_reach(results: dict, name: str, d: str, eps: float, max_steps: int) -> str:
    """The time of the fewest steps whose singular-value error is at most ``eps`` ("–": none)."""
    for k in range(1, max_steps + 1):
        seconds, errors = results[name, k][d]
        if errors[0] <= eps:
            return f"{seconds * 1e3:.2f} ({k} steps)"
    return "–"


def schedule_table(size: int, rounds: int, max_steps: int = 10) -> None:
    G = log_spaced_matrix(size)
    exact = msign(G, "svd")
    G32 = G.float()
    print(
        f"\n{size}×{size}, singular values log-spaced on [1e-3, 1] (normalised by ‖G‖_F: "
        f"[{1e-3 / float(G.norm()):.1e}, {1 / float(G.norm()):.2f}]); median of {rounds}\n"
    )
    print(
        "| schedule | steps | f32 ms | bf16 ms | max|σ−1| f32 | max|σ−1| bf16 "
        "| ‖X−UVᵀ‖ f32 | ‖X−UVᵀ‖ bf16 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
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
            row = {}
            for d, dt in DTYPES.items():
                X = msign(G32, "newton_schulz", steps, name, dtype=dt)
                row[d] = (t[name, d], errors_of(X, exact))
            results[name, steps] = row
            (tf, (sf, of)), (tb, (sb, ob)) = row["f32"], row["bf16"]
            print(
                f"| {name} | {steps} | {tf * 1e3:.2f} | {tb * 1e3:.2f} | {sf:.1e} | {sb:.1e} "
                f"| {of:.1e} | {ob:.1e} |"
            )
    svd_t = median_times({"svd": lambda: msign(G32, "svd")}, rounds)["svd"]
    sf, of = errors_of(msign(G32, "svd"), exact)
    sb, ob = errors_of(exact.bfloat16(), exact)
    print(
        f"| SVD (float32; bf16: UVᵀ rounded) | – | {svd_t * 1e3:.2f} | – | {sf:.1e} | {sb:.1e} "
        f"| {of:.1e} | {ob:.1e} |"
    )
    eps_list = (0.3, 0.1, 0.03, 0.01)
    print(
        f"\nTime to reach max|σ − 1| ≤ ε (ms; fewest steps that reach it, – if none ≤ {max_steps})"
        "\n"
    )
    print("| schedule | dtype | " + " | ".join(f"ε = {e:g}" for e in eps_list) + " |")
    print("|---|---|" + "---:|" * len(eps_list))
    for name in SCHEDULES:
        for d in DTYPES:
            cells = [time_to_reach(results, name, d, e, max_steps) for e in eps_list]
            print(f"| {name} | {d} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--schedules", action="store_true", help="the schedules' table only")
    parser.add_argument("--schedule-size", type=int, default=512)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        if torch.get_num_threads() != 1:
            parser.error("--clock cpu measures the calling thread only: use it with --threads 1")
        global CLOCK
        CLOCK = time.thread_time
    bf16_native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
        f"native bf16 (AVX512-BF16 or AMX): {bf16_native}, {args.clock} clock, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    if args.schedules:
        schedule_table(args.schedule_size, args.rounds)
    else:
        matmul_rates(args.rounds)
        msign_table(args.sizes, args.rounds)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
