"""Runs the four benchmarks, each in its own process, and merges their JSON into one file.

    .venv/bin/python tools/benchmark.py [--quick] [--json benchmarks.json] [--only a,b,c,d]

(a) bench_keras_apps.py, (b) bench_peak.py, (c) bench_pipeline.py, (d) bench_torch.py; extra
arguments after `--` go to every script (for example `-- --threads 1`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

SCRIPTS = {"a": "bench_keras_apps.py", "b": "bench_peak.py", "c": "bench_pipeline.py",
           "d": "bench_torch.py"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default="benchmarks.json")
    p.add_argument("--only", default="a,b,c,d")
    p.add_argument("extra", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    extra = [a for a in args.extra if a != "--"]
    here = os.path.dirname(os.path.abspath(__file__))
    merged, status = {}, 0
    with tempfile.TemporaryDirectory() as scratch:
        for key in args.only.split(","):
            out = os.path.join(scratch, f"{key}.json")
            command = [sys.executable, os.path.join(here, SCRIPTS[key]), "--json", out, *extra]
            command += ["--quick"] if args.quick else []
            code = subprocess.call(command)
            status = status or code
            if os.path.exists(out):
                with open(out) as handle:
                    merged[key] = json.load(handle)
    with open(args.json, "w") as handle:
        json.dump(merged, handle, indent=2)
    print(f"\nwrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
