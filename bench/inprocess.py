"""In-process measurements, run by `run.py` in a fresh interpreter per case.

    python bench/inprocess.py frontend BLUEPRINT TARGETS RUNS
    python bench/inprocess.py synth    BLUEPRINT TARGET  RUNS EXPECTED.json

Each prints one JSON object. A fresh interpreter per case keeps one case's
heap, caches and imports from flattering or penalising the next, and lets the
parent read this process's peak memory.
"""

from __future__ import annotations

import gc
import io
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from measure import time_call  # noqa: E402


def check_plan(plan, expected: dict) -> int:
    """The Plan-level form of the benchmark's test: no Pulumi, plain data."""
    checked = 0
    for name, plain in expected.items():
        properties = plan.get(name).properties
        for key, want in plain.items():
            assert properties[key] == want, f"{name}.{key}: expected {want!r}, got {properties[key]!r}"
            checked += 1
    return checked


def check_synth(stack, expected: dict) -> int:
    """The same test against `synth`'s record of what the program registered."""
    checked = 0
    for name, plain in expected.items():
        inputs = stack.named(name).inputs
        for key, want in plain.items():
            assert inputs[key] == want, f"{name}.{key}: expected {want!r}, got {inputs.get(key)!r}"
            checked += 1
    return checked


def frontend(path: str, targets: str, runs: int) -> dict:
    from topoform.cli.plan_text import write_plan_text
    from topoform.dsl.validate import validate_text
    from topoform.providers import compile_plan

    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    base = os.path.dirname(os.path.abspath(path))
    result = {"validate": time_call(lambda: validate_text(text, path, base), runs).as_json()}
    validated = validate_text(text, path, base)
    if not validated.ok:
        raise SystemExit("invalid blueprint: " + "; ".join(d.render() for d in validated.diagnostics[:3]))
    for target in targets.split(","):
        try:
            plan = compile_plan(validated.blueprint, target, "bench")
            timing = time_call(lambda: compile_plan(validated.blueprint, target, "bench"), runs)
            to_json = time_call(plan.to_json, runs)
            to_text = time_call(lambda: write_plan_text(plan, io.StringIO(), width=100, color=False), runs)
            result[target] = {"compile": timing.as_json(), "to_json": to_json.as_json(),
                              "to_text": to_text.as_json(),
                              "resources": len(plan.resources), "components": len(plan.components)}
        except Exception as exc:  # a compiler still being written: report, carry on
            result[target] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    return result


def synth_case(path: str, target: str, runs: int, expected_path: str) -> dict:
    from topoform.dsl.validate import load_blueprint
    from topoform.providers import compile_plan
    from topoform.testing import synth, synth_plan

    with open(expected_path, encoding="utf-8") as handle:
        expected = {name: plain for name, (_, plain) in json.load(handle).items()}
    bp = load_blueprint(path)
    plan = compile_plan(bp, target, "test")
    first = time.perf_counter()
    stack = synth(path, target=target)
    first = time.perf_counter() - first
    checked = check_synth(stack, expected)
    return {
        "resources": len(plan.resources), "components": len(plan.components), "checked": checked,
        "first_synth_s": round(first, 4),
        # What a test suite pays per synth once warm: file → validate → compile → mocks → assertions.
        "synth": time_call(lambda: check_synth(synth(path, target=target), expected), runs, warmup=0).as_json(),
        "synth_plan": time_call(lambda: synth_plan(plan), runs, warmup=0).as_json(),
        # The same assertions on the Plan: with the compile, and on a Plan compiled once (a fixture).
        "plan_test": time_call(lambda: check_plan(compile_plan(bp, target, "test"), expected), runs).as_json(),
        "plan_test_from_file": time_call(
            lambda: check_plan(compile_plan(load_blueprint(path), target, "test"), expected), runs).as_json(),
        "plan_assertions_only": time_call(lambda: check_plan(plan, expected), runs).as_json(),
    }


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "frontend":
        # As `topoform validate` and `plan` run (cli/main.py OFFLINE): without the cyclic
        # collector. With it, the collection of one timed call's garbage lands in the next
        # call's window, and grows with everything kept alive (a 10,000-component AWS
        # compile: 1.55 s instead of 1.28 s).
        gc.disable()
        out = frontend(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif kind == "synth":
        out = synth_case(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown case {kind!r}")
    print(json.dumps(out))
