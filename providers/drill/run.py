"""The drill sequence: baseline, fault, wait, restore, recover — restoring on every way out.

What a drill stopped is started again in a `finally`, with Ctrl-C ignored
while it does so, and SIGTERM/SIGHUP turned into the same interruption as
Ctrl-C, so an interrupted or killed-politely drill leaves the stack as it
found it. Only containers found by the stack's labels are ever stopped, and
each is inspected again, labels checked, right before.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .engine import ContainerAPI
from .measure import Measured, measure, through
from .probe import Entry, Load
from .scenarios import Scenario
from .stack import Copy, DrillError

EXIT_HELD, EXIT_INVALID, EXIT_MISSED = 0, 2, 3
OBSERVED = 0.5  # a stopped single copy failing at least this much of the load through it: the load depends on it


@dataclass
class Objective:
    name: str
    held: bool
    detail: str


@dataclass
class Result:
    scenario: Scenario
    measured: Measured
    fault_at: float  # s since the drill began
    restored_at: float
    recovered: bool
    objectives: list[Objective]
    matches_prediction: bool | None  # None: the drill could not tell
    failover: object = None  # failover.Failover of a site drill
    data: dict | None = None  # marker rows of a database drill: lag at the fault, writes lost and failed
    observable: bool = True  # the load saw this component's fault (False: a data component its callers never used)
    measured_all: Measured | None = None
    baseline: float = 0.0  # failed fraction of the same load in the seconds before the stop (a loaded machine's own)  # the same figures over every entry's load (`measured`: the load through it)

    @property
    def held(self) -> bool:
        return all(o.held for o in self.objectives)


@dataclass
class Settings:
    duration: float = 30.0  # s each fault lasts
    recovery_timeout: float = 120.0  # s after the restore for requests and health checks to come back
    settle_timeout: float = 180.0  # s for the stack to be healthy before a drill
    interval: float = 0.1  # s between probe requests per entry
    poll: float = 1.0  # s between looks at the engine while waiting for health
    write_interval: float = 1.0  # s between marker rows written to a database drilled
    slack: float = 2.0
    baseline: float = 5.0  # s of load before a stop whose failures are the machine's, not the fault's  # s beyond a health-check window: one check's timeout and the probe's own timing


@dataclass
class Drill:
    api: ContainerAPI
    labels: dict[str, str]  # the stack's labels: nothing else is touched
    stack: dict[str, list[Copy]]
    entries: list[Entry]
    settings: Settings = field(default_factory=Settings)
    log: Callable[[str], None] = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    load_factory: Callable[..., Load] = Load

    # ---- state of the stack

    def _unsettled(self, copies: list[Copy]) -> list[str]:
        bad = []
        for copy in copies:
            info = self.api.inspect(copy.container.id)
            if info.status != "running" or info.health not in (None, "healthy"):
                bad.append(f"{copy.resource} {info.status}{'/' + info.health if info.health else ''}")
        return bad

    def _every_copy(self) -> list[Copy]:
        return [c for copies in self.stack.values() for c in copies]

    def wait_settled(self, load: Load, timeout: float, since: float | None = None) -> list[str]:
        """Wait until every container is running and healthy and each entry answered; what is not, at the end."""
        deadline = self.clock() + timeout
        while True:
            bad = self._unsettled(self._every_copy())
            if not bad:
                recent = load.since(self.clock() - 2.0 if since is None else since)
                answered = {s.entry for s in recent if s.ok}
                bad = [f"{e.name} does not answer" for e in self.entries if e.ref not in answered]
            if not bad or self.clock() > deadline:
                return bad
            self.sleep(self.settings.poll)

    # ---- one fault

    def _stop(self, copy: Copy, stopped: list[Copy]) -> None:
        info = self.api.inspect(copy.container.id)
        if any(info.labels.get(k) != v for k, v in self.labels.items()):
            raise DrillError(f"{info.name} does not carry this stack's labels {self.labels}: not touched", 1)
        if info.status != "running":
            self.log(f"{copy.resource} is already {info.status}: left alone, and left as it was")
            return
        self.log(f"stop {copy.resource} ({info.name})")
        stopped.append(copy)  # before the call: a stop interrupted half-way is still started again
        self.api.stop(copy.container.id, copy.stop_timeout)

    def _stop_all(self, copies: list[Copy], stopped: list[Copy]) -> None:
        """Stop several at once (a site is dozens of containers); every stop has returned when this does,
        also on Ctrl-C, so the restore that follows cannot race a stop still under way."""
        pool = ThreadPoolExecutor(8)
        try:
            for future in [pool.submit(self._stop, copy, stopped) for copy in copies]:
                future.result()
        finally:
            with _sigint_ignored():
                pool.shutdown(wait=True, cancel_futures=True)

    def restore(self, stopped: list[Copy]) -> list[str]:
        """Start what this drill stopped; Ctrl-C cannot cut this short. Returns what failed to start."""
        failed = []
        with _sigint_ignored():
            for copy in stopped:
                try:
                    self.log(f"start {copy.resource}")
                    self.api.start(copy.container.id)
                except Exception as error:  # keep starting the others
                    failed.append(f"{copy.resource}: {error}")
            stopped.clear()
        return failed

    def one(self, load: Load, scenario: Scenario, began: float) -> Result:
        if scenario.site is not None:
            return self.site(load, scenario, began)
        stopped: list[Copy] = []
        writer, data = self._writer(scenario.data), {}
        try:
            if writer is not None:
                writer.wait_first()  # markers flowing, so the lag at the fault is a measurement
                data["lag_at_fault"] = writer.lag()
            stopping = self.clock()
            for copy in scenario.copies:
                self._stop(copy, stopped)
            # The fault begins when the last container is down: a graceful stop still answers
            # while it drains, which is the stop's grace, not the component's redundancy.
            fault = self.clock()
            if writer is not None:
                attempted, before = writer.attempts, writer.failures
            if writer is not None:  # acknowledged by the primary, missing on a copy still running
                # As long as the site drill's patience: a loaded engine can take seconds per exec.
                data["writes_lost_seconds"] = writer.lag(patience=30.0)
                if writer.unreadable:
                    data["unreadable"] = dict(writer.unreadable)
            self.sleep(self.settings.duration)
        finally:
            if writer is not None:
                writer.stop()
            restored = self.clock()
            failed = self.restore(stopped)
        if failed:
            raise DrillError("could not start again: " + "; ".join(failed), 1)
        left = self.wait_settled(load, self.settings.recovery_timeout, since=restored)
        samples = load.since(fault)
        measured = measure(through(samples, scenario.through), fault, restored)
        prior = [s for s in through(load.since(stopping - self.settings.baseline), scenario.through)
                  if s.sent < stopping]
        baseline = sum(not s.ok for s in prior) / len(prior) if prior else 0.0
        result = self._judge(scenario, measured, fault - began, restored - began, left, baseline)
        result.measured_all = measure(samples, fault, restored)
        if writer is not None:
            data["writes_failed_during_fault"] = writer.failures - before
            data["writes_during_fault"] = writer.attempts - attempted
            data["write_outage_fraction"] = (round(data["writes_failed_during_fault"] / data["writes_during_fault"], 3)
                                             if data["writes_during_fault"] else None)
            result.data = data
        if not result.observable:
            result.matches_prediction = judge_data(scenario, data if writer is not None else None)
        return result

    def _writer(self, pairs) -> "Writer | None":
        from .failover import Writer

        if not pairs:
            return None
        writer = Writer(self.api, list(pairs), interval=self.settings.write_interval)
        writer.prepare()
        if writer.errors:
            raise DrillError("cannot write the marker rows: " + "; ".join(writer.errors), 1)
        writer.start()
        return writer

    def site(self, load: Load, scenario: Scenario, began: float) -> Result:
        from .failover import answers_primary, watch

        site = scenario.site
        deadline = self.clock() + self.settings.settle_timeout
        while (wrong := answers_primary(site)) and self.clock() < deadline:
            self.sleep(self.settings.poll)  # a failover measured from a DNS already failed over means nothing
        if wrong:
            raise DrillError("DNS does not answer the primary site before the drill, so failover cannot be "
                             "timed: " + "; ".join(wrong), 1)
        writer = self._writer(site.databases)
        stopped: list[Copy] = []
        unwatch = threading.Event()
        try:
            if writer is not None:
                writer.wait_first()  # markers flowing, so the lag at the fault is a measurement
            lag = writer.lag() if writer is not None else {}
            first = [c for c in scenario.copies if c.resource in scenario.first]
            rest = [c for c in scenario.copies if c.resource not in scenario.first]
            for copy in first:
                self._stop(copy, stopped)
            fault = self.clock()  # the site's entry points are down: the outage begins
            cap = max(self.settings.duration, (site.rto or site.predicted_rto * 2) + 30)
            # Watched from the fault on, while the rest of the site stops (that takes a while); a daemon
            # thread told to stop on the way out, so an interrupt never waits for it before restoring.
            watched: list = []
            watcher = threading.Thread(target=lambda: watched.append(
                watch(site, fault, fault + cap, self.clock, time.sleep, unwatch)), daemon=True)
            watcher.start()
            self._stop_all(rest, stopped)
            if writer is not None:
                writer.stop()
            watcher.join()
            failover = watched[0]
            failover.lag_at_fault = lag
            # The DR copies still run: their newest marker, against the last one written.
            failover.data_lost = writer.lag(patience=30.0) if writer is not None else {}
            self.sleep(max(0.0, fault + self.settings.duration - self.clock()))
        finally:
            unwatch.set()
            if writer is not None:
                writer.stop()
            restored = self.clock()
            failed = self.restore(sorted(stopped, key=scenario.copies.index))
        if failed:
            raise DrillError("could not start again: " + "; ".join(failed), 1)
        left = self.wait_settled(load, self.settings.recovery_timeout, since=restored)
        measured = measure(load.since(fault), fault, restored)
        result = self._judge(scenario, measured, fault - began, restored - began, left)
        result.failover = failover
        result.objectives += site_objectives(site, failover)
        return result

    def _judge(self, scenario: Scenario, measured: Measured, fault_at: float, restored_at: float,
               left: list[str], baseline: float = 0.0) -> Result:
        objectives = [Objective("recovers after the restore", not left,
                                "every container healthy and every entry answering" if not left
                                else f"not within {self.settings.recovery_timeout:g}s: " + "; ".join(left))]
        late = (measured.last_failure_after_fault is not None
                and measured.last_failure_after_fault > scenario.window + self.settings.slack)
        if scenario.on_path and not scenario.expect_down:
            objectives.append(Objective(
                "keeps serving with a copy down", not late and measured.outage_fraction < 1.0,
                f"failures allowed only in the first {scenario.window:g}s ({scenario.window_basis}) + {self.settings.slack:g}s"))
        if scenario.expect_down:
            matches = measured.outage_fraction >= 0.9
        elif scenario.on_path:
            matches = not late
        else:
            matches = measured.failed_during_fault == 0
        result = Result(scenario, measured, round(fault_at, 2), round(restored_at, 2), not left, objectives, matches,
                        baseline=round(baseline, 3))
        if scenario.site is None:
            result.observable = observable(scenario, measured, baseline, late)
        return result

    # ---- the whole run

    def run(self, scenarios: list[Scenario]) -> list[Result]:
        load = self.load_factory(self.entries, interval=self.settings.interval)
        results: list[Result] = []
        began = self.clock()
        with _interrupts_as_keyboard():
            load.start()
            try:
                self.log("waiting for the stack to be healthy")
                bad = self.wait_settled(load, self.settings.settle_timeout)
                if bad:
                    raise DrillError("the stack is not healthy before the drill, so a drill would measure nothing: "
                                     + "; ".join(bad), 1)
                for i, scenario in enumerate(scenarios):
                    if i:
                        self.log("waiting for the stack to settle before the next drill")
                        bad = self.wait_settled(load, self.settings.settle_timeout)
                        if bad:
                            raise DrillError(f"the stack did not settle after drilling {scenarios[i - 1].ref}: "
                                             + "; ".join(bad), 1)
                    self.log(f"drill {scenario.title}: {scenario.prediction}")
                    results.append(self.one(load, scenario, began))
            finally:
                load.stop()
        return results


def observable(scenario: Scenario, measured: Measured, baseline: float, late: bool) -> bool:
    """Whether the load saw the fault. A data component is seen only through callers that use it: a single
    copy stopped without most of its load failing beyond what failed before the stop, or a redundant one
    without late failures, says nothing of it. Every other component is on the load's own path."""
    if not (scenario.on_path and scenario.data_tier):
        return True
    if scenario.expect_down:
        return measured.outage_fraction >= 0.9 or measured.outage_fraction - baseline >= OBSERVED
    return late


