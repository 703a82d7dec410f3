"""Width sweep: the same recipe at several widths d, reporting how many more steps SGD needs than
SignSGD to reach the same loss, against the parameter count N.

The theory predicts SGD's disadvantage grows with the dimension when the noise is sparse (the
noise term of SGD's complexity carries 1/φ, which can be as large as d; Tao et al., 2026). The
measured quantity, for each width, is

    ratio = S_sgd(ℓ*) / S_signsgd(ℓ*),   S_o(ℓ) = first step at which optimizer o's val loss ≤ ℓ,

with ℓ* the smallest validation loss that every optimizer reaches at that width (the worst of the
best losses), so the ratio is always defined. Command (logs under ``OUT/d<width>/<optimizer>``)::

    python -m signlab.gpt --sweep --preset cpu-tiny --widths 32,64,128 --out book/data/gpt2/sweep
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from signlab import _validate
from signlab.gpt.train import RunConfig, read_log, train


def steps_to_target(records: list[dict], target: float, key: str = "val_loss") -> int | None:
    """Steps done (``step + 1``) when ``records[key]`` first is <= ``target``; None if never."""
    for r in records:
        if r.get(key) is not None and r[key] <= target:
            return r["step"] + 1
    return None


def common_target(logs: dict[str, list[dict]], key: str = "val_loss") -> float:
    """ℓ* = max over optimizers of min over steps of ``key``: the best loss all of them reach."""
    best = [min(r[key] for r in recs if r.get(key) is not None) for recs in logs.values()]
    return max(best)


def summarize_width(logs: dict[str, list[dict]], n_params: int, slow="sgd", fast="signsgd") -> dict:
    """One sweep row: N, target ℓ*, steps to ℓ* for every optimizer, and S_slow/S_fast."""
    target = common_target(logs)
    steps = {name: steps_to_target(recs, target) for name, recs in logs.items()}
    ratio = steps[slow] / steps[fast] if slow in steps and fast in steps else None
    return {"n_params": n_params, "target": target, "steps": steps, "ratio": ratio}


def run_sweep(
    preset: str,
    widths: list[int],
    optimizers: list[str],
    out: str | os.PathLike,
    steps: int | None = None,
    seed: int = 0,
    log_every: int = 10,
    progress: bool = True,
) -> list[dict]:
    """Train every (width, optimizer) pair, write ``OUT/summary.jsonl`` (one row per width), return
    the rows. Each run's log goes to ``OUT/d<width>/<optimizer>/log.jsonl``."""
    out = Path(out)
    rows = []
    for w in widths:
        _validate.integer("width", w)
        for name in optimizers:
            cfg = RunConfig(
                preset=preset,
                optimizer=name,
                out=str(out / f"d{w}" / name),
                n_embd=w,
                steps=steps,
                seed=seed,
                log_every=log_every,
                progress=progress,
            )
            train(cfg)
        rows.append(summarize_run_dir(out / f"d{w}", optimizers) | {"width": w})
    (out / "summary.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def summarize_run_dir(directory: str | os.PathLike, optimizers: list[str]) -> dict:
    """:func:`summarize_width` over the logs in ``directory/<optimizer>`` (N from ``run.json``)."""
    directory = Path(directory)
    logs = {name: read_log(directory / name) for name in optimizers}
    n_params = json.loads((directory / optimizers[0] / "run.json").read_text())["n_params"]
    return summarize_width(logs, n_params, slow=optimizers[0], fast=optimizers[-1])
