"""Step time of signlab.optim against PyTorch's optimizers, measured in the same process.

    python benchmarks/bench_optim.py [--repeats 3] [--rounds 21] [--threads 1] [--clock cpu]
                                     [--muon-size 256] [--chunk-sweep] [--skip-muon]

Parameters: a transformer-like set of ~10M float32 parameters (3 blocks of width 512: attention
and MLP matrices, plus gains and biases), random gradients. Candidates are interleaved round by
round (a noisy neighbour slows all of them alike); each time is the median over ``--rounds``
rounds, and the whole measurement is repeated ``--repeats`` times so the summary can show the
spread between repeats. The load average is printed before and after.

Reported (the summary at the end lists each against its target):

- SignSGD, Signum vs ``torch.optim.SGD(momentum=0.9, foreach=True)``; Lion vs
  ``torch.optim.AdamW(foreach=True)``; all with the NaN/inf guard on (the default) and off;
- SignSGD's achieved memory bandwidth (its 12 bytes per float32 parameter: read g, read p,
  write p) as a fraction of a plain ``copy_`` (8 bytes per element) on a buffer of the same size;
- Muon vs ``torch.optim.Muon`` on the same matrices (those of one block of width ``--muon-size``)
  in the same working dtype: bfloat16 (torch.optim.Muon always uses it) and float32 (torch's
  Newton–Schulz routine re-run with ``.float()`` for ``.bfloat16()``), and signlab's CPU default;
  signlab Muon with each per-step schedule ("you", "cans", "polar_express", bfloat16) and with the
  exact SVD (float32), each against torch.optim.Muon (bf16) in the same run;
- with ``--chunk-sweep``, the SignSGD step for several ``_fused.CHUNK`` values (elements per torch
  thread; a chunk is CHUNK × threads long).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from contextlib import contextmanager

import torch
import torch.optim._muon as torch_muon

from signlab.geometry.matrix import working_dtype
from signlab.optim import Lion, Muon, SignSGD, Signum, _fused

WIDTH, BLOCKS = 512, 3


def block_shapes(width: int, blocks: int) -> list[tuple[int, ...]]:
    """Shapes of a GPT-style stack: per block qkv, attention out, MLP in/out, 2 LayerNorms."""
    shapes = []
    for _ in range(blocks):
        shapes += [(width, 3 * width), (3 * width,), (width, width), (width,)]
        shapes += [(4 * width, width), (4 * width,), (width, 4 * width), (width,)]
        shapes += [(width,), (width,), (width,), (width,)]
    return shapes


def make_params(shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params


CLOCK = time.perf_counter
"""Wall-clock time by default; ``--clock cpu`` uses this thread's CPU time (``time.thread_time``),
which on a shared machine leaves out the time the process is descheduled (use it with
``--threads 1``, where every op runs on the calling thread)."""


def time_rounds(candidates: dict, rounds: int, warmup: int = 2) -> dict[str, list[float]]:
    """Seconds per call of each candidate in each round, candidates interleaved within a round."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = CLOCK()
            fn()
            times[name].append(CLOCK() - start)
    return times


def med(times: list[float]) -> float:
    return statistics.median(times)


def iqr(times: list[float]) -> str:
    q = statistics.quantiles(times, n=4)
    return f"{q[0] * 1e3:.1f}–{q[2] * 1e3:.1f}"


