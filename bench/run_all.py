"""Run every benchmark in bench/, then print one table of their figures (`make bench`).

Each benchmark measures its floor in the same run, so the ratios hold on a noisy,
shared machine even when the absolute figures move. Each prints its own detailed
table as it goes; the summary at the end has one line per figure: ours, the floor,
the ratio (ours ÷ floor, lower is better) and the aim.

    python bench/run_all.py [--quick]

``--quick`` runs smaller workloads (for a check that everything works, not for figures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.common import table

# name, script, its arguments for `make bench` (sized to finish all in ~10 minutes on 2
# cores), and for --quick.
BENCHMARKS = [
    ("fan-out (workloads 1 and 2)", "fanout.py", [], ["--access", "40", "--erasure", "20", "--sequential", "5"]),
    ("burst fan-out (workload 3)", "burst.py", ["--requests", "2000"], ["--requests", "100"]),
    ("intake under load (workload 4)", "intake.py", [], ["--seconds", "5"]),
    ("export of 1,000,000 records (workload 5)", "export.py", [], ["--records", "100000"]),
    ("desk queue (workload 6)", "desk_queue.py", [], ["--repeat", "3"]),
    ("deadline sweep (workload 7)", "sweep.py", [], ["--requests", "100000"]),
]


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        summary_file = Path(tmp) / "summary.jsonl"
        env = {**os.environ, "BENCH_SUMMARY": str(summary_file)}
        for name, script, args, quick_args in BENCHMARKS:
            print(f"\n=== {name}", flush=True)
            began = time.monotonic()
            result = subprocess.run([sys.executable, str(HERE / script), *(quick_args if quick else args)],
                                    cwd=HERE.parent, env=env, check=False)
            print(f"({script}: {time.monotonic() - began:.0f} s)", flush=True)
            if result.returncode != 0:
                failed.append(name)
        lines = [json.loads(line) for line in summary_file.read_text().splitlines()] if summary_file.exists() else []
    verdict = {True: "met", False: "NOT MET", None: ""}
    rows = [[line["workload"], line["measure"], line["ours"], line["floor"],
             "" if line["ratio"] is None else f"{line['ratio']:.1f}x", line["aim"], verdict[line.get("met")]]
            for line in lines]
    print(table(f"Summary ({'quick run: small workloads, targets not meaningful' if quick else 'make bench'}; "
                "ratio = ours / floor, lower is better)",
                ["workload", "measure", "ours", "floor", "ratio", "target", ""], rows or [["-"] * 7]))
    targets = [line["met"] for line in lines if line.get("met") is not None]
    print(f"\ntargets met: {sum(targets)} of {len(targets)}")
    print(f"\n{len(BENCHMARKS) - len(failed)} of {len(BENCHMARKS)} benchmarks ran in "
          f"{time.monotonic() - started:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
