"""Width sweep: does SignSGD's advantage over SGD grow with the width d of the network?

For every width d, optimizer o and seed s, one run of the same recipe trains until its validation
loss first reaches a fixed target ℓ* or a step budget runs out, and records

    S_o(d, s) = first step (counted from 1) at which val_loss ≤ ℓ*   (None: not within the budget).

Each optimizer gets its own learning rate at each width: a small grid is run with seed 0, and the
grid is extended by one point whenever the best value sits on its edge (so the chosen rate is never
a boundary artefact of the grid); the other seeds then run at the chosen rate. The sweep reports
the paired ratio R(d, s) = S_sgd(d, s) / S_signsgd(d, s) and the slope b of the least-squares fit

    log R = a + b · log d,

with its standard error: b > 0 means SignSGD's advantage grows with width, b ≈ 0 no trend.

Everything is written as logs (``OUT/d<width>/<optimizer>/lr<lr>/s<seed>/log.jsonl`` and
``run.json``); :func:`summarize` rebuilds every number from those logs alone, which is what the
book does with the committed sweep. A rerun with the same ``OUT`` reuses the finished runs, so an
interrupted sweep continues where it stopped. Command::

    python -m signlab.gpt.sweep --out book/data/gpt2/sweep
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signlab import _validate
from signlab._io import atomic_write
from signlab.gpt.presets import OPTIMIZERS
from signlab.gpt.train import RunConfig, read_log, train

# Starting learning-rate grids: three points of the series 1, 3, 10, 30, ... × 10^k (steps of about
# √10) around the cpu-tiny preset's rate, which was tuned at width 64; the sweep extends a grid
# along the same series past whichever edge wins.
LR_GRIDS = {
    "sgd": (0.03, 0.1, 0.3),
    "signsgd": (1e-3, 3e-3, 1e-2),
    "signum": (3e-4, 1e-3, 3e-3),
    "lion": (3e-4, 1e-3, 3e-3),
    "adamw": (1e-3, 3e-3, 1e-2),
    "muon": (0.01, 0.03, 0.1),
}
# Most grid extensions per (width, optimizer): bounds the cost when the loss is flat in lr.
MAX_EXTENSIONS = 2


@dataclass(frozen=True)
class SweepConfig:
    """A width sweep: which widths, optimizers and seeds; the target loss and the step budget."""

    out: str = field(default="runs/sweep", metadata={"help": "output directory"})
    preset: str = field(default="cpu-tiny", metadata={"help": "the recipe every run uses"})
    widths: tuple[int, ...] = field(
        default=(32, 64, 128, 256), metadata={"help": "widths d, comma-separated (>= 2 of them)"}
    )
    optimizers: tuple[str, ...] = field(
        default=("sgd", "signsgd"),
        metadata={"help": "optimizers, comma-separated; the ratio is first over second"},
    )
    seeds: int = field(default=3, metadata={"help": "seeds 0..N-1 per (width, optimizer)"})
    target: float = field(
        default=2.4, metadata={"help": "target validation loss ℓ* (nats per token)"}
    )
    steps: int = field(
        default=600, metadata={"help": "step budget of every run (the cosine schedule's length)"}
    )
    eval_every: int = field(default=5, metadata={"help": "steps between validation losses"})
    progress: bool = field(default=True, metadata={"help": "show progress"})

    def __post_init__(self):
        if len(self.widths) < 2:
            raise ValueError(f"widths must list at least 2 widths (got {self.widths!r})")
        for w in self.widths:
            _validate.integer("width", w)
        if len(self.optimizers) < 2:
            raise ValueError(f"optimizers must list at least 2 (got {self.optimizers!r})")
        for name in self.optimizers:
            _validate.choice("optimizer", name, OPTIMIZERS)
        _validate.integer("seeds", self.seeds)
        _validate.positive("target", self.target)
        _validate.integer("steps", self.steps)
        _validate.integer("eval_every", self.eval_every)


def steps_to_target(records: list[dict], target: float, key: str = "val_loss") -> int | None:
    """Steps done (``step + 1``) when ``records[key]`` first is <= ``target``; None if never."""
    for r in records:
        if r.get(key) is not None and r[key] <= target:
            return r["step"] + 1
    return None


def run_dir(out: str | os.PathLike, width: int, optimizer: str, lr: float, seed: int) -> Path:
    """Where one sweep run's log lives: ``OUT/d<width>/<optimizer>/lr<lr>/s<seed>``."""
    return Path(out) / f"d{width}" / optimizer / f"lr{lr:g}" / f"s{seed}"


