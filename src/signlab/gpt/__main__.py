"""Command line: ``python -m signlab.gpt --preset P --optimizer O [--steps N] [--out DIR]``.

Also runs under ``torchrun --nproc_per_node=K -m signlab.gpt ...`` (DDP, the global batch split
across ranks). ``--sweep`` runs the width sweep instead of a single run.
"""

from __future__ import annotations

import argparse
import sys

from signlab.gpt.presets import OPTIMIZERS, PRESETS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; ``--help`` lists the presets and optimizers."""
    p = argparse.ArgumentParser(
        prog="python -m signlab.gpt",
        description="Train a GPT-2 with one optimizer and log the loss curve as JSONL.",
    )
    p.add_argument("--preset", default="cpu-tiny", help=f"one of: {', '.join(PRESETS)}")
    p.add_argument("--optimizer", default="adamw", help=f"one of: {', '.join(OPTIMIZERS)}")
    p.add_argument("--steps", type=int, help="optimizer steps (default: the preset's)")
    p.add_argument(
        "--lr", type=float, help="learning rate (default: the preset's for the optimizer)"
    )
    p.add_argument("--out", help="output directory (default: runs/<preset>/<optimizer>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, help="sequences per microbatch")
    p.add_argument("--grad-accum", type=int, help="microbatches per step, over all ranks")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--eval-every", type=int)
    p.add_argument("--log-every", type=int, default=1)
    p.add_argument("--checkpoint-every", type=int, default=0, help="0: only at the end/stop")
    p.add_argument("--density-every", type=int, default=0, help="measure φ every N steps (0: off)")
    p.add_argument("--density-samples", type=int, default=32)
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--stop-at", type=int, help="stop after this step (resume later)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--download", action="store_true", help="allow fetching the web-text corpus")
    p.add_argument("--data-dir", help="where the prepared corpus lives (default: cache dir)")
    p.add_argument(
        "--sweep", action="store_true", help="run the width sweep (see signlab.gpt.sweep)"
    )
    p.add_argument("--widths", default="32,64,128", help="widths for --sweep")
    p.add_argument("--sweep-optimizers", default="sgd,signsgd", help="optimizers for --sweep")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; bad names exit with status 2 and list the valid ones."""
    args = build_parser().parse_args(argv)
    from signlab.gpt.train import DivergenceError, RunConfig, train

    out = args.out or f"runs/{args.preset}/{'sweep' if args.sweep else args.optimizer}"
    try:
        if args.sweep:
            from signlab.gpt.sweep import run_sweep

            widths = [int(w) for w in args.widths.split(",")]
            run_sweep(
                args.preset,
                widths,
                args.sweep_optimizers.split(","),
                out,
                steps=args.steps,
                seed=args.seed,
                progress=not args.no_progress,
            )
            return 0
        cfg = RunConfig(
            preset=args.preset,
            optimizer=args.optimizer,
            out=out,
            steps=args.steps,
            lr=args.lr,
            batch_size=args.batch_size,
            grad_accum=args.grad_accum,
            seed=args.seed,
            device=args.device,
            log_every=args.log_every,
            eval_every=args.eval_every,
            checkpoint_every=args.checkpoint_every,
            density_every=args.density_every,
            density_samples=args.density_samples,
            resume=args.resume,
            stop_at=args.stop_at,
            compile=args.compile,
            progress=not args.no_progress,
            data_dir=args.data_dir,
            download=args.download,
        )
        train(cfg)
    except (ValueError, FileNotFoundError, DivergenceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
