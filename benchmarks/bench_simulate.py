"""Speed of the simulations of the sparse-noise chapter (issues 4 and 11).

    python benchmarks/bench_simulate.py            # everything below, about a minute
    python benchmarks/bench_simulate.py --sweeps   # only the chapter's d_factor/phi_factor sweeps

Reports wall times with the machine's load average (the machine is shared: say so when you quote a
number), the CPU time of the chapter's sweeps (close to their wall time on an idle core: they run on
one thread), and ratios against references measured in the same process:

- the chapter's sweeps, ``d_factor`` to d = 10⁴ (three targets) and the four ``phi_factor`` runs
  (32 seeds, five targets, every step size of a grid, both methods), against the 45 s target;
- one step-size grid in a single engine population (``engine.tune``) against the same step sizes
  run one after another (one ``simulate`` each, as long as the grid's run), same problem and grid;
- a class of identical coordinates stored once (multiplicity d − 1) against the uncompressed
  problem, same steps;
- the widget's default run, and 32 seeds in one ``simulate`` call against 32 one-seed calls.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch

from signlab import experiments
from signlab.experiments import sparse_noise as sn
from signlab.sim.engine import simulate, tune
from signlab.sim.noise import Gaussian, sparse_sigma
from signlab.sim.problems import SeparableQuadratic

EPS = 0.1  # the widget's target
EPS_D = (0.1, 0.03, 0.01)  # the chapter's targets for the d factor
D_VALUES = (10, 30, 100, 300, 1_000, 3_000, 10_000)
EPS_PHI = (0.2, 0.14, 0.1, 0.07, 0.05)  # and for the φ factor
KS = (1, 2, 5, 10, 20, 50, 100)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def chapter_sweeps() -> dict[str, float]:
    """The d_factor and phi_factor calls of book/sparse_noise.ipynb, each timed."""
    stiff = dict(curvature="follows", at_rest=True)
    calls = {
        "d_factor, d = 10 … 10⁴": lambda: experiments.d_factor(D_VALUES, eps=EPS_D),
        "phi_factor, isotropic": lambda: experiments.phi_factor(
            KS, d=100, noise_l1=1.0, eps=EPS_PHI
        ),
        "phi_factor, isotropic, no noise": lambda: experiments.phi_factor(
            KS, d=100, noise_l1=0.0, eps=EPS_PHI
        ),
        "phi_factor, at rest": lambda: experiments.phi_factor(
            KS[:-1], d=100, noise_l1=1.0, eps=EPS_PHI, **stiff
        ),
        "phi_factor, at rest, no noise": lambda: experiments.phi_factor(
            KS[:-1], d=100, noise_l1=0.0, eps=EPS_PHI, **stiff
        ),
    }
    times = {}
    for name, call in calls.items():
        start, cpu = time.perf_counter(), time.process_time()
        call()
        times[name] = (time.perf_counter() - start, time.process_time() - cpu)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sweeps", action="store_true", help="only the chapter's sweeps")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}; {load()}"
    )

    times = chapter_sweeps()
    for name, (seconds, cpu) in times.items():
        print(f"  {name:<34} {seconds:6.1f} s ({cpu:.1f} s of CPU)")
    total = sum(wall for wall, _ in times.values())
    cpu = sum(c for _, c in times.values())
    print(f"  CPU time of the sweeps: {cpu:.1f} s (what they take on an idle core)")
    print(f"chapter sweeps, 32 seeds, tuned, both methods: {total:.1f} s (target < 45 s); {load()}")
    if args.sweeps:
        return

    problem = sn.d_factor_problem(1_000)
    x0 = experiments.initial_point(32, 2, 0)
    stable = 1.9 / float(problem.L.max())
    lrs = [lr for lr in sn.sgd_grid(problem.L) if lr <= stable][:6]  # the six largest stable ones
    grid = tune(problem, None, "sgd", x0, lrs, EPS, steps=100_000)
    length = int(grid.steps[-1])
    one = median_time(lambda: tune(problem, None, "sgd", x0, lrs, EPS, steps=100_000), 3)
    seq = median_time(
        lambda: [
            simulate(problem, None, "sgd", x0, lr=lr, steps=length, record=("grad_l1",), every=64)
            for lr in lrs
        ],
        1,
    )
    print(
        f"6 SGD step sizes at d = 10³ (d_factor_problem), {length} steps: one population "
        f"{one:.2f} s, one run per step size {seq:.2f} s, ratio {seq / one:.1f}x"
    )

    problem = sn.d_factor_problem(10_000)
    full = SeparableQuadratic(torch.repeat_interleave(problem.L, problem.multiplicity.long()))
    xf = torch.repeat_interleave(x0, problem.multiplicity.long(), dim=1)
    small = median_time(
        lambda: simulate(problem, None, "sgd", x0, lr=3.0, steps=2000, record=("grad_l1",)), 3
    )
    big = median_time(
        lambda: simulate(full, None, "sgd", xf, lr=3.0, steps=2000, record=("grad_l1",)), 3
    )
    print(
        f"2000 SGD steps at d = 10⁴, 32 seeds: multiplicities (2 stored coordinates) {small:.3f} s,"
        f" uncompressed {big:.2f} s, ratio {big / small:.0f}x"
    )

    experiments.noise_comparison()
    widget = median_time(experiments.noise_comparison, 15)
    print(f"widget default (noise_comparison(), 2 methods x 300 steps x 32 seeds, d = 100): "
          f"median {widget * 1e3:.1f} ms (target < 100 ms)")  # fmt: skip
    sigma = sparse_sigma(100, 1, 0.2)
    p, noise = experiments.lift_problem(sigma), Gaussian(sigma)
    x = experiments.initial_point(32, 100, 0)
    run = lambda x: simulate(p, noise, "signsgd", x, lr=0.1, steps=300, record=("grad_l1",))
    batched = median_time(lambda: run(x), 5)
    looped = median_time(lambda: [run(x[i : i + 1]) for i in range(32)], 3)
    print(
        f"32 seeds in one call: {batched * 1e3:.1f} ms; 32 one-seed calls: {looped * 1e3:.1f} ms;"
        f" ratio {looped / batched:.1f}x"
    )
    print(load())


if __name__ == "__main__":
    main()