def _finished(directory: Path, cfg: SweepConfig) -> bool:
    """A run is finished when its log reached the target or its last step of the budget."""
    records = read_log(directory)
    if not records or not (directory / "run.json").exists():
        return False
    done = records[-1]["step"] + 1 == cfg.steps
    return done or steps_to_target(records, cfg.target) is not None


def run_point(cfg: SweepConfig, width: int, optimizer: str, lr: float, seed: int) -> int | None:
    """Train one (width, optimizer, lr, seed) until the target or the budget; S or None."""
    directory = run_dir(cfg.out, width, optimizer, lr, seed)
    if not _finished(directory, cfg):
        run = RunConfig(
            preset=cfg.preset,
            optimizer=optimizer,
            out=str(directory),
            n_embd=width,
            lr=lr,
            steps=cfg.steps,
            seed=seed,
            eval_every=cfg.eval_every,
            log_every=cfg.eval_every,
            target_loss=cfg.target,
            checkpoint=False,  # the sweep keeps logs only: a checkpoint per run would be GBs
            progress=cfg.progress,
        )
        train(run)
    return steps_to_target(read_log(directory), cfg.target)


def _score(directory: Path, target: float) -> tuple[float, float]:
    """Sort key of a tuning run: (steps to target or ∞, lowest validation loss seen)."""
    records = read_log(directory)
    s = steps_to_target(records, target)
    best = min((r["val_loss"] for r in records if r.get("val_loss") is not None), default=math.inf)
    return (math.inf if s is None else float(s), best)


def _tried_lrs(out: str | os.PathLike, width: int, optimizer: str) -> list[float]:
    base = Path(out) / f"d{width}" / optimizer
    found = [float(p.name[2:]) for p in base.glob("lr*") if (p / "s0" / "log.jsonl").exists()]
    return sorted(found)


def best_lr(out: str | os.PathLike, width: int, optimizer: str, target: float) -> float:
    """The tuned rate: fewest seed-0 steps to ``target`` among the logged rates (ties: lower loss)."""
    lrs = _tried_lrs(out, width, optimizer)
    if not lrs:
        raise FileNotFoundError(f"no tuning runs under {Path(out) / f'd{width}' / optimizer}")
    return min(lrs, key=lambda lr: _score(run_dir(out, width, optimizer, lr, 0), target))


def neighbour_lr(lr: float, up: bool) -> float:
    """The next rate of the series {1, 3} × 10^k above (``up``) or below ``lr``: 0.1 ↔ 0.3 ↔ 1."""
    lr = _validate.positive("lr", lr)
    k = math.floor(math.log10(lr) + 1e-9)
    mantissa = round(lr / 10**k)
    if up:
        return float(f"{(3 if mantissa < 3 else 10) * 10**k:.1g}")
    return float(f"{(1 if mantissa > 1 else 0.3) * 10**k:.1g}")


def tune_lr(cfg: SweepConfig, width: int, optimizer: str) -> float:
    """Run the grid with seed 0, extending it past a winning edge (at most MAX_EXTENSIONS times)."""
    grid = LR_GRIDS[optimizer]
    for lr in grid:
        run_point(cfg, width, optimizer, lr, 0)
    while True:
        best = best_lr(cfg.out, width, optimizer, cfg.target)
        tried = _tried_lrs(cfg.out, width, optimizer)
        extended = sum(not grid[0] <= lr <= grid[-1] for lr in tried)  # counts earlier calls too
        if extended >= MAX_EXTENSIONS:
            break
        if math.isclose(best, tried[0]):
            nxt = neighbour_lr(best, up=False)
        elif math.isclose(best, tried[-1]):
            nxt = neighbour_lr(best, up=True)
        else:
            break
        run_point(cfg, width, optimizer, nxt, 0)
    return best_lr(cfg.out, width, optimizer, cfg.target)


def run_sweep(cfg: SweepConfig) -> dict:
    """Tune and run every (width, optimizer, seed); write ``OUT/summary.json``; return it."""
    for width in cfg.widths:
        for optimizer in cfg.optimizers:
            lr = tune_lr(cfg, width, optimizer)
            for seed in range(1, cfg.seeds):
                run_point(cfg, width, optimizer, lr, seed)
    summary = summarize(cfg.out, cfg.target, cfg.optimizers, cfg.steps)
    with atomic_write(Path(cfg.out) / "summary.json") as f:
        json.dump(summary, f, indent=1)
    return summary


