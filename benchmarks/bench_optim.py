"""Step time of signlab.optim against PyTorch's optimizers, measured in the same process.

    python benchmarks/bench_optim.py [--rounds 15] [--muon-size 256]

Parameters: a transformer-like set of ~10M float32 parameters (3 blocks of width 512: attention
and MLP matrices, plus gains and biases), random gradients. Candidates are interleaved round by
round (so a noisy neighbour slows all of them alike) and each time is the median over rounds.

Reported:
- SignSGD and Signum vs ``torch.optim.SGD(momentum=0.9, foreach=True)``; Lion vs
  ``torch.optim.AdamW(foreach=True)`` (targets ≤ 1.0×, ≤ 1.1×, ≤ 1.0×);
- SignSGD's achieved memory bandwidth (its 12 bytes per float32 parameter: read g, read p,
  write p) as a fraction of a plain ``copy_`` (8 bytes per element) on a buffer of the same size;
- Muon (float32 Newton–Schulz on CPU) vs ``torch.optim.Muon`` (bfloat16 Newton–Schulz) on the same
  matrices. bf16 matmuls are ~45× slower than float32 on CPU, so torch's Muon takes minutes per
  step on 10M parameters: this part uses fewer, smaller matrices (of the same aspect ratios) and
  compares per-step time on those; signlab's Muon on the full set is reported for scale.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from signlab.optim import Lion, Muon, SignSGD, Signum

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


def time_rounds(candidates: dict, rounds: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each candidate, interleaving candidates within each round."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def elementwise(rounds: int) -> None:
    shapes = block_shapes(WIDTH, BLOCKS)
    n = sum(torch.Size(s).numel() for s in shapes)
    opts = {
        "torch SGD(momentum=0.9, foreach)": torch.optim.SGD(
            make_params(shapes), lr=1e-3, momentum=0.9, foreach=True
        ),
        "torch AdamW(foreach)": torch.optim.AdamW(make_params(shapes), lr=1e-3, foreach=True),
        "SignSGD": SignSGD(make_params(shapes), lr=1e-3),
        "SignSGD (check_finite=False)": SignSGD(make_params(shapes), lr=1e-3, check_finite=False),
        "Signum": Signum(make_params(shapes), lr=1e-3),
        "Signum (check_finite=False)": Signum(make_params(shapes), lr=1e-3, check_finite=False),
        "Lion": Lion(make_params(shapes), lr=1e-4),
        "SignSGD (weight_decay=0.1)": SignSGD(make_params(shapes), lr=1e-3, weight_decay=0.1),
        "Lion (weight_decay=0.1)": Lion(make_params(shapes), lr=1e-4, weight_decay=0.1),
    }
    src, dst = torch.randn(n), torch.empty(n)
    candidates = {name: opt.step for name, opt in opts.items()}
    candidates["copy_ (n floats)"] = lambda: dst.copy_(src)
    t = time_rounds(candidates, rounds)
    sgd, adamw = t["torch SGD(momentum=0.9, foreach)"], t["torch AdamW(foreach)"]
    print(f"\n{n / 1e6:.2f}M float32 parameters in {len(shapes)} tensors; median of {rounds}\n")
    print("| step | ms | ratio | reference (target) |")
    print("|---|---:|---:|---|")
    targets = {
        "SignSGD": (sgd, "SGD (≤ 1.0)"),
        "SignSGD (check_finite=False)": (sgd, "SGD"),
        "SignSGD (weight_decay=0.1)": (sgd, "SGD"),
        "Signum": (sgd, "SGD (≤ 1.1)"),
        "Signum (check_finite=False)": (sgd, "SGD"),
        "Lion": (adamw, "AdamW (≤ 1.0)"),
        "Lion (weight_decay=0.1)": (adamw, "AdamW"),
    }
    for name, seconds in t.items():
        ref, label = targets.get(name, (None, ""))
        ratio = f"{seconds / ref:.2f}" if ref else ""
        print(f"| {name} | {seconds * 1e3:.2f} | {ratio} | {label} |")
    copy_bw = 8 * n / t["copy_ (n floats)"]
    print(f"\ncopy_ bandwidth: {copy_bw / 1e9:.1f} GB/s (read + write of {4 * n / 1e6:.0f} MB)")
    for name in ["SignSGD", "SignSGD (check_finite=False)"]:
        bw = 12 * n / t[name]
        print(f"{name}: {bw / 1e9:.1f} GB/s = {bw / copy_bw:.2f} of copy_ (12 bytes/parameter)")


def muon(rounds: int, size: int) -> None:
    shapes = [s for s in block_shapes(size, 1) if len(s) == 2]
    opts = {
        "signlab Muon (float32 NS, default on CPU)": Muon(make_params(shapes)),
        "signlab Muon (float32 NS via eigh)": Muon(
            make_params(shapes), method="newton_schulz_eigh"
        ),
        "signlab Muon (bfloat16 NS)": Muon(make_params(shapes), dtype=torch.bfloat16),
        "torch.optim.Muon (bfloat16 NS)": torch.optim.Muon(make_params(shapes), weight_decay=0.0),
    }
    t = time_rounds({name: opt.step for name, opt in opts.items()}, rounds, warmup=1)
    n = sum(torch.Size(s).numel() for s in shapes)
    print(
        f"\nMuon on the matrices of one width-{size} block {shapes} ({n / 1e6:.2f}M params); "
        f"median of {rounds}\n"
    )
    print("| step | ms | speed-up vs torch.optim.Muon |")
    print("|---|---:|---:|")
    ref_t = t["torch.optim.Muon (bfloat16 NS)"]
    for name, seconds in t.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {ref_t / seconds:.2f}× |")
    full = [s for s in block_shapes(WIDTH, BLOCKS) if len(s) == 2]
    n_full = sum(torch.Size(s).numel() for s in full)
    big = {
        "float32 NS": Muon(make_params(full)),
        "float32 NS via eigh": Muon(make_params(full), method="newton_schulz_eigh"),
    }
    t_full = time_rounds({k: o.step for k, o in big.items()}, 3, warmup=1)
    for name, seconds in t_full.items():
        print(
            f"\nsignlab Muon ({name}) on all {len(full)} matrices of the ~10M set "
            f"({n_full / 1e6:.2f}M params): {seconds:.2f} s per step",
            end="",
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--muon-size", type=int, default=256)
    parser.add_argument("--skip-muon", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    elementwise(args.rounds)
    if not args.skip_muon:
        muon(max(3, args.rounds // 3), args.muon_size)


if __name__ == "__main__":
    main()
