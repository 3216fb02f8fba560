"""Benchmark of the blueprint front end: load + validate of 10 to 10,000 components.

Not a test: run it by hand (`python bench/bench_validate.py`) and paste the
table into the README. It generates blueprints that mix every component kind
and every cross-reference style (field references, `${...}` interpolations,
variables, DNS records), then times

- in-process: `validate_text` (YAML compose + positions, variables, pydantic,
  references, cycles, rules), the median of 5 runs after one warm-up run;
- whole process: `python -m topoform.cli.main validate FILE`, start-up
  included, the median of 3 runs.

and writes the figures to bench/results/validate-<date>.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

SIZES = (10, 100, 1_000, 5_000, 10_000)
HERE = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, HERE)
# One generator for every benchmark: blueprints that also compile for both
# targets, so validate, plan and synth figures describe the same files.
from generate import generate  # noqa: E402


def time_in_process(text: str, runs: int) -> list[float]:
    from topoform.dsl.validate import validate_text

    result = validate_text(text, "bench.yaml")  # warm-up: imports, pydantic schema, caches
    if not result.ok:
        raise SystemExit("generated blueprint is invalid:\n"
                         + "\n".join(d.render() for d in result.diagnostics[:5]))
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        validate_text(text, "bench.yaml")
        times.append(time.process_time() - start)
    return times


def time_process(path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "topoform.cli.main", "validate", path],
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"validate failed:\n{done.stdout}{done.stderr}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="component counts, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="in-process runs per size (median)")
    parser.add_argument("--process-runs", type=int, default=3, help="whole-process runs per size (median)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            text = generate(size)
            path = os.path.join(tmp, f"bench-{size}.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            inproc = statistics.median(time_in_process(text, args.runs))
            whole = statistics.median(time_process(path, args.process_runs))
            rows.append({
                "components": size, "lines": text.count("\n"), "bytes": len(text.encode()),
                "validate_s": round(inproc, 4), "us_per_component": round(inproc / size * 1e6, 1),
                "process_s": round(whole, 3),
            })
            print(f"  {size:>6} components: {inproc * 1000:8.1f} ms in-process, {whole:6.2f} s as a process",
                  file=sys.stderr)

    print("| components | YAML lines | validate (CPU, median of %d) | µs / component | `topoform validate` process |"
          % args.runs)
    print("|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['components']:,} | {row['lines']:,} | {row['validate_s'] * 1000:.1f} ms "
              f"| {row['us_per_component']:.0f} | {row['process_s']:.2f} s |")
    if not args.no_save:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = os.path.join(HERE, "results", f"validate-{stamp}.json")
        with open(out, "w", encoding="utf-8") as handle:
            json.dump({"python": platform.python_version(), "machine": platform.machine(),
                       "cpus": os.cpu_count(), "rows": rows}, handle, indent=2)
        print(f"\nwrote {os.path.relpath(out)}", file=sys.stderr)


if __name__ == "__main__":
    main()