def elementwise(rounds: int) -> dict[str, float]:
    """One measurement of the elementwise optimizers; returns the ratios the summary checks."""
    shapes = block_shapes(WIDTH, BLOCKS)
    n = sum(torch.Size(s).numel() for s in shapes)
    opts = {
        "torch SGD(momentum=0.9, foreach)": torch.optim.SGD(
            make_params(shapes), lr=1e-3, momentum=0.9, foreach=True
        ),
        "torch AdamW(foreach)": torch.optim.AdamW(make_params(shapes), lr=1e-3, foreach=True),
        "SignSGD": SignSGD(make_params(shapes), lr=1e-3),
        "SignSGD (check_finite=False)": SignSGD(make_params(shapes), lr=1e-3, check_finite=False),
        "SignSGD (weight_decay=0.1)": SignSGD(make_params(shapes), lr=1e-3, weight_decay=0.1),
        "Signum": Signum(make_params(shapes), lr=1e-3),
        "Signum (check_finite=False)": Signum(make_params(shapes), lr=1e-3, check_finite=False),
        "Lion": Lion(make_params(shapes), lr=1e-4),
        "Lion (weight_decay=0.1)": Lion(make_params(shapes), lr=1e-4, weight_decay=0.1),
    }
    src, dst = torch.randn(n), torch.empty(n)
    candidates = {name: opt.step for name, opt in opts.items()}
    candidates["copy_ (n floats)"] = lambda: dst.copy_(src)
    t = time_rounds(candidates, rounds)
    m = {name: med(v) for name, v in t.items()}
    sgd, adamw = m["torch SGD(momentum=0.9, foreach)"], m["torch AdamW(foreach)"]
    refs = {"SignSGD": sgd, "Signum": sgd, "Lion": adamw}
    print(f"\n{n / 1e6:.2f}M float32 parameters in {len(shapes)} tensors; median of {rounds}\n")
    print("| step | ms (median) | ms (quartiles) | ratio | reference |")
    print("|---|---:|---:|---:|---|")
    for name, seconds in m.items():
        ref = next((r for key, r in refs.items() if name.startswith(key)), None)
        label = {sgd: "SGD(momentum)", adamw: "AdamW"}.get(ref, "")
        ratio = f"{seconds / ref:.2f}" if ref else ""
        print(f"| {name} | {seconds * 1e3:.2f} | {iqr(t[name])} | {ratio} | {label} |")
    copy_bw = 8 * n / m["copy_ (n floats)"]
    print(f"\ncopy_ bandwidth: {copy_bw / 1e9:.1f} GB/s (read + write of {4 * n / 1e6:.0f} MB)")
    out = {}
    for name in ["SignSGD", "SignSGD (check_finite=False)"]:
        bw = 12 * n / m[name]
        out[f"{name} bandwidth / copy_"] = bw / copy_bw
        print(f"{name}: {bw / 1e9:.1f} GB/s = {bw / copy_bw:.2f} of copy_ (12 bytes/parameter)")
    out["Signum / SGD(momentum)"] = m["Signum"] / sgd
    out["Signum (check_finite=False) / SGD(momentum)"] = m["Signum (check_finite=False)"] / sgd
    out["SignSGD / SGD(momentum)"] = m["SignSGD"] / sgd
    out["Lion / AdamW"] = m["Lion"] / adamw
    return out


def torch_newton_schulz_in(dtype):
    """torch.optim.Muon's own Newton–Schulz routine (torch 2.13), with ``dtype`` for bfloat16."""

    def zeropower(grad, ns_coefficients, ns_steps, eps):
        a, b, c = ns_coefficients
        ortho_grad = grad.to(dtype)
        if grad.size(0) > grad.size(1):
            ortho_grad = ortho_grad.T
        ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
        for _ in range(ns_steps):
            gram_matrix = ortho_grad @ ortho_grad.T
            gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
            ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
        if grad.size(0) > grad.size(1):
            ortho_grad = ortho_grad.T
        return ortho_grad

    return zeropower


@contextmanager
def torch_muon_newton_schulz(dtype):
    """Run torch.optim.Muon with its Newton–Schulz in ``dtype`` (None: unchanged, bfloat16)."""
    original = torch_muon._zeropower_via_newtonschulz
    if dtype is not None:
        torch_muon._zeropower_via_newtonschulz = torch_newton_schulz_in(dtype)
    try:
        yield
    finally:
        torch_muon._zeropower_via_newtonschulz = original


SCHEDULES = ("you", "cans", "polar_express")
"""Per-step Newton–Schulz schedules timed beside torch.optim.Muon (same 3 products per step)."""


def muon(rounds: int, size: int) -> dict[str, float]:
    shapes = [s for s in block_shapes(size, 1) if len(s) == 2]
    kw = dict(lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=True)
    default = str(working_dtype(torch.device("cpu"))).removeprefix("torch.")
    torch_f32 = torch.optim.Muon(make_params(shapes), **kw)

    def torch_f32_step():
        with torch_muon_newton_schulz(torch.float32):
            torch_f32.step()

    candidates = {
        "torch.optim.Muon (bfloat16 NS)": torch.optim.Muon(make_params(shapes), **kw).step,
        "signlab Muon (bfloat16 NS)": Muon(make_params(shapes), dtype=torch.bfloat16, **kw).step,
        "torch.optim.Muon (its NS in float32)": torch_f32_step,
        "signlab Muon (float32 NS)": Muon(make_params(shapes), dtype=torch.float32, **kw).step,
        f"signlab Muon (the CPU default: {default})": Muon(make_params(shapes), **kw).step,
        "signlab Muon (float32 NS via eigh)": Muon(
            make_params(shapes), method="newton_schulz_eigh", **kw
        ).step,
        **{
            f"signlab Muon {name} (bfloat16 NS)": Muon(
                make_params(shapes), dtype=torch.bfloat16, ns_coefficients=name, **kw
            ).step
            for name in SCHEDULES
        },
        "signlab Muon exact SVD (float32)": Muon(make_params(shapes), method="svd", **kw).step,
    }
    t = time_rounds(candidates, rounds, warmup=1)
    m = {name: med(v) for name, v in t.items()}
    n = sum(torch.Size(s).numel() for s in shapes)
    print(
        f"\nMuon on the matrices of one width-{size} block {shapes} ({n / 1e6:.2f}M params); "
        f"median of {rounds}\n"
    )
    print("| step | ms (median) | ms (quartiles) | time / torch.optim.Muon (bf16) |")
    print("|---|---:|---:|---:|")
    ref = m["torch.optim.Muon (bfloat16 NS)"]
    for name, seconds in m.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {iqr(t[name])} | {seconds / ref:.2f} |")
    return {
        **{
            f"Muon {name} bf16 / torch.optim.Muon bf16": m[f"signlab Muon {name} (bfloat16 NS)"]
            / ref
            for name in SCHEDULES
        },
        "Muon SVD f32 / torch.optim.Muon bf16": m["signlab Muon exact SVD (float32)"] / ref,
        "Muon bf16 / torch.optim.Muon bf16": m["signlab Muon (bfloat16 NS)"] / ref,
        "Muon f32 / torch.optim.Muon f32": m["signlab Muon (float32 NS)"]
        / m["torch.optim.Muon (its NS in float32)"],
        "Muon default / torch.optim.Muon (bf16)": m[f"signlab Muon (the CPU default: {default})"]
        / ref,
    }


