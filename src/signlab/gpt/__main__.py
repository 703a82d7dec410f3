"""Command line: ``python -m signlab.gpt --preset P --optimizer O [--steps N] [--out DIR] ...``.

The flags are generated from the fields of :class:`signlab.gpt.config.RunConfig` (see
:mod:`signlab.gpt.cli`). Also runs under ``torchrun --nproc_per_node=K -m signlab.gpt ...`` (DDP,
the global batch split across ranks). The width sweep has its own command,
``python -m signlab.gpt.sweep``. A run ends with one summary line on stdout: its final losses
and where its log and checkpoint are.
"""

from __future__ import annotations

import sys

from signlab.gpt.cli import config_from_args, parser_for
from signlab.gpt.config import RunConfig
from signlab.gpt.data import MissingDependencyError

EPILOG = "The width sweep: python -m signlab.gpt.sweep --help."


def build_parser():
    """The argument parser, one flag per :class:`RunConfig` field; ``--help`` lists the choices."""
    parser = parser_for(RunConfig, prog="python -m signlab.gpt")
    parser.epilog = EPILOG
    return parser


def summary_line(cfg: RunConfig, records: list[dict]) -> str:
    """``done: <optimizer> on <preset>, N steps; final train loss …, val loss …; log: …``."""
    last = records[-1]
    vals = [r for r in records if "val_loss" in r]
    val = f", val loss {vals[-1]['val_loss']:.4f} (step {vals[-1]['step'] + 1})" if vals else ""
    ckpt = cfg.out_dir / "checkpoint.pt"
    saved = f"; checkpoint: {ckpt}" if cfg.checkpoint and ckpt.exists() else ""
    return (
        f"done: {cfg.optimizer} on {cfg.preset}, {last['step'] + 1} steps; final train loss "
        f"{last['train_loss']:.4f}{val}; log: {cfg.out_dir / 'log.jsonl'}{saved}"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; bad input or a divergence exits with status 2 and one message."""
    args = build_parser().parse_args(argv)
    from signlab.gpt.train import DivergenceError, train

    try:
        cfg = config_from_args(RunConfig, args)
        records = train(cfg)
    except (ValueError, FileNotFoundError, DivergenceError, MissingDependencyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if records and _is_rank_zero():
        print(summary_line(cfg, records))
    return 0


def _is_rank_zero() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


if __name__ == "__main__":
    sys.exit(main())
