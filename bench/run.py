"""Topoform's speed, against the hand-written Pulumi program a user would write instead.

    python bench/run.py                    # the full run (about 10 minutes on 2 cores)
    python bench/run.py --quick            # sizes 10-1,000, 3 runs: a minute or two

Not part of the test suite. Generates blueprints of 10 to 10,000 components
(bench/generate.py) and measures, for both targets:

1. whole processes (spawn to exit, a warm-up run, then the median of --runs):
   `topoform --help`, `topoform validate`, `topoform plan --json`; and
   in-process (a fresh interpreter per size, a warm-up call, the median):
   validate, compile, Plan → JSON;
2. `synth` against the same resources written as a plain Pulumi program
   (bench/handwritten.py) and tested the way Pulumi documents it
   (`set_mocks` + `@pulumi.runtime.test`), each in fresh pytest processes
   with the SDK modules pre-imported by a conftest so both sides pay the
   same imports outside the timed region; and the same assertions on the
   Plan (no Pulumi);
3. the peak resident memory of every process.

Prints Markdown tables and writes bench/results/bench-<time>.{md,json}
(git-ignored). A size or target that fails (a compiler still being written)
is reported in the table and the run carries on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from generate import generate  # noqa: E402
from handwritten import sdk_call, write_project  # noqa: E402
from measure import MeasureError, Timing, run_process, time_process  # noqa: E402

PY = sys.executable
TARGETS = ("docker", "aws")
SIZES = (10, 100, 1_000, 5_000, 10_000)
SYNTH_RESOURCES = (100, 1_000)

# Goals of issue 7, checked at the end of every run.
GOALS = {
    "validate_5000_s": 0.5, "plan_aws_5000_s": 2.0, "help_s": 0.3, "validate_small_s": 0.3,
    "linear_band": 0.30, "synth_ratio_1000": 0.6, "plan_speedup": 100.0, "plan_10000_peak_mib": 500.0,
}

CONFTEST = '''\
"""Bench timing: pre-import what both sides import, time from collection to the end."""
import importlib
import json
import os
import time

import pulumi  # noqa: F401
{preload}

_START = []


def pytest_collection(session):
    _START.append(time.perf_counter())


def pytest_sessionfinish(session, exitstatus):
    with open(os.environ["BENCH_TIMING"], "w") as handle:
        json.dump({{"seconds": time.perf_counter() - _START[0], "status": int(exitstatus)}}, handle)
'''

SYNTH_TEST = '''\
"""The benchmark's test, written against topoform.testing.synth."""
import json
import os

from topoform.testing import synth

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "expected.json")) as handle:
    EXPECTED = {{name: plain for name, (_, plain) in json.load(handle).items()}}


def test_inputs():
    stack = synth(os.path.join(HERE, "blueprint.yaml"), target={target!r})
    for name, plain in EXPECTED.items():
        inputs = stack.named(name).inputs
        for key, want in plain.items():
            assert inputs[key] == want, f"{{name}}.{{key}}: expected {{want!r}}, got {{inputs.get(key)!r}}"