def fit_log_slope(widths, ratios) -> tuple[float, float]:
    """Least-squares slope b of log R = a + b log d and its standard error, over all (d, R) pairs.

    SE(b) = √(Σ residual² / (n − 2) / Σ (log d − mean)²); it needs ≥ 3 points on ≥ 2 widths.
    """
    x = np.log(np.asarray(widths, dtype=float))
    y = np.log(np.asarray(ratios, dtype=float))
    if x.size < 3 or np.ptp(x) == 0:
        raise ValueError("the slope fit needs at least 3 points on at least 2 widths")
    xc = x - x.mean()
    b = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - b * xc
    se = float(math.sqrt(resid @ resid / (x.size - 2) / (xc @ xc)))
    return b, se


def _widths_in(out: Path) -> list[int]:
    return sorted(int(p.name[1:]) for p in out.glob("d*") if p.name[1:].isdigit())


def _paired_ratios(slow: dict, fast: dict) -> tuple[dict[int, float], list[int]]:
    """Per seed, R = S_slow / S_fast; seeds where either never reached the target are censored."""
    by_seed = dict(zip(slow["seeds"], slow["steps"], strict=True))
    ratios, censored = {}, []
    for seed, s_fast in zip(fast["seeds"], fast["steps"], strict=True):
        s_slow = by_seed.get(seed)
        if s_slow is None or s_fast is None:
            censored.append(seed)
        else:
            ratios[seed] = s_slow / s_fast
    return ratios, censored


def _width_row(out: Path, width: int, target: float, optimizers) -> dict:
    row: dict[str, Any] = {"width": width, "optimizers": {}}
    for name in optimizers:
        lr = best_lr(out, width, name, target)
        seed_dirs = run_dir(out, width, name, lr, 0).parent.glob("s*")
        seeds = sorted(int(p.name[1:]) for p in seed_dirs if (p / "log.jsonl").exists())
        row["optimizers"][name] = {
            "lr": lr,
            "seeds": seeds,
            "steps": [
                steps_to_target(read_log(run_dir(out, width, name, lr, s)), target) for s in seeds
            ],
            "tuning": {
                f"{x:g}": steps_to_target(read_log(run_dir(out, width, name, x, 0)), target)
                for x in _tried_lrs(out, width, name)
            },
        }
        with open(run_dir(out, width, name, lr, 0) / "run.json") as f:
            info = json.load(f)
        row["n_params"], row["hardware"] = info["n_params"], info["hardware"]
    return row


def summarize(
    out: str | os.PathLike, target: float, optimizers=("sgd", "signsgd"), budget: int | None = None
) -> dict:
    """Every number of the sweep, rebuilt from the logs under ``out``.

    ``rows``: per width, N, and for each optimizer its tuned lr, the tuning table {lr: S} (seed 0)
    and S per seed. ``ratios[o]``: for each optimizer o after the first, per width the paired
    ratios R = S_first / S_o per seed (a seed where either never reached the target gives no ratio
    and is listed as censored), and the fitted slope of log R on log d with its standard error
    (``None`` when fewer than 3 ratios exist), plus one slope per seed.
    """
    out = Path(out)
    rows = [_width_row(out, w, target, optimizers) for w in _widths_in(out)]
    first = optimizers[0]
    ratios = {}
    for name in optimizers[1:]:
        per_width = []
        for row in rows:
            r, censored = _paired_ratios(row["optimizers"][first], row["optimizers"][name])
            per_width.append({"width": row["width"], "ratios": r, "censored": censored})
        points = [(p["width"], q) for p in per_width for q in p["ratios"].values()]
        slope = se = None
        if len({w for w, _ in points}) >= 2 and len(points) >= 3:
            slope, se = fit_log_slope(*zip(*points, strict=True))
        per_seed = {}
        for seed in sorted({s for p in per_width for s in p["ratios"]}):
            pts = [(p["width"], p["ratios"][seed]) for p in per_width if seed in p["ratios"]]
            if len(pts) >= 3:
                per_seed[seed] = fit_log_slope(*zip(*pts, strict=True))[0]
        ratios[name] = {
            "per_width": per_width,
            "slope": slope,
            "slope_se": se,
            "slope_per_seed": per_seed,
        }
    return {
        "target": target,
        "budget": budget,
        "optimizers": list(optimizers),
        "rows": rows,
        "ratios": ratios,
    }


