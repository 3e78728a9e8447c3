"""Start-up time of the CLI and of ``import xlprompt``: the wall time of a fresh process, median of N runs.

    python benchmarks/bench_startup.py [--repeat 5] [--json OUT]

Each command runs in a new interpreter (the cost a user pays per command). The machine's load matters:
run it on an idle machine and compare figures from one run only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "import xlprompt": [sys.executable, "-c", "import xlprompt"],
    "xlprompt --help": ["xlprompt", "--help"],
    "xlprompt run --help": ["xlprompt", "run", "--help"],
    "xlprompt run --help-config": ["xlprompt", "run", "--help-config"],
    "xlprompt run --set epoch=1 (config error)": [
        "xlprompt",
        "run",
        "--out",
        "/nonexistent-xlprompt-bench",
        "--set",
        "epoch=1",
    ],
    "xlprompt run --set alpha=2 (range error)": [
        "xlprompt",
        "run",
        "--out",
        "/nonexistent-xlprompt-bench",
        "--set",
        "alpha=2",
    ],
    "xlprompt sweep (bad file)": [
        "xlprompt",
        "sweep",
        "/nonexistent-xlprompt-bench.yaml",
        "--store",
        "/nonexistent-xlprompt-bench.db",
    ],
    "xlprompt sweep --help": ["xlprompt", "sweep", "--help"],
    "xlprompt data --help": ["xlprompt", "data", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (the median is reported)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    exe = shutil.which("xlprompt")
    if exe is None:
        sys.exit("xlprompt is not on PATH: install the package first")
    out = {}
    for name, cmd in COMMANDS.items():
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            times.append(time.perf_counter() - started)
        out[name] = statistics.median(times)
        print(f"{name:45s} {out[name]:6.2f} s (median of {args.repeat})", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2)


if __name__ == "__main__":
    main()
