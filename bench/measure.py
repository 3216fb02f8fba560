"""How the benchmarks time things: processes (wall clock, peak memory) and calls.

A process is timed from spawn to exit, and its CPU time (user + system) and
peak resident memory read from the kernel's accounting of that one child
(`os.wait4`), so nothing in the measured program has to cooperate. A call is timed in-process with
`time.perf_counter`, after a warm-up call, with the cyclic GC left as the
caller has it.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable


class MeasureError(RuntimeError):
    """A measured command failed: its exit status and the end of its output."""


@dataclass
class Run:
    seconds: float
    peak_mib: float
    stdout: str
    cpu_s: float = 0.0  # user + system: steadier than wall time on a shared machine


def run_process(argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None,
                ok: tuple[int, ...] = (0,)) -> Run:
    """Run `argv` to completion; wall time and peak RSS of that child alone.

    Linux keeps a process's peak RSS across fork and exec, so a child forked
    from this (large) process would report at least our size. The command is
    therefore started by a small launcher (this file, run as a script) that
    forks it from a fresh interpreter, times it and reads its rusage.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        launcher = [sys.executable, "-S", os.path.abspath(__file__), report.name, *argv]
        done = subprocess.run(launcher, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        measured = json.loads(report.read() or "{}")
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        code = measured.get("returncode", done.returncode)
        if code not in ok:
            tail = (stdout + err.read().decode(errors="replace"))[-2000:]
            raise MeasureError(f"{' '.join(argv)} exited {code}:\n{tail}")
    return Run(measured["seconds"], measured["maxrss_kib"] / 1024, stdout, measured.get("cpu_s", 0.0))


def _launch(report: str, argv: list[str]) -> None:
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    with open(report, "w", encoding="utf-8") as handle:
        json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime,
                   "returncode": os.waitstatus_to_exitcode(status)}, handle)


@dataclass
class Timing:
    median_s: float
    runs_s: list[float]
    peak_mib: float | None = None
    cpu_median_s: float | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"median_s": round(self.median_s, 5), "runs_s": [round(r, 5) for r in self.runs_s]}
        if self.peak_mib is not None:
            data["peak_mib"] = round(self.peak_mib, 1)
        if self.cpu_median_s is not None:
            data["cpu_median_s"] = round(self.cpu_median_s, 5)
        return data


def time_process(argv: list[str], runs: int, cwd: str | None = None, env: dict[str, str] | None = None,
                 warmup: int = 1, ok: tuple[int, ...] = (0,)) -> Timing:
    """Median wall time of `runs` fresh processes after `warmup` untimed ones; the highest peak RSS."""
    for _ in range(warmup):
        run_process(argv, cwd, env, ok)
    done = [run_process(argv, cwd, env, ok) for _ in range(runs)]
    return Timing(statistics.median(r.seconds for r in done), [r.seconds for r in done],
                  max(r.peak_mib for r in done), statistics.median(r.cpu_s for r in done))


def time_call(fn: Callable[[], Any], runs: int, warmup: int = 1) -> Timing:
    """Median wall time of `runs` calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        gc.collect()  # start each run from the same heap, not with the last run's garbage
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), times)


if __name__ == "__main__":
    _launch(sys.argv[1], sys.argv[2:])