def judge_data(scenario: Scenario, data: dict | None) -> bool | None:
    """Whether a data component the load could not see behaved as predicted, by its marker rows (postgres):
    a single copy's writes fail while it is down; with copies, each copy still running answers a read.
    None when there is no marker probe (caches, queues, other engines): the drill cannot tell."""
    if not data or data.get("write_outage_fraction") is None:
        return None
    if scenario.expect_down:
        return data["write_outage_fraction"] >= 0.9
    stopped = {c.resource for c in scenario.copies}
    read = [v for copy, v in data.get("writes_lost_seconds", {}).items() if copy not in stopped]
    primary_up = not any(p.resource in stopped for p, _, _, _ in scenario.data)
    return bool(read) and all(v is not None for v in read) and (not primary_up or data["write_outage_fraction"] == 0)


def failover_seconds(site, failover) -> float | None:
    """When a client is served by the DR site: DNS moved (plus a cached answer's TTL) and DR serves."""
    if failover.dns_seconds is None or (site.dr_endpoints and failover.dr_serves_seconds is None):
        return None
    return round(max(failover.dns_seconds + site.ttl, failover.dr_serves_seconds or 0.0), 2)


def site_objectives(site, failover) -> list[Objective]:
    objectives = []
    seconds = failover_seconds(site, failover)
    if site.rto is not None:
        objectives.append(Objective(
            "rto", seconds is not None and seconds <= site.rto,
            f"declared {site.rto:g} s, predicted {site.predicted_rto:g} s, measured "
            + ("never" if seconds is None else f"{seconds:g} s (DNS {failover.dns_seconds:g} s + TTL {site.ttl:g} s)")))
    if site.rpo is not None and site.databases:
        lost = list(failover.data_lost.values())
        worst = None if any(v is None for v in lost) else max(lost, default=0.0)
        objectives.append(Objective(
            "rpo", worst is not None and worst <= site.rpo,
            f"declared {site.rpo:g} s, predicted {site.predicted_rpo:g} s, measured "
            + ("a DR copy unreadable" if worst is None else f"{worst:g} s of writes lost")))
    return objectives


def exit_code(results: list[Result]) -> int:
    return EXIT_HELD if all(r.held for r in results) else EXIT_MISSED


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def _interrupts_as_keyboard() -> Iterator[None]:
    """SIGTERM and SIGHUP interrupt a drill as Ctrl-C does, so its `finally` restores the stack."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
