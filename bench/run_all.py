"""Run every benchmark in bench/ and print their tables (`make bench`).

Each benchmark measures its floor in the same run, so the ratios hold on a noisy,
shared machine even when the absolute figures move.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("fan-out (workloads 1 and 2)", [sys.executable, str(HERE / "fanout.py")]),
    ("desk queue (workload 6)", [sys.executable, str(HERE / "desk_queue.py")]),
]


def main() -> int:
    failed = 0
    started = time.monotonic()
    for name, command in BENCHMARKS:
        print(f"\n=== {name}", flush=True)
        result = subprocess.run(command, cwd=HERE.parent)
        failed += result.returncode != 0
    print(f"\n{len(BENCHMARKS) - failed} of {len(BENCHMARKS)} benchmarks ran in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