'''


def topoform_argv() -> list[str]:
    script = shutil.which("topoform")
    return [script] if script else [PY, "-m", "topoform.cli.main"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ 1. the CLI and the front end

def cli_and_frontend(sizes: list[int], targets: list[str], runs: int, tmp: str) -> dict[str, Any]:
    out: dict[str, Any] = {"help": time_process(topoform_argv() + ["--help"], runs).as_json(), "sizes": {}}
    log(f"--help: {out['help']['median_s'] * 1000:.0f} ms")
    for size in sizes:
        path = os.path.join(tmp, f"bp-{size}.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(generate(size))
        row: dict[str, Any] = {}
        heavy = size >= 5_000
        process_runs = max(3, runs - 2) if heavy else runs
        row["validate_process"] = _process(topoform_argv() + ["validate", path], process_runs)
        for target in targets:
            row[f"plan_{target}_process"] = _process(
                topoform_argv() + ["plan", "--json", "--target", target, path], process_runs)
        try:
            worker = run_process([PY, os.path.join(HERE, "inprocess.py"), "frontend", path, ",".join(targets),
                                  str(runs)])
            row["inprocess"] = json.loads(worker.stdout)
            row["inprocess_peak_mib"] = round(worker.peak_mib, 1)
        except MeasureError as exc:
            row["inprocess"] = {"error": str(exc)[-300:]}
        out["sizes"][size] = row
        log(f"{size:>6} components: validate {_fmt(row['validate_process'])}, "
            + ", ".join(f"plan {t} {_fmt(row[f'plan_{t}_process'])}" for t in targets))
    return out


def _process(argv: list[str], runs: int) -> dict[str, Any]:
    try:
        return time_process(argv, runs).as_json()
    except MeasureError as exc:
        return {"error": str(exc)[-400:]}


def _fmt(timing: dict[str, Any]) -> str:
    return "error" if "error" in timing else f"{timing['median_s']:.3f} s"


# ------------------------------------------------------------------ 2. synth vs the hand-written program

def components_for(target: str, resources: int) -> tuple[int, Any]:
    """The smallest generated blueprint whose Plan has at least `resources` resources."""
    from topoform.dsl.validate import validate_text
    from topoform.providers import compile_plan

    def plan_of(components: int):
        return compile_plan(validate_text(generate(components), "bench.yaml").blueprint, target, "test")

    small, larger = plan_of(10), plan_of(20)
    per_cell = max(1, len(larger.resources) - len(small.resources))
    cells = max(1, round((resources - len(small.resources)) / per_cell) + 1)
    plan = plan_of(cells * 10)
    while len(plan.resources) < resources * 0.95 and cells < 10_000:
        cells += 1
        plan = plan_of(cells * 10)
    return cells * 10, plan


def write_case(target: str, components: int, plan: Any, directory: str) -> dict[str, Any]:
    written = write_project(plan, directory)
    with open(os.path.join(directory, "blueprint.yaml"), "w", encoding="utf-8") as handle:
        handle.write(generate(components))
    from handwritten import checked_type
    token, expected = checked_type(plan)
    # expected.json: name → (python variable, plain inputs); the variable is unused by synth.
    with open(os.path.join(directory, "expected.json"), "w", encoding="utf-8") as handle:
        json.dump({name: [name, plain] for name, plain in expected}, handle)
    modules = sorted({sdk_call(r.type)[0].split()[1] + _submodule(r.type) for r in plan.resources})
    preload = "\n".join(f"importlib.import_module({m!r})" for m in modules)
    with open(os.path.join(directory, "conftest.py"), "w", encoding="utf-8") as handle:
        handle.write(CONFTEST.format(preload=preload))
    with open(os.path.join(directory, "test_synth.py"), "w", encoding="utf-8") as handle:
        handle.write(SYNTH_TEST.format(target=target))
    return written


def _submodule(token: str) -> str:
    module = token.split(":")[1].split("/")[0]
    return "" if module == "index" else f".{module}"


def pytest_runs(directory: str, test_file: str, runs: int) -> dict[str, Any]:
    """Fresh `python -m pytest` processes: wall time, in-process time (collection → end), peak RSS."""
    env = dict(os.environ, BENCH_TIMING=os.path.join(directory, f".timing-{test_file}.json"))
    argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", test_file]
    wall, inside, peaks = [], [], []
    for i in range(runs + 1):  # the first run writes .pyc files: a warm-up
        done = run_process(argv, cwd=directory, env=env)
        with open(env["BENCH_TIMING"], encoding="utf-8") as handle:
            timing = json.load(handle)
        if timing["status"] != 0:
            raise MeasureError(f"{test_file} failed:\n{done.stdout[-1500:]}")
        if i:
            wall.append(done.seconds)
            inside.append(timing["seconds"])
            peaks.append(done.peak_mib)
    return {"process": Timing(statistics.median(wall), wall, max(peaks)).as_json(),
            "in_process": Timing(statistics.median(inside), inside).as_json()}


def synth_versus_handwritten(resource_counts: list[int], targets: list[str], runs: int, tmp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in targets:
        for wanted in resource_counts:
            key = f"{target}-{wanted}"
            case: dict[str, Any] = {"target": target, "wanted_resources": wanted}
            out[key] = case
            try:
                components, plan = components_for(target, wanted)
                directory = os.path.join(tmp, key)
                case.update(components=components, resources=len(plan.resources),
                            component_resources=len(plan.components))
                case["program"] = write_case(target, components, plan, directory)
                # The topoform side also pre-imports its own modules in the conftest.
                with open(os.path.join(directory, "conftest.py"), "a", encoding="utf-8") as handle:
                    handle.write(f"\nimport topoform.testing  # noqa: E402,F401\n"
                                 f"import topoform.providers.{target}.compiler  # noqa: E402,F401\n")
                case["handwritten"] = pytest_runs(directory, "test_infra.py", runs)
                case["synth_pytest"] = pytest_runs(directory, "test_synth.py", runs)
                worker = run_process([PY, os.path.join(HERE, "inprocess.py"), "synth",
                                      os.path.join(directory, "blueprint.yaml"), target, str(runs),
                                      os.path.join(directory, "expected.json")])
                case["inprocess"] = json.loads(worker.stdout)
                case["inprocess_peak_mib"] = round(worker.peak_mib, 1)
                log(f"{key}: {len(plan.resources)} resources; hand-written "
                    f"{case['handwritten']['in_process']['median_s']:.2f} s, synth (fresh process) "
                    f"{case['synth_pytest']['in_process']['median_s']:.2f} s, synth (warm) "
                    f"{case['inprocess']['synth']['median_s']:.2f} s")
            except Exception as exc:  # report the failure of one case, carry on with the others
                case["error"] = f"{type(exc).__name__}: {str(exc)[-600:]}"
                log(f"{key}: {case['error']}")
    return out


# ------------------------------------------------------------------ the report

def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def median(data: dict[str, Any] | None) -> float | None:
    return None if not data or "error" in data else data["median_s"]


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = results["machine"]
    lines.append(f"Python {meta['python']}, {meta['cpus']} CPUs, {meta['machine']}; median of "
                 f"{results['runs']} runs after a warm-up; {meta['date']}.\n")
    cli = results.get("cli")
    if cli:
        targets = results["targets"]
        lines.append(f"**Command line** (whole processes; `topoform --help`: {ms(median(cli['help']))}, "
                     f"peak {cli['help'].get('peak_mib', 0):.0f} MiB)\n")
        head = "| components | `validate` | " + " | ".join(f"`plan --json --target {t}`" for t in targets)
        head += " | peak MiB (validate / " + " / ".join(f"plan {t}" for t in targets) + ") |"
        lines += [head, "|---:|---:|" + "---:|" * len(targets) + "---:|"]
        for size, row in cli["sizes"].items():
            cells = [ms(median(row["validate_process"]))] + [ms(median(row[f"plan_{t}_process"])) for t in targets]
            peaks = [row["validate_process"].get("peak_mib")] + [row[f"plan_{t}_process"].get("peak_mib") for t in targets]
            lines.append(f"| {int(size):,} | " + " | ".join(cells) + " | "
                         + " / ".join("–" if p is None else f"{p:.0f}" for p in peaks) + " |")
        lines.append("")
        lines.append("**In-process** (one interpreter per size; µs per component in brackets)\n")
        head = "| components | validate | " + " | ".join(f"compile {t} (resources)" for t in targets)
        head += " | " + " | ".join(f"Plan→JSON {t}" for t in targets) + " |"
        lines += [head, "|---:|---:|" + "---:|" * (2 * len(targets))]
        for size, row in cli["sizes"].items():
            inproc = row["inprocess"]
            if "error" in inproc:
                lines.append(f"| {int(size):,} | error: {inproc['error'][:80]} |")
                continue
            n = int(size)
            cells = [f"{ms(median(inproc['validate']))} ({median(inproc['validate']) / n * 1e6:.0f})"]
            for t in targets:
                item = inproc[t]
                cells.append("error" if "error" in item else
                             f"{ms(median(item['compile']))} ({median(item['compile']) / n * 1e6:.0f}; {item['resources']:,})")
            for t in targets:
                item = inproc[t]
                cells.append("–" if "error" in item else ms(median(item["to_json"])))
            lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
        lines.append("")
    synth = results.get("synth")
    if synth:
        lines.append("**Testing: `synth` vs the hand-written program under Pulumi's documented mocks** "
                     "(in-process = pytest collection → end, SDK modules pre-imported on both sides; "
                     "process = `python -m pytest` wall time)\n")
        lines += ["| target | resources | hand-written, documented mocks | `synth`, fresh process | ratio "
                  "| `synth`, warm (n-th call) | same assertions on the Plan (with compile) | Plan assertions only "
                  "| pytest process: hand-written / synth | peak MiB: hand-written / synth |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, case in synth.items():
            if "error" in case:
                lines.append(f"| {case['target']} | ~{case['wanted_resources']:,} | error: "
                             f"{case['error'][:120].replace('|', '/')} |")
                continue
            hand = median(case["handwritten"]["in_process"])
            ours = median(case["synth_pytest"]["in_process"])
            inproc = case["inprocess"]
            lines.append(
                f"| {case['target']} | {case['resources']:,} (+{case['component_resources']} components) "
                f"| {ms(hand)} | {ms(ours)} | **{ours / hand:.2f}×** | {ms(median(inproc['synth']))} "
                f"| {ms(median(inproc['plan_test']))} | {ms(median(inproc['plan_assertions_only']))} "
                f"| {ms(median(case['handwritten']['process']))} / {ms(median(case['synth_pytest']['process']))} "
                f"| {case['handwritten']['process']['peak_mib']:.0f} / {case['synth_pytest']['process']['peak_mib']:.0f} |")
        lines.append("")
    goals = results.get("goals")
    if goals:
        lines += ["**Goals**\n", "| goal | measured | |", "|---|---:|---|"]
        for goal in goals:
            lines.append(f"| {goal['goal']} | {goal['measured']} | {'✅' if goal['ok'] else '❌'} |")
        lines.append("")
    return "\n".join(lines)


def check_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    goals: list[dict[str, Any]] = []

    def add(goal: str, value: float | None, ok: bool, shown: str) -> None:
        if value is not None:
            goals.append({"goal": goal, "value": value, "measured": shown, "ok": ok})

    cli = results.get("cli") or {}
    sizes = {int(k): v for k, v in (cli.get("sizes") or {}).items()}
    if cli:
        help_s = median(cli["help"])
        add("`topoform --help` < 0.3 s", help_s, help_s is not None and help_s < GOALS["help_s"], ms(help_s))
    if 10 in sizes:
        v = median(sizes[10]["validate_process"])
        add("`topoform validate` of a small file < 0.3 s", v, v is not None and v < GOALS["validate_small_s"], ms(v))
    if 5_000 in sizes:
        inproc = sizes[5_000].get("inprocess", {})
        v = median(inproc.get("validate"))
        add("validate of 5,000 components < 0.5 s (in-process)", v, v is not None and v < 0.5, ms(v))
        v = median(sizes[5_000].get("validate_process"))
        add("`topoform validate` of 5,000 components (process, for reference) < 0.5 s", v, v is not None and v < 0.5, ms(v))
        v = median(sizes[5_000].get("plan_aws_process"))
        add("`topoform plan --json --target aws` of 5,000 components < 2 s", v, v is not None and v < 2.0, ms(v))
    if 10_000 in sizes:
        for target in results["targets"]:
            peak = sizes[10_000].get(f"plan_{target}_process", {}).get("peak_mib")
            add(f"peak memory of `plan --target {target}`, 10,000 components < 500 MiB", peak,
                peak is not None and peak < 500, f"{peak:.0f} MiB" if peak else "–")
    for stage in ["validate"] + [f"compile {t}" for t in results["targets"]]:
        per = {}
        for n, row in sizes.items():
            inproc = row.get("inprocess", {})
            item = inproc.get("validate") if stage == "validate" else (inproc.get(stage.split()[1]) or {}).get("compile")
            if n >= 100 and median(item) is not None:
                per[n] = median(item) / n
        if len(per) >= 2:
            mid = sorted(per.values())[len(per) // 2]
            spread = max(abs(v / mid - 1) for v in per.values())
            add(f"{stage}: time per component linear 100 → {max(per):,} (±30% of the median)", spread,
                spread <= GOALS["linear_band"],
                "±{:.0f}% (".format(spread * 100) + ", ".join(f"{v * 1e6:.0f}" for v in per.values()) + " µs)")
    for key, case in (results.get("synth") or {}).items():
        if "error" in case or case["wanted_resources"] != 1_000:
            continue
        hand = median(case["handwritten"]["in_process"])
        ours = median(case["synth_pytest"]["in_process"])
        add(f"{case['target']}: synth / hand-written under documented mocks ≤ 0.6× at ~1,000 resources",
            ours / hand, ours / hand <= GOALS["synth_ratio_1000"], f"{ours / hand:.2f}×")
        plan_s = median(case["inprocess"]["plan_test"])
        warm = median(case["inprocess"]["synth"])
        speedup = min(hand, ours, warm) / plan_s
        add(f"{case['target']}: Plan-level assertions (with compile) ≥ 100× faster than either", speedup,
            speedup >= GOALS["plan_speedup"], f"{speedup:.0f}×")
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="component counts, comma-separated (default 10,100,1000,5000,10000)")
    parser.add_argument("--synth-resources", help="resource counts for synth vs hand-written (default 100,1000)")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="sizes up to 1,000, 3 runs")
    parser.add_argument("--skip", default="", help="comma-separated: cli, synth")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [10, 100, 1_000] if args.quick else list(SIZES))
    counts = [int(s) for s in args.synth_resources.split(",")] if args.synth_resources else list(SYNTH_RESOURCES)
    runs = 3 if args.quick and args.runs == 5 else args.runs
    targets = args.targets.split(",")
    skip = set(filter(None, args.skip.split(",")))

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
        "runs": runs, "targets": targets,
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="topoform-bench-") as tmp:
        if "cli" not in skip:
            results["cli"] = cli_and_frontend(sizes, targets, runs, tmp)
        if "synth" not in skip:
            results["synth"] = synth_versus_handwritten(counts, targets, runs, tmp)
    results["goals"] = check_goals(results)
    results["bench_seconds"] = round(time.perf_counter() - started, 1)
    text = markdown(results)
    print(text)
    if not args.no_save:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        base = os.path.join(HERE, "results", f"bench-{stamp}")
        with open(base + ".json", "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
        with open(base + ".md", "w", encoding="utf-8") as handle:
            handle.write(text)
        log(f"wrote {os.path.relpath(base)}.json and .md ({results['bench_seconds']} s)")


if __name__ == "__main__":
    main()