def chunk_sweep(rounds: int, exponents: list[int]) -> None:
    """SignSGD (guard on) for several chunk lengths, against copy_ of the same bytes."""
    shapes = block_shapes(WIDTH, BLOCKS)
    n = sum(torch.Size(s).numel() for s in shapes)
    opt = SignSGD(make_params(shapes), lr=1e-3)
    src, dst = torch.randn(n), torch.empty(n)
    default = _fused.CHUNK

    def with_chunk(k):
        def step():
            _fused.CHUNK = 1 << k
            opt.step()
            _fused.CHUNK = default

        return step

    candidates = {f"CHUNK = 2^{k}": with_chunk(k) for k in exponents}  # per torch thread
    candidates["copy_"] = lambda: dst.copy_(src)
    m = {name: med(v) for name, v in time_rounds(candidates, rounds).items()}
    copy_bw = 8 * n / m["copy_"]
    threads = torch.get_num_threads()
    print(
        f"\nSignSGD (guard on) by chunk length per thread ({threads} threads); median of {rounds}\n"
    )
    print("| chunk per thread | ms | bandwidth / copy_ |")
    print("|---|---:|---:|")
    for k in exponents:
        s = m[f"CHUNK = 2^{k}"]
        print(f"| 2^{k} = {1 << k} | {s * 1e3:.2f} | {12 * n / s / copy_bw:.2f} |")


TARGETS = {
    "SignSGD bandwidth / copy_": ("≥", 0.85),
    "SignSGD (check_finite=False) bandwidth / copy_": None,
    "SignSGD / SGD(momentum)": ("≤", 1.0),
    "Signum / SGD(momentum)": ("≤", 1.0),
    "Signum (check_finite=False) / SGD(momentum)": None,
    "Lion / AdamW": ("≤", 1.0),
    "Muon bf16 / torch.optim.Muon bf16": ("≤", 1.0),
    "Muon f32 / torch.optim.Muon f32": ("≤", 1.0),
    "Muon default / torch.optim.Muon (bf16)": None,
    **{
        f"Muon {name} bf16 / torch.optim.Muon bf16": None
        for name in ("you", "cans", "polar_express")
    },
    "Muon SVD f32 / torch.optim.Muon bf16": None,
}


def summary(runs: list[dict[str, float]], load: tuple[float, float]) -> None:
    print(f"\n## Summary over {len(runs)} repeats (load average {load[0]:.1f} → {load[1]:.1f})\n")
    print("| metric | median | min–max over repeats | target | met | spread |")
    print("|---|---:|---:|---|---|---|")
    for name, target in TARGETS.items():
        values = [r[name] for r in runs if name in r]
        if not values:
            continue
        mid, lo, hi = statistics.median(values), min(values), max(values)
        spread = (hi - lo) / mid
        if target:
            op, bound = target
            met = "✅" if (mid >= bound if op == "≥" else mid <= bound) else "❌"
            label = f"{op} {bound}"
        else:
            met, label = "", ""
        noisy = "noisy" if spread > 0.15 else "steady"
        print(
            f"| {name} | {mid:.2f} | {lo:.2f}–{hi:.2f} | {label} | {met} | {noisy} ({spread:.0%}) |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--muon-size", type=int, default=256)
    parser.add_argument("--skip-muon", action="store_true")
    parser.add_argument("--chunk-sweep", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.clock == "cpu":
        if torch.get_num_threads() != 1:
            parser.error("--clock cpu measures the calling thread only: use it with --threads 1")
        global CLOCK
        CLOCK = time.thread_time
    start_load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {args.clock} clock, load average {start_load:.2f}"
    )
    runs = []
    for r in range(args.repeats):
        print(f"\n# Repeat {r + 1} of {args.repeats} (load average {os.getloadavg()[0]:.2f})")
        result = elementwise(args.rounds)
        if not args.skip_muon:
            result |= muon(max(7, args.rounds // 3), args.muon_size)
        runs.append(result)
    if args.chunk_sweep:
        chunk_sweep(args.rounds, [14, 15, 16, 17, 18, 20])
    summary(runs, (start_load, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
