"""The demo `make demo` runs: the reference network of BENCHMARKS.md through the exact engine.

Each step is an ``axon`` command, printed before it runs, so the demo doubles as a
walk-through of the command line. Results land in ``out/demo/``.
"""
from __future__ import annotations

import shlex
import sys
import time

from bridge.cli import main as axon

OUT = "out/demo"

STEPS = [
    ("Write the reference network (700 -> 256 -> 256 -> 20, lateral, delays 0-250 ms) and 5 s of 10 Hz input",
     f"example --out {OUT} --duration 5"),
    ("Simulate it with the exact event-driven engine",
     f"simulate {OUT}/model.h5 --events {OUT}/events.h5 --out {OUT}/exact --duration 5"),
]


def run() -> int:
    t0 = time.perf_counter()
    for what, cmd in STEPS:
        print(f"\n== {what}\n$ axon {cmd}", flush=True)
        rc = axon(shlex.split(cmd))
        if rc != 0:
            print(f"demo step failed (exit {rc}): axon {cmd}", file=sys.stderr)
            return rc
    print(f"\nDemo done in {time.perf_counter() - t0:.0f} s. Open {OUT}/exact/summary.md and {OUT}/exact/raster.png.")
    return 0


if __name__ == "__main__":
    sys.exit(run())
