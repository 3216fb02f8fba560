"""Topoform's speed, against the hand-written Pulumi program a user would write instead.

    python bench/run.py                    # the full run (tens of minutes on 2 cores)
    python bench/run.py --quick            # sizes 10-1,000, synth 100 and 500 components, 3 runs

Not part of the test suite. Generates blueprints of 10 to 10,000 components
(bench/generate.py) and measures, for both targets:

1. the headline, whole processes (spawn to exit, a warm-up run, then the
   median of --runs), what a user waits for: `topoform --help`,
   `topoform validate`, `topoform plan --json` and `topoform plan` (the
   default human output, here into a pipe); then, as a breakdown,
   in-process (a fresh interpreter per size, a warm-up call, the median):
   validate, compile, Plan → JSON, Plan → text;
2. `synth` against the same resources written as a plain Pulumi program
   (bench/handwritten.py), for blueprints of 100, 500 and 2,000 components,
   tested the way Pulumi documents it (`set_mocks` + `@pulumi.runtime.test`):
   fresh `python -m pytest` processes (the headline), and inside them
   collection → end, the Pulumi SDK modules pre-imported by a conftest on
   both sides, Topoform's own import inside the timed window (the
   hand-written side never imports Topoform: checked on every run); the
   floor both sides pay (the same pytest process and SDK imports, an empty
   test), so the ratio is also shown for what lies above it; and the same
   assertions on the Plan (no Pulumi);
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
SYNTH_COMPONENTS = (100, 500, 2_000)
QUICK_SIZES, QUICK_SYNTH = (10, 100, 1_000), (100, 500)

# Goals of the speed issues, checked at the end of every run.
GOALS = {
    "validate_5000_s": 0.5, "plan_5000_s": 2.0, "help_s": 0.3, "validate_small_s": 0.3,
    "linear_band": 0.30, "synth_ratio": 0.6, "synth_ratio_components": 500, "plan_speedup": 100.0,
    "plan_10000_peak_mib": 300.0,
}

CONFTEST = '''\
"""Bench timing: pre-import what both sides import, time from collection to the end."""
import importlib
import json
import os
import sys
import time

import pulumi  # noqa: F401


def preload(name):
    # pulumi_aws registers its packages as lazy modules, run on the first access to a name
    # that is not module metadata (any such name: it need not exist). import_module alone
    # would leave the loading to the test, inside the timed window.
    hasattr(importlib.import_module(name), "_bench_preload")


{preload}

_START = []


def pytest_collection(session):
    _START.append(time.perf_counter())


def pytest_sessionfinish(session, exitstatus):
    # Which Topoform modules the process imported: none on the hand-written side.
    ours = sorted(m for m in sys.modules if m == "topoform" or m.startswith("topoform."))
    with open(os.environ["BENCH_TIMING"], "w") as handle:
        json.dump({{"seconds": time.perf_counter() - _START[0], "status": int(exitstatus),
                   "topoform_modules": ours}}, handle)
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

# What neither side can go below: pytest starting, the conftest importing the same SDK
# modules, and one empty test. Both processes pay it in full.
FLOOR_TEST = '''\
"""The benchmark's floor: the same pytest process and SDK imports, no program."""


def test_nothing():
    """Nothing to run: what this process spends is the floor."""
