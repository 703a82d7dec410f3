"""Speed of the vectorised simulator (issue 4): the widget's default run and the d-sweep figure.

    python benchmarks/bench_simulate.py          # widget, chapter sweep, one d = 10⁴ run
    python benchmarks/bench_simulate.py --full   # also the full sweep to d = 10⁴ (many minutes)

Reports medians, and ratios against references measured in the same process: one simulate() call
over 32 seeds against 32 single-seed calls, and float32 against float64.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from signlab import experiments
from signlab.sim.engine import simulate


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
    )

    experiments.noise_comparison()
    widget = median_time(experiments.noise_comparison, 15)
    print(
        f"widget default (noise_comparison(), 2 methods x 300 steps x 32 seeds, d=100): "
        f"median {widget * 1e3:.1f} ms (target < 100 ms)"
    )

    problem, noise = experiments.d_sweep_problem(100, "sparse")
    x0 = experiments.initial_point(32, 100, 0)
    run = lambda x: simulate(problem, noise, "signsgd", x, lr=0.1, steps=300, record=("grad_l1",))
    batched = median_time(lambda: run(x0), 5)
    looped = median_time(lambda: [run(x0[i : i + 1]) for i in range(32)], 3)
    print(
        f"32 seeds in one call: {batched * 1e3:.1f} ms; 32 one-seed calls: {looped * 1e3:.1f} ms;"
        f" ratio {looped / batched:.1f}x"
    )
    x32, x64 = experiments.initial_point(32, 10_000, 0, dtype=torch.float32), None
    x64 = x32.double()
    problem, noise = experiments.d_sweep_problem(10_000, "dense")
    run = lambda x: simulate(problem, noise, "sgd", x, lr=1.0, steps=100, record=("grad_l1",))
    t32, t64 = median_time(lambda: run(x32), 3), median_time(lambda: run(x64), 3)
    print(
        f"d=10^4 dense, 100 SGD steps x 32 seeds: float32 {t32 * 1e3:.0f} ms, "
        f"float64 {t64 * 1e3:.0f} ms, ratio {t64 / t32:.2f}x"
    )

    problem, noise = experiments.d_sweep_problem(10_000, "sparse")
    x0 = experiments.initial_point(32, 10_000, 0, dtype=torch.float32)
    lr = 1.0 / float(problem.L.max())
    start = time.perf_counter()
    run = simulate(problem, noise, "sgd", x0, lr=lr, steps=200_000, until=0.1, record=())
    elapsed = time.perf_counter() - start
    print(
        f"d=10^4 sparse, one SGD run at its best step size until E‖∇f‖₁ ≤ 0.1: "
        f"{run.steps[-1]} steps in {elapsed:.1f} s (a lower bound on the full sweep's time)"
    )

    sizes = [(10, 30, 100, 300, 1000)] + ([(10, 100, 1000, 10_000)] if args.full else [])
    for ds in sizes:
        start = time.perf_counter()
        result = experiments.d_sweep(ds)
        elapsed = time.perf_counter() - start
        slopes = {}
        for shape in experiments.SHAPES:
            ratio = result[(shape, "sgd")]["gradients"] / result[(shape, "signsgd")]["gradients"]
            slopes[shape] = experiments.loglog_slope(ds, ratio)
        print(
            f"d_sweep(ds={ds}, 32 seeds, 2 shapes x 2 methods x 6 step sizes): {elapsed:.1f} s "
            f"(target < 30 s); slope of SGD/SignSGD: dense {slopes['dense']:+.2f}, "
            f"sparse {slopes['sparse']:+.2f}"
        )
        for key, row in result.items():
            print(f"  {key}: N = {row['gradients'].tolist()}")


if __name__ == "__main__":
    main()
