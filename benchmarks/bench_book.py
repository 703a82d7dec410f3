"""How long a rebuild of the book takes when nothing changed (issue target: under 15 s).

Run after a full build (`make book`): `python benchmarks/bench_book.py`. It times three no-op rebuilds
and, as the in-process reference, the bare start-up of `jupyter-book --version`, so the ratio shows how
much of a rebuild is Sphinx work rather than Python start-up.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JB = str(Path(sys.executable).parent / "jupyter-book")


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    if not (ROOT / "_build" / "html" / "index.html").exists():
        sys.exit("build the book first: make book")
    startup = statistics.median(timed([JB, "--version"]) for _ in range(3))
    rebuild = statistics.median(timed([JB, "build", ".", "-W"]) for _ in range(3))
    print(f"no-op rebuild: {rebuild:.2f} s median of 3 (target < 15 s)")
    print(f"jupyter-book start-up: {startup:.2f} s; rebuild / start-up = {rebuild / startup:.1f}x")


if __name__ == "__main__":
    main()