'''


def topoform_argv() -> list[str]:
    """The console script of the interpreter running the bench (its virtualenv's): the first
    `topoform` on PATH may be another installation's."""
    script = os.path.join(os.path.dirname(PY), "topoform")
    return [script] if os.path.exists(script) else [PY, "-m", "topoform.cli.main"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compile_bytecode() -> list[str]:
    """Write the bytecode of Topoform's modules, as `pip install` does for a wheel.

    An editable install runs the work tree's sources; with PYTHONDONTWRITEBYTECODE
    set (CI and these machines set it) no process ever writes their `.pyc`, and
    every process compiles every module it imports again: 14 modules (~25 ms
    CPU) for `validate`, 26-34 (~55 ms) for `plan`. A user's installed copy
    never pays that, so the bench does not either. `py_compile` writes
    regardless of the variable; a stale `.pyc` is ignored by its source's mtime.
    """
    import compileall
    import importlib.util

    done = []
    for package in ("topoform", "topoform.dsl", "topoform.providers", "topoform.cli"):
        spec = importlib.util.find_spec(package)
        for directory in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(directory, quiet=1)
            done.append(directory)
    return done


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
            # The default, human output (into a pipe, as the launcher captures it).
            row[f"plan_text_{target}_process"] = _process(
                topoform_argv() + ["plan", "--target", target, path], process_runs)
        try:
            worker = run_process([PY, os.path.join(HERE, "inprocess.py"), "frontend", path, ",".join(targets),
                                  str(runs)])
            row["inprocess"] = json.loads(worker.stdout)
            row["inprocess_peak_mib"] = round(worker.peak_mib, 1)
        except MeasureError as exc:
            row["inprocess"] = {"error": str(exc)[-300:]}
        out["sizes"][size] = row
        log(f"{size:>6} components: validate {_fmt(row['validate_process'])}, "
            + ", ".join(f"plan --json {t} {_fmt(row[f'plan_{t}_process'])}, "
                        f"plan {t} {_fmt(row[f'plan_text_{t}_process'])}" for t in targets))
    return out


def _process(argv: list[str], runs: int) -> dict[str, Any]:
    try:
        return time_process(argv, runs).as_json()
    except MeasureError as exc:
        return {"error": str(exc)[-400:]}


def _fmt(timing: dict[str, Any]) -> str:
    return "error" if "error" in timing else f"{timing['median_s']:.3f} s"


# ------------------------------------------------------------------ 2. synth vs the hand-written program

def plan_for(target: str, components: int) -> Any:
    """The Plan of the generated blueprint of `components` components."""
    from topoform.dsl.validate import validate_text
    from topoform.providers import compile_plan

    return compile_plan(validate_text(generate(components), "bench.yaml").blueprint, target, "test")


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
    preload = "\n".join(f"preload({m!r})" for m in modules)
    with open(os.path.join(directory, "conftest.py"), "w", encoding="utf-8") as handle:
        handle.write(CONFTEST.format(preload=preload))
    with open(os.path.join(directory, "test_synth.py"), "w", encoding="utf-8") as handle:
        handle.write(SYNTH_TEST.format(target=target))
    with open(os.path.join(directory, "test_floor.py"), "w", encoding="utf-8") as handle:
        handle.write(FLOOR_TEST)
    return written


def _submodule(token: str) -> str:
    module = token.split(":")[1].split("/")[0]
    return "" if module == "index" else f".{module}"


def pytest_runs(directory: str, test_file: str, runs: int) -> dict[str, Any]:
    """Fresh `python -m pytest` processes: wall time, in-process time (collection → end), peak RSS."""
    env = dict(os.environ, BENCH_TIMING=os.path.join(directory, f".timing-{test_file}.json"))
    # `-p no:topoform`: Topoform's pytest plugin stays out of both sides (the
    # synth test imports `topoform.testing` itself, inside the timed window).
    argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:topoform",
            "-W", "ignore::DeprecationWarning", test_file]
    wall, cpu, inside, peaks, imported = [], [], [], [], set()
    for i in range(runs + 1):  # the first run writes .pyc files: a warm-up
        done = run_process(argv, cwd=directory, env=env)
        with open(env["BENCH_TIMING"], encoding="utf-8") as handle:
            timing = json.load(handle)
        if timing["status"] != 0:
            raise MeasureError(f"{test_file} failed:\n{done.stdout[-1500:]}")
        imported.update(timing.get("topoform_modules", []))
        if i:
            wall.append(done.seconds)
            cpu.append(done.cpu_s)
            inside.append(timing["seconds"])
            peaks.append(done.peak_mib)
    return {"process": Timing(statistics.median(wall), wall, max(peaks), statistics.median(cpu)).as_json(),
            "in_process": Timing(statistics.median(inside), inside).as_json(),
            "topoform_modules": len(imported)}


def synth_versus_handwritten(component_counts: list[int], targets: list[str], runs: int, tmp: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in targets:
        for components in component_counts:
            key = f"{target}-{components}"
            case: dict[str, Any] = {"target": target, "components": components}
            out[key] = case
            try:
                plan = plan_for(target, components)
                directory = os.path.join(tmp, key)
                case.update(resources=len(plan.resources), component_resources=len(plan.components))
                case["program"] = write_case(target, components, plan, directory)
                case["handwritten"] = pytest_runs(directory, "test_infra.py", runs)
                if case["handwritten"]["topoform_modules"]:
                    raise MeasureError("the hand-written side imported Topoform: not a fair peer")
                case["synth_pytest"] = pytest_runs(directory, "test_synth.py", runs)
                case["floor"] = pytest_runs(directory, "test_floor.py", runs)
                worker = run_process([PY, os.path.join(HERE, "inprocess.py"), "synth",
                                      os.path.join(directory, "blueprint.yaml"), target, str(runs),
                                      os.path.join(directory, "expected.json")])
                case["inprocess"] = json.loads(worker.stdout)
                case["inprocess_peak_mib"] = round(worker.peak_mib, 1)
                log(f"{key}: {len(plan.resources)} resources; pytest process hand-written "
                    f"{case['handwritten']['process']['median_s']:.2f} s, synth "
                    f"{case['synth_pytest']['process']['median_s']:.2f} s, floor "
                    f"{case['floor']['process']['median_s']:.2f} s; in-process hand-written "
                    f"{case['handwritten']['in_process']['median_s']:.2f} s, synth "
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


def above_floor(case: dict[str, Any]) -> float:
    """synth / hand-written for what each pytest process spends beyond the floor both pay."""
    floor = median(case["floor"]["process"])
    return (median(case["synth_pytest"]["process"]) - floor) / (median(case["handwritten"]["process"]) - floor)


def process_columns(targets: list[str]) -> list[tuple[str, str]]:
    """(heading, row key) of the whole-process measurements, in table order."""
    columns = [("`validate`", "validate_process")]
    for t in targets:
        columns += [(f"`plan --json --target {t}`", f"plan_{t}_process"),
                    (f"`plan --target {t}`", f"plan_text_{t}_process")]
    return columns


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    meta = results["machine"]
    lines.append(f"Python {meta['python']}, {meta['cpus']} CPUs, {meta['machine']}; median of "
                 f"{results['runs']} runs after a warm-up; Topoform's bytecode {results.get('bytecode', '?')}; "
                 f"{meta['date']}.\n")
    cli = results.get("cli")
    if cli:
        targets = results["targets"]
        columns = process_columns(targets)
        lines.append(f"**Command line: whole processes**, spawn to exit (`topoform --help`: "
                     f"{ms(median(cli['help']))}, peak {cli['help'].get('peak_mib', 0):.0f} MiB). "
                     "`plan` is the default human output, into a pipe\n")
        for title, cell in [("wall time (CPU time)", lambda t: ms(median(t)) + (
                                f" ({ms(t['cpu_median_s'])})" if "cpu_median_s" in t else "")),
                            ("peak MiB", lambda t: "–" if "peak_mib" not in t else f"{t['peak_mib']:.0f}")]:
            lines += [f"| components ({title}) | " + " | ".join(h for h, _ in columns) + " |",
                      "|---:|" + "---:|" * len(columns)]
            for size, row in cli["sizes"].items():
                lines.append(f"| {int(size):,} | " + " | ".join(cell(row.get(k, {})) for _, k in columns) + " |")
            lines.append("")
        lines.append("**Breakdown, in-process** (one interpreter per size; µs per component in brackets; "
                     "Plan → text is `write_plan_text` into memory at 100 columns)\n")
        head = "| components | validate | " + " | ".join(f"compile {t} (resources)" for t in targets)
        head += " | " + " | ".join(f"Plan→JSON {t}" for t in targets)
        head += " | " + " | ".join(f"Plan→text {t}" for t in targets) + " |"
        lines += [head, "|---:|---:|" + "---:|" * (3 * len(targets))]
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
            for stage in ("to_json", "to_text"):
                cells += ["–" if "error" in inproc[t] else ms(median(inproc[t].get(stage))) for t in targets]
            lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
        lines.append("")
    synth = results.get("synth")
    if synth:
        lines.append("**Testing: `synth` vs the hand-written program under Pulumi's documented mocks.** "
                     "Headline: `python -m pytest` processes, spawn to exit. Breakdown: in-process = pytest "
                     "collection → end, the Pulumi SDK modules pre-imported on both sides, Topoform's import "
                     "inside the window; the hand-written side imports no Topoform module. Floor: the same "
                     "pytest process with the same SDK imports and an empty test, which both sides pay in "
                     "full; above the floor = (`synth` − floor) / (hand-written − floor)\n")
        lines += ["| target | components (resources) | pytest process: hand-written | pytest process: `synth` "
                  "| ratio | floor | ratio above the floor "
                  "| in-process: hand-written / `synth` | ratio | `synth`, warm (n-th call) "
                  "| same assertions on the Plan (with compile) | Plan assertions only "
                  "| peak MiB: hand-written / synth |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, case in synth.items():
            if "error" in case:
                lines.append(f"| {case['target']} | {case['components']:,} | error: "
                             f"{case['error'][:120].replace('|', '/')} |")
                continue
            hand, ours = median(case["handwritten"]["process"]), median(case["synth_pytest"]["process"])
            hand_in, ours_in = median(case["handwritten"]["in_process"]), median(case["synth_pytest"]["in_process"])
            inproc = case["inprocess"]
            floor = median(case["floor"]["process"])
            lines.append(
                f"| {case['target']} | {case['components']:,} ({case['resources']:,} + "
                f"{case['component_resources']} components) | {ms(hand)} | {ms(ours)} | **{ours / hand:.2f}×** "
                f"| {ms(floor)} | {above_floor(case):.2f}× "
                f"| {ms(hand_in)} / {ms(ours_in)} | {ours_in / hand_in:.2f}× | {ms(median(inproc['synth']))} "
                f"| {ms(median(inproc['plan_test']))} | {ms(median(inproc['plan_assertions_only']))} "
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

    def below(goal: str, value: float | None, limit: float, shown: str | None = None) -> None:
        add(goal, value, value is not None and value < limit, shown or ms(value))

    cli = results.get("cli") or {}
    sizes = {int(k): v for k, v in (cli.get("sizes") or {}).items()}
    columns = process_columns(results["targets"])
    if cli:
        below("`topoform --help` < 0.3 s", median(cli["help"]), GOALS["help_s"])
    if 10 in sizes:
        below("`topoform validate` of a small file < 0.3 s", median(sizes[10]["validate_process"]),
              GOALS["validate_small_s"])
    if 5_000 in sizes:
        row = sizes[5_000]
        inner = median(row.get("inprocess", {}).get("validate"))
        v = median(row.get("validate_process"))
        below("`topoform validate` of 5,000 components < 0.5 s", v, GOALS["validate_5000_s"],
              f"{ms(v)} (in-process {ms(inner)})")
        for heading, key in columns[1:]:
            below(f"{heading} of 5,000 components < 2 s", median(row.get(key)), GOALS["plan_5000_s"])
    if 10_000 in sizes:
        for heading, key in columns[1:]:
            peak = sizes[10_000].get(key, {}).get("peak_mib")
            below(f"peak memory of {heading}, 10,000 components < 300 MiB", peak, GOALS["plan_10000_peak_mib"],
                  f"{peak:.0f} MiB" if peak else "–")
    for stage in ["validate"] + [f"compile {t}" for t in results["targets"]]:
        per = {}
        for n, row in sizes.items():
            inproc = row.get("inprocess", {})
            item = inproc.get("validate") if stage == "validate" else (inproc.get(stage.split()[1]) or {}).get("compile")
            if n >= 1_000 and median(item) is not None:  # the range; below, start-up costs dominate
                per[n] = median(item) / n
        if len(per) >= 2:
            mid = sorted(per.values())[len(per) // 2]
            spread = max(abs(v / mid - 1) for v in per.values())
            add(f"{stage} (in-process): time per component linear {min(per):,} → {max(per):,} (±30% of the median)",
                spread, spread <= GOALS["linear_band"],
                "±{:.0f}% (".format(spread * 100) + ", ".join(f"{v * 1e6:.0f}" for v in per.values()) + " µs)")
    for key, case in (results.get("synth") or {}).items():
        if "error" in case:
            continue
        hand, ours = median(case["handwritten"]["process"]), median(case["synth_pytest"]["process"])
        hand_in, ours_in = median(case["handwritten"]["in_process"]), median(case["synth_pytest"]["in_process"])
        add(f"{case['target']}: synth / hand-written under documented mocks ≤ 0.6× at "
            f"{case['components']:,} components (pytest processes)", ours / hand,
            ours / hand <= GOALS["synth_ratio"],
            f"{ours / hand:.2f}× (above the floor {above_floor(case):.2f}×, in-process {ours_in / hand_in:.2f}×)")
        if case["components"] != GOALS["synth_ratio_components"]:
            continue
        plan_s = median(case["inprocess"]["plan_test"])
        speedup = min(hand_in, ours_in, median(case["inprocess"]["synth"])) / plan_s
        add(f"{case['target']}: Plan-level assertions (with compile) ≥ 100× faster than either (in-process)",
            speedup, speedup >= GOALS["plan_speedup"], f"{speedup:.0f}×")
    return goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="component counts, comma-separated (default 10,100,1000,5000,10000)")
    parser.add_argument("--synth-components", help="blueprint sizes (components) for synth vs hand-written "
                        "(default 100,500,2000)")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (median)")
    parser.add_argument("--quick", action="store_true", help="sizes up to 1,000, synth 100 and 500, 3 runs")
    parser.add_argument("--skip", default="", help="comma-separated: cli, synth")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="do not compile Topoform's .pyc first (measure an editable install under "
                             "PYTHONDONTWRITEBYTECODE)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(QUICK_SIZES if args.quick else SIZES)
    counts = [int(s) for s in args.synth_components.split(",")] if args.synth_components else list(
        QUICK_SYNTH if args.quick else SYNTH_COMPONENTS)
    runs = 3 if args.quick and args.runs == 5 else args.runs
    targets = args.targets.split(",")
    skip = set(filter(None, args.skip.split(",")))

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
        "runs": runs, "targets": targets,
        "bytecode": "as checked out" if args.no_bytecode else "compiled first",
    }
    if not args.no_bytecode:
        log("compiled the bytecode of " + ", ".join(compile_bytecode()))
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