def summaries_match(a, b, *, rel_tol: float = 1e-9, abs_tol: float = 1e-12) -> bool:
    """True when two sweep summaries agree: the same keys, lengths, integers, strings, booleans and
    ``None`` exactly, and every float to ``rel_tol`` (``abs_tol`` near zero).

    Both are first passed through JSON, as ``summary.json`` stores them. Why not ``==``: the chapter
    rebuilds the summary from the committed logs and compares it with the committed file, and a
    fitted slope is a sum of products whose last bits depend on the numpy/BLAS build, so exact
    equality could fail on a reader's machine while every number agrees.
    """
    return _match(json.loads(json.dumps(a)), json.loads(json.dumps(b)), rel_tol, abs_tol)


def _match(a, b, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_match(a[k], b[k], rel_tol, abs_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_match(x, y, rel_tol, abs_tol) for x, y in zip(a, b))
    numbers = (int, float)
    if isinstance(a, float) or isinstance(b, float):
        plain = not isinstance(a, bool) and not isinstance(b, bool)
        return (
            plain
            and isinstance(a, numbers)
            and isinstance(b, numbers)
            and math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)
        )
    return type(a) is type(b) and a == b


def _band(widths: list[int], values: list[list[float]]) -> dict:
    return {
        "widths": widths,
        "mean": [float(np.mean(v)) if v else None for v in values],
        "low": [min(v) if v else None for v in values],
        "high": [max(v) if v else None for v in values],
    }


def steps_band(summary: dict, optimizer: str) -> dict:
    """Steps to the target per width for one optimizer: mean, min and max over its seeds
    (seeds that never reached the target are left out and counted in ``censored``)."""
    widths, values, censored = [], [], []
    for row in summary["rows"]:
        steps = row["optimizers"][optimizer]["steps"]
        widths.append(row["width"])
        values.append([s for s in steps if s is not None])
        censored.append(sum(s is None for s in steps))
    return _band(widths, values) | {"censored": censored}


def ratio_band(summary: dict, optimizer: str) -> dict:
    """The paired ratios S_first / S_optimizer per width: mean, min and max over seeds, and the
    fitted power law R = e^a d^b through them (``fit``, at the same widths)."""
    fit = summary["ratios"][optimizer]
    widths = [p["width"] for p in fit["per_width"]]
    values = [list(p["ratios"].values()) for p in fit["per_width"]]
    band = _band(widths, values)
    if fit["slope"] is not None:
        x = np.log([w for w, v in zip(widths, values, strict=True) for _ in v])
        y = np.log([q for v in values for q in v])
        a = float(y.mean() - fit["slope"] * x.mean())
        band["fit"] = [float(np.exp(a) * w ** fit["slope"]) for w in widths]
    return band


def sweep_table(summary: dict) -> str:
    """The sweep as text: per width, N, then one line per optimizer with its tuned lr, its steps
    to the target per seed ("–": not reached) and, after the first, the paired ratios
    S_first / S_optimizer."""
    names = summary["optimizers"]
    lines = []
    for i, row in enumerate(summary["rows"]):
        lines.append(f"d = {row['width']}, N = {row['n_params']:,}")
        for name in names:
            opt = row["optimizers"][name]
            steps = ", ".join("–" if s is None else f"{s:3d}" for s in opt["steps"])
            line = f"  {name:8s} lr {opt['lr']:<6g} steps {steps}"
            if name != names[0]:
                ratios = summary["ratios"][name]["per_width"][i]["ratios"].values()
                line += f"   {names[0]}/{name} " + ", ".join(f"{q:.2f}" for q in ratios)
            lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m signlab.gpt.sweep``: flags generated from :class:`SweepConfig`."""
    from signlab.gpt.cli import config_from_args, parser_for

    parser = parser_for(SweepConfig, prog="python -m signlab.gpt.sweep", doc=__doc__)
    cfg = config_from_args(SweepConfig, parser.parse_args(argv))
    summary = run_sweep(cfg)
    for name, fit in summary["ratios"].items():
        slope = "n/a" if fit["slope"] is None else f"{fit['slope']:+.3f} ± {fit['slope_se']:.3f}"
        print(f"slope of log(S_{cfg.optimizers[0]} / S_{name}) on log d: {slope}")
    print(f"sweep done; summary: {Path(cfg.out) / 'summary.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
