"""Drills on AWS: start the stack's FIS experiments, wait them out, read what happened from CloudWatch.

The faults are the experiment templates `drills:` added to the Plan
(providers/aws/drills.py); their ids, and the metric dimensions read here,
are stack outputs (`drills.*`). A drill starts one experiment
(StartExperiment), polls it (GetExperiment) until FIS says it is done, stops
it on Ctrl-C or SIGTERM (StopExperiment: FIS then rolls back what it
changed), waits for CloudWatch to have the minutes it needs, and reads them
(GetMetricData):

- requests and 5xx answers per minute at every application balancer of the
  primary site (RequestCount, HTTPCode_ELB_5XX_Count, HTTPCode_Target_5XX_Count):
  the outage, its length and the recovery, at a minute's resolution;
- for the site drill, Route 53's HealthCheckStatus of the primary endpoints
  (DNS moves to the DR site once a check reads unhealthy), the DR balancers'
  requests (the DR site serves), and each DR replica's ReplicaLag at the fault
  (the writes the DR site had not received: the RPO).

There is no probe load on AWS: the figures are the stack's own traffic, so a
drill of a stack nobody uses measures nothing, and says so. Nothing here
opens a connection but botocore's, to the AWS endpoints of the stack's
regions; the tests drive it with botocore's Stubber.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from topoform.dsl.models import Blueprint
from topoform.providers.plan import Plan

from .failover import Failover, FailoverRecord, SitePlan
from .measure import Measured
from .run import Objective, Result, _interrupts_as_keyboard, _sigint_ignored, site_objectives
from .scenarios import Scenario, _window, parse_ref, path_refs
from .stack import DrillError

ROUTE53_METRICS_REGION = "us-east-1"  # Route 53 publishes health-check metrics in us-east-1 only
TERMINAL = ("completed", "stopped", "failed", "cancelled")
STORE_WINDOW = 120.0  # s allowed for a managed store's failover (Topoform's allowance, not an AWS figure)
MISSING_BOTOCORE = ("a drill on aws talks to AWS FIS and CloudWatch through botocore, which is not installed: "
                    "pip install 'topoform[aws-drill]'")


@dataclass
class Stopped:
    """What an experiment acts on, as the render names it (the Plan's resource)."""

    resource: str


@dataclass
class AwsScenario:
    scenario: Scenario
    output: str  # the stack output holding the template id
    template_id: str


@dataclass
class Clients:
    fis: Any
    cloudwatch: Any  # the primary region
    dr_cloudwatch: Any | None
    route53_cloudwatch: Any


def connect(region: str, dr_region: str | None) -> Clients:
    """botocore clients for the stack's regions (credentials as the AWS CLI finds them)."""
    try:
        import botocore.session
    except ImportError:
        raise DrillError(MISSING_BOTOCORE, 1) from None
    session = botocore.session.get_session()
    watch = {r: session.create_client("cloudwatch", region_name=r)
             for r in {region, dr_region or region, ROUTE53_METRICS_REGION}}
    return Clients(session.create_client("fis", region_name=region), watch[region],
                   watch[dr_region] if dr_region else None, watch[ROUTE53_METRICS_REGION])


# ---------------------------------------------------------------- what to drill

def _facts(plan: Plan, ref: str) -> tuple[int, str]:
    facts = plan.components[ref].facts
    return (facts.copies.get("primary", 1), facts.basis.get("primary", "")) if facts else (1, "")


def choose(bp: Blueprint, plan: Plan, outputs: dict[str, Any], fail: list[str], every: bool,
           site: str | None) -> list[AwsScenario]:
    """The experiments to run and what the report predicts for each; DrillError (exit 2) for bad input."""
    if "drills.region" not in outputs:
        raise DrillError(f"stack {plan.stack!r} of blueprint {plan.blueprint!r} has no drills deployed (no "
                         "`drills.region` output): add `drills: true` to the blueprint and run `topoform up`, "
                         "or name the stack it was deployed as with --stack", 2)
    if site:
        if fail or every:
            raise DrillError("--site drills a whole site: not together with --fail or --all")
        return [_site(bp, outputs)]
    on_path = path_refs(bp, "aws")
    wanted: list[tuple[str, int | None]] = []
    if every:
        wanted = [(ref, 0) for ref in on_path if _output(ref, 0) in outputs or _output(ref, None) in outputs]
        if not wanted:
            raise DrillError("--all: no component on a request path has a drill in this stack (drills.components)")
    wanted += [parse_ref(text) for text in fail]
    if not wanted:
        raise DrillError("say what to fail: --fail REF (every copy), --fail REF:N (one copy), --all, or --site primary")
    chosen = []
    for ref, copy in wanted:
        if ref not in plan.components:
            raise DrillError(f"--fail {ref}: the blueprint has no component {ref!r} (it has: "
                             f"{', '.join(sorted(plan.components))})")
        section = ref.partition(".")[0]
        if copy is not None and section != "services":
            copy = None  # a database reboots its primary, a cache loses a zone: there is no copy to pick
        key = _output(ref, copy)
        if key not in outputs:
            raise DrillError(f"--fail {ref}: this stack has no drill for it (no output {key}): name it in "
                             "`drills.components` (or write `drills: true`) and run `topoform up`")
        chosen.append(AwsScenario(_scenario(bp, plan, ref, copy, ref in on_path), key, str(outputs[key])))
    return chosen


def _output(ref: str, copy: int | None) -> str:
    section = ref.partition(".")[0]
    fault = {"databases": "reboot", "caches": "zone_power"}.get(section) or ("one_copy" if copy is not None
                                                                            else "every_copy")
    return f"drills.{ref}.{fault}"


def _scenario(bp: Blueprint, plan: Plan, ref: str, copy: int | None, on_path: bool) -> Scenario:
    copies, basis = _facts(plan, ref)
    section = ref.partition(".")[0]
    targets = [Stopped(r.name) for r in plan.resources if r.component == ref and not r.name.startswith("dr-")
               and r.type in ("aws:ecs/service:Service", "aws:rds/instance:Instance",
                              "aws:elasticache/replicationGroup:ReplicationGroup")
               and "replicate_source_db" not in r.properties]
    if section == "services":
        scope = "one copy" if copy is not None else "every copy"
        window, window_basis = _window(bp, ref)
        down = on_path and (copies <= 1 or copy is None)
    else:
        standby = bool(plan.components[ref].facts and plan.components[ref].facts.standby)
        scope = "reboot with failover" if standby else ("zone power" if section == "caches" else "reboot")
        window, window_basis = STORE_WINDOW, f"{STORE_WINDOW:g}s allowed for the managed failover"
        down = on_path and not standby and copies <= 1
    return Scenario(ref, scope, targets, copies, basis, on_path, down, window, window_basis)


def _site(bp: Blueprint, outputs: dict[str, Any]) -> AwsScenario:
    from topoform.dsl.topology import topology
    from topoform.providers.insight.report import recovery_section

    if not topology(bp).hot_dr or "drills.site" not in outputs:
        raise DrillError("--site primary needs a hot DR site (disaster_recovery: {strategy: hot}) and its drill "
                         "deployed (output drills.site); this stack has none")
    records = []
    zone = (bp.dns.zone if bp.dns else "").rstrip(".")
    for record in (bp.dns.records if bp.dns else []):
        if record.routing == "failover":
            check = record.health_check
            words = f"health check {float(check.interval):g}s × {check.failure_threshold}" if check else "no health check"
            seconds = float(check.interval) * int(check.failure_threshold) if check else 0.0
            records.append(FailoverRecord(zone if record.name == "@" else f"{record.name}.{zone}", set(), set(),
                                          [str(e.target) for e in record.endpoints if e.role == "secondary"],
                                          words, seconds))
    recovery = recovery_section(bp)
    achievable = recovery.get("achievable") or {}
    dr_balancers = [k for k in outputs if k.startswith("drills.metrics.load_balancers.") and k.endswith(".dr")]
    # The DR copies whose ReplicaLag CloudWatch reports (SitePlan.databases holds them by name here: a
    # docker drill's marker-row pairs have no counterpart on aws).
    dr_replicas = sorted(k.rpartition(".")[2] for k in outputs if k.startswith("drills.metrics.replicas.dr-"))
    site = SitePlan(records, None, float(bp.dns.ttl) if bp.dns and bp.dns.ttl else 0.0,
                    recovery["declared"]["rto"], recovery["declared"]["rpo"], float(achievable.get("rto") or 0),
                    achievable.get("rto_basis", ""), float(achievable.get("rpo") or 0), dr_balancers, dr_replicas)
    scenario = Scenario("site primary", "whole site", [Stopped("every subnet of the primary site")], 0, "", True,
                        True, 0.0, "", site)
    return AwsScenario(scenario, "drills.site", str(outputs["drills.site"]))


# ---------------------------------------------------------------- CloudWatch, a minute at a time

@dataclass
class Minute:
    start: float  # epoch seconds
    requests: float
    failed: float

    @property
    def served(self) -> float:
        return self.requests - self.failed


def _series(client, queries: list[dict], start: float, end: float) -> dict[str, dict[float, float]]:
    """query id → {minute start (epoch s): value}, every page read."""
    found: dict[str, dict[float, float]] = {q["Id"]: {} for q in queries}
    token = None
    while True:
        args = {"MetricDataQueries": queries, "StartTime": _when(start), "EndTime": _when(end),
                "ScanBy": "TimestampAscending"}
        if token:
            args["NextToken"] = token
        answer = client.get_metric_data(**args)
        for result in answer.get("MetricDataResults", []):
            values = found.setdefault(result["Id"], {})
            for stamp, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                values[stamp.timestamp()] = values.get(stamp.timestamp(), 0.0) + float(value)
        token = answer.get("NextToken")
        if not token:
            return found


def _when(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def _metric(query_id: str, namespace: str, name: str, dimensions: dict[str, str], stat: str) -> dict:
    return {"Id": query_id, "ReturnData": True, "MetricStat": {"Metric": {
        "Namespace": namespace, "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()]}, "Period": 60, "Stat": stat}}


def balancer_minutes(client, balancers: list[str], start: float, end: float) -> list[Minute]:
    """Requests and 5xx answers (balancer + targets) per minute, summed over `balancers` (arn suffixes)."""
    queries = []
    for i, suffix in enumerate(balancers):
        for prefix, name in (("r", "RequestCount"), ("e", "HTTPCode_ELB_5XX_Count"),
                             ("t", "HTTPCode_Target_5XX_Count")):
            queries.append(_metric(f"{prefix}{i}", "AWS/ApplicationELB", name, {"LoadBalancer": suffix}, "Sum"))
    if not queries:
        return []
    series = _series(client, queries, start, end)
    stamps = sorted({s for values in series.values() for s in values})
    minutes = []
    for stamp in stamps:
        requests = sum(series.get(f"r{i}", {}).get(stamp, 0.0) for i in range(len(balancers)))
        failed = sum(series.get(f"{p}{i}", {}).get(stamp, 0.0) for p in "et" for i in range(len(balancers)))
        minutes.append(Minute(stamp, requests, min(failed, requests) if requests else failed))
    return minutes


def measure_minutes(minutes: list[Minute], fault: float, restore: float) -> Measured:
    """The docker drill's figures from per-minute counts: each time is a minute's bound, not a request's."""
    first = fault - fault % 60  # the minute the fault began in
    after = [m for m in minutes if m.start >= first]
    during = [m for m in after if m.start < restore]
    sent, failed = sum(m.requests for m in during), sum(m.failed for m in during)
    longest = run = 0.0
    for m in after:
        run = run + 60.0 if m.requests and m.failed * 2 >= m.requests else 0.0
        longest = max(longest, run)
    ok_fault = next((m for m in during if m.served > 0), None)
    ok_restore = next((m for m in after if m.start + 60 > restore and m.served > 0 and m.failed == 0), None)
    last_bad = next((m for m in reversed(during) if m.failed > 0), None)
    return Measured(
        sent=int(sum(m.requests for m in after)), failed=int(sum(m.failed for m in after)),
        sent_during_fault=int(sent), failed_during_fault=int(failed),
        outage_fraction=(failed / sent) if sent else 0.0, longest_outage=longest,
        first_success_after_fault=None if ok_fault is None else max(0.0, ok_fault.start - fault),
        first_success_after_restore=None if ok_restore is None else max(0.0, ok_restore.start - restore),
        last_failure_after_fault=None if last_bad is None else round(last_bad.start + 60 - fault, 2),
    )


# ---------------------------------------------------------------- the run

@dataclass
class Settings:
    duration: float = 300.0  # s: the blueprint's drills.duration (the templates carry it)
    poll: float = 5.0  # s between GetExperiment calls
    settle: float = 180.0  # s after the restore before reading: recovery, and CloudWatch's own delay
    before: float = 300.0  # s of metrics before the fault (the baseline)
    timeout: float = 3600.0  # s an experiment may run beyond its duration before the drill stops it
    slack: float = 60.0  # s beyond a health-check window: one minute of CloudWatch resolution


@dataclass
class AwsDrill:
    clients: Clients
    outputs: dict[str, Any]
    blueprint: str
    stack: str
    settings: Settings = field(default_factory=Settings)
    log: Callable[[str], None] = lambda message: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time  # wall clock: CloudWatch speaks in timestamps

    def _balancers(self, site: str) -> list[str]:
        return [str(v) for k, v in sorted(self.outputs.items())
                if k.startswith("drills.metrics.load_balancers.") and k.endswith(f".{site}")]

    def start(self, chosen: AwsScenario) -> str:
        answer = self.clients.fis.start_experiment(
            clientToken=str(uuid.uuid4()), experimentTemplateId=chosen.template_id,
            tags={"topoform:blueprint": self.blueprint, "topoform:stack": self.stack})
        experiment = answer["experiment"]
        self.log(f"started FIS experiment {experiment['id']} ({chosen.output})")
        return experiment["id"]

    def stop(self, experiment_id: str) -> None:
        with _sigint_ignored():
            self.log(f"stopping FIS experiment {experiment_id} (FIS rolls back what it changed)")
            self.clients.fis.stop_experiment(id=experiment_id)

    def wait(self, experiment_id: str, began: float) -> dict:
        """Poll until FIS says the experiment is over; past the timeout it is stopped and that is an error."""
        deadline = began + self.settings.duration + self.settings.timeout
        while True:
            experiment = self.clients.fis.get_experiment(id=experiment_id)["experiment"]
            status = experiment["state"]["status"]
            if status in TERMINAL:
                return experiment
            if self.clock() > deadline:
                self.stop(experiment_id)
                raise DrillError(f"FIS experiment {experiment_id} still {status} after "
                                 f"{self.settings.duration + self.settings.timeout:g}s: stopped", 1)
            self.sleep(self.settings.poll)

    def one(self, chosen: AwsScenario) -> Result:
        began = self.clock()
        experiment_id = self.start(chosen)
        try:
            experiment = self.wait(experiment_id, began)
        except KeyboardInterrupt:
            self.stop(experiment_id)
            raise
        status, reason = experiment["state"]["status"], experiment["state"].get("reason", "")
        if status in ("failed", "cancelled"):
            raise DrillError(f"FIS experiment {experiment_id} {status}: {reason or 'no reason given'}", 1)
        fault = _epoch(experiment.get("startTime"), began)
        restore = max(_epoch(experiment.get("endTime"), self.clock()), fault + self.settings.duration)
        wait = restore + self.settings.settle - self.clock()
        if wait > 0:
            self.log(f"waiting {wait:.0f}s for the stack to recover and CloudWatch to publish the minutes")
            self.sleep(wait)
        minutes = balancer_minutes(self.clients.cloudwatch, self._balancers("primary"),
                                   fault - self.settings.before, restore + self.settings.settle)
        measured = measure_minutes(minutes, fault, restore)
        scenario = chosen.scenario
        if scenario.site is None and measured.sent_during_fault == 0:
            raise DrillError(f"FIS experiment {experiment_id} ran, but no request reached the primary site's "
                             "balancers during the fault: CloudWatch has nothing to measure (a drill on aws reads "
                             "the stack's own traffic; put a load on it and drill again)", 1)
        result = self._judge(scenario, measured, fault - began, restore - began, minutes, restore)
        if status == "stopped":
            result.objectives.append(Objective("no stop condition fired", False,
                                               f"FIS stopped the experiment: {reason or 'a stop condition'}"))
        if scenario.site is not None:
            result.failover = self._failover(scenario.site, fault, restore)
            result.objectives += site_objectives(scenario.site, result.failover)
        return result

    def _judge(self, scenario: Scenario, measured: Measured, fault_at: float, restored_at: float,
               minutes: list[Minute], restore: float) -> Result:
        tail = [m for m in minutes if m.start >= restore]
        recovered = any(m.served > 0 for m in tail) and tail[-1].failed == 0 if tail else False
        objectives = [Objective("recovers after the restore", recovered,
                                "the last minute read served without 5xx" if recovered
                                else "the balancers still answered 5xx (or nothing) at the end")]
        window = scenario.window + self.settings.slack
        late = measured.last_failure_after_fault is not None and measured.last_failure_after_fault > window
        if scenario.on_path and not scenario.expect_down:
            objectives.append(Objective("keeps serving with a copy down", not late and measured.outage_fraction < 1.0,
                                        f"failures allowed only in the first {scenario.window:g}s "
                                        f"({scenario.window_basis}) + {self.settings.slack:g}s (a minute's resolution)"))
        if scenario.expect_down:
            matches = measured.outage_fraction >= 0.5 if scenario.site is None else True
        elif scenario.on_path:
            matches = not late
        else:
            matches = measured.failed_during_fault == 0
        return Result(scenario, measured, round(fault_at, 2), round(restored_at, 2), recovered, objectives, matches)

    def _failover(self, site: SitePlan, fault: float, restore: float) -> Failover:
        got = Failover()
        start, end = fault - self.settings.before, restore + self.settings.settle
        checks = [str(v) for k, v in sorted(self.outputs.items()) if k.startswith("drills.metrics.health_checks.")
                  and not k.rpartition(".")[2].startswith("dr-")]
        if checks:
            series = _series(self.clients.route53_cloudwatch, [
                _metric(f"h{i}", "AWS/Route53", "HealthCheckStatus", {"HealthCheckId": c}, "Minimum")
                for i, c in enumerate(checks)], start, end)
            unhealthy = sorted(s for values in series.values() for s, v in values.items() if s + 60 > fault and v < 1)
            if unhealthy:
                got.dns_seconds = round(unhealthy[0] + 60 - fault, 2)  # the minute's end: an upper bound
        if self.clients.dr_cloudwatch is not None:
            dr = balancer_minutes(self.clients.dr_cloudwatch, self._balancers("dr"), start, end)
            baseline = max((m.served for m in dr if m.start + 60 <= fault), default=0.0)
            serving = next((m for m in dr if m.start + 60 > fault and m.served > baseline), None)
            if serving is not None:
                got.dr_serves_seconds = round(max(0.0, serving.start + 60 - fault), 2)
            replicas = {k.rpartition(".")[2]: str(v) for k, v in self.outputs.items()
                        if k.startswith("drills.metrics.replicas.dr-")}
            if replicas:
                names = sorted(replicas)
                series = _series(self.clients.dr_cloudwatch, [
                    _metric(f"l{i}", "AWS/RDS", "ReplicaLag", {"DBInstanceIdentifier": replicas[n]}, "Maximum")
                    for i, n in enumerate(names)], fault - 60, fault + 60)
                for i, name in enumerate(names):
                    values = [v for s, v in series.get(f"l{i}", {}).items() if s <= fault]  # the fault's minute
                    got.lag_at_fault[name] = max(values) if values else None
                    # What had not reached the DR copy when the primary was cut off is what it lost.
                    got.data_lost[name] = got.lag_at_fault[name]
        return got

    def run(self, scenarios: list[AwsScenario]) -> list[Result]:
        results = []
        with _interrupts_as_keyboard():
            for chosen in scenarios:
                self.log(f"drill {chosen.scenario.title}: {chosen.scenario.prediction}")
                results.append(self.one(chosen))
        return results


def _epoch(value: Any, default: float) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return default


def describe(scenarios: list[AwsScenario], settings: Settings) -> list[str]:
    """What the drill will do, in sentences, for the confirmation prompt."""
    lines = []
    for s in scenarios:
        lines.append(f"start FIS experiment template {s.template_id} ({s.output}): {s.scenario.title}; "
                     f"the report says: {s.scenario.prediction}")
    lines.append(f"then read CloudWatch from {settings.before:g}s before each fault to {settings.settle:g}s after it "
                 "ends; Ctrl-C stops the experiment (FIS rolls back)")
    return lines


@contextlib.contextmanager
def aws_errors():
    """botocore's failures (no credentials, access denied, throttling) as a drill that cannot run (exit 1)."""
    try:
        yield
    except DrillError:
        raise
    except Exception as error:
        module = type(error).__module__ or ""
        if module.startswith("botocore"):
            raise DrillError(f"AWS refused or could not be reached: {error}", 1) from error
        raise
