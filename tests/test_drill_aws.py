"""`topoform drill --target aws` with botocore's Stubber: no request leaves the process.

The stack is the hot-DR example with `drills: true` (its delegated stage); its
outputs are written here as `topoform up` would have recorded them. Each test
queues the FIS and CloudWatch answers AWS would give and checks the calls
made, the figures that come out and the exit code.
"""

from __future__ import annotations

import datetime as dt
import json

import botocore.session
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from aws_rules import matrix
from topoform.cli import drill as drill_cli
from topoform.cli.engine.errors import EngineError
from topoform.cli.main import cli
from topoform.providers import compile_plan
from topoform.providers.drill import aws
from topoform.providers.drill.run import exit_code
from topoform.providers.drill.stack import DrillError

NAME = "drills-hot-dr"
T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)  # the fault, on a minute
LB, DR_LB, CHECK = "app/lb-edge/1a2b", "app/dr-lb-edge/3c4d", "hc-primary-api"


@pytest.fixture(scope="module")
def design():
    bp = matrix.load(matrix.variants()[NAME], NAME)
    return bp, compile_plan(bp, "aws")


@pytest.fixture()
def outputs(design):
    _, plan = design
    values = {k: f"EXT-{k.split('.', 1)[1].replace('.', '-')}" for k in plan.outputs if k.startswith("drills.")
              and not k.startswith("drills.metrics.") and "region" not in k}
    values.update({"drills.region": "us-east-1", "drills.dr_region": "us-west-2",
                   "drills.metrics.load_balancers.edge.primary": LB, "drills.metrics.load_balancers.edge.dr": DR_LB,
                   "drills.metrics.health_checks.dns-api-0-health": CHECK,
                   "drills.metrics.replicas.dr-db-users": "shop-dev-dr-db-users",
                   "drills.metrics.replicas.db-users-replica-1": "shop-dev-db-users-replica-1"})
    return values


def _client(service: str, region: str):
    session = botocore.session.get_session()
    session.set_credentials("AKIDEXAMPLE", "not-a-secret")  # signing never happens: the Stubber answers first
    client = session.create_client(service, region_name=region)
    return client, Stubber(client)


@pytest.fixture()
def clients():
    fis, fis_stub = _client("fis", "us-east-1")
    cw, cw_stub = _client("cloudwatch", "us-east-1")
    dr, dr_stub = _client("cloudwatch", "us-west-2")
    r53, r53_stub = _client("cloudwatch", "us-east-1")
    stubs = {"fis": fis_stub, "cw": cw_stub, "dr": dr_stub, "r53": r53_stub}
    for stub in stubs.values():
        stub.activate()
    yield aws.Clients(fis, cw, dr, r53), stubs
    for stub in stubs.values():
        stub.deactivate()


class Time:
    """A clock the drill's sleeps advance: the run takes no real time."""

    def __init__(self, now: float):
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _experiment(status: str, reason: str = "", end: bool = True) -> dict:
    experiment = {"id": "EXP1", "experimentTemplateId": "t", "state": {"status": status, "reason": reason},
                  "startTime": T0}
    if end:
        experiment["endTime"] = T0 + dt.timedelta(seconds=5)
    return {"experiment": experiment}


def _minutes(counts: dict[int, tuple[float, float, float]]) -> dict:
    """GetMetricData's answer for one balancer: minute offset → (requests, balancer 5xx, target 5xx)."""
    stamps = sorted(counts)
    when = [T0 + dt.timedelta(minutes=m) for m in stamps]
    return {"MetricDataResults": [
        {"Id": f"{p}0", "Label": p, "StatusCode": "Complete", "Timestamps": when,
         "Values": [float(counts[m][i]) for m in stamps]} for i, p in enumerate("ret")]}


def _start(stubs, template: str) -> None:
    stubs["fis"].add_response("start_experiment", {"experiment": {"id": "EXP1", "state": {"status": "initiating"}}},
                              {"clientToken": ANY, "experimentTemplateId": template,
                               "tags": {"topoform:blueprint": "shop", "topoform:stack": "dev"}})


def _drill(clients, outputs, time_: Time, **settings) -> aws.AwsDrill:
    return aws.AwsDrill(clients, outputs, "shop", "dev", aws.Settings(**{"duration": 300.0, **settings}),
                        sleep=time_.sleep, clock=time_.clock)


BASELINE = {m: (600, 0, 0) for m in range(-5, 0)}


def test_one_task_of_a_three_copy_service_stopped_keeps_serving(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    (chosen,) = aws.choose(bp, plan, outputs, ["services.web:0"], False, None)
    assert chosen.output == "drills.services.web.one_copy" and chosen.template_id == "EXT-services-web-one_copy"
    assert chosen.scenario.expect_down is False and chosen.scenario.predicted_copies == 3
    _start(stubs, "EXT-services-web-one_copy")
    stubs["fis"].add_response("get_experiment", _experiment("running", end=False), {"id": "EXP1"})
    stubs["fis"].add_response("get_experiment", _experiment("completed"), {"id": "EXP1"})
    # The stopped task's requests fail in the fault's first minute (the balancer's health check notices), then none.
    stubs["cw"].add_response("get_metric_data", _minutes({**BASELINE, 0: (600, 12, 30), 1: (600, 0, 0),
                                                         2: (600, 0, 0), 3: (600, 0, 0), 4: (600, 0, 0),
                                                         5: (600, 0, 0), 6: (600, 0, 0), 7: (600, 0, 0)}))
    time_ = Time(T0.timestamp() - 1)
    (result,) = _drill(client, outputs, time_).run([chosen])
    m = result.measured
    assert (m.sent_during_fault, m.failed_during_fault) == (3000, 42)
    assert m.outage_fraction == pytest.approx(42 / 3000)
    assert m.longest_outage == 0.0 and m.first_success_after_fault == 0.0
    assert m.last_failure_after_fault == 60.0  # the end of the minute it was last seen in
    assert result.matches_prediction and result.held and exit_code([result]) == 0
    assert time_.slept[0] == 5.0  # polled, then waited for CloudWatch until the restore + settle
    assert time_.now >= T0.timestamp() + 300 + 180
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def test_every_copy_stopped_is_an_outage_and_a_stack_that_stays_down_misses(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    (chosen,) = aws.choose(bp, plan, outputs, ["services.web"], False, None)
    assert chosen.output == "drills.services.web.every_copy" and chosen.scenario.expect_down
    _start(stubs, "EXT-services-web-every_copy")
    stubs["fis"].add_response("get_experiment", _experiment("completed"), {"id": "EXP1"})
    down = {m: (600, 600, 0) for m in range(0, 9)}  # never back, even after the restore
    stubs["cw"].add_response("get_metric_data", _minutes({**BASELINE, **down}))
    (result,) = _drill(client, outputs, Time(T0.timestamp())).run([chosen])
    assert result.measured.outage_fraction == 1.0 and result.measured.longest_outage == 540.0
    assert result.matches_prediction  # the report said requests fail while every copy is down
    assert [o.name for o in result.objectives if not o.held] == ["recovers after the restore"]
    assert exit_code([result]) == 3


def test_ctrl_c_stops_the_experiment(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    chosen = aws.choose(bp, plan, outputs, ["caches.sessions"], False, None)
    assert chosen[0].output == "drills.caches.sessions.zone_power"
    _start(stubs, "EXT-caches-sessions-zone_power")
    stubs["fis"].add_response("get_experiment", _experiment("running", end=False), {"id": "EXP1"})
    stubs["fis"].add_response("stop_experiment", {"experiment": {"id": "EXP1", "state": {"status": "stopping"}}},
                              {"id": "EXP1"})

    def interrupted(seconds):
        raise KeyboardInterrupt

    drill = aws.AwsDrill(client, outputs, "shop", "dev", aws.Settings(), sleep=interrupted,
                         clock=lambda: T0.timestamp())
    with pytest.raises(KeyboardInterrupt):
        drill.run(chosen)
    stubs["fis"].assert_no_pending_responses()  # StopExperiment was called


def test_a_stop_condition_firing_misses_an_objective(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    chosen = aws.choose(bp, plan, outputs, ["databases.users"], False, None)
    assert chosen[0].scenario.scope == "reboot with failover"
    _start(stubs, "EXT-databases-users-reboot")
    stubs["fis"].add_response("get_experiment", _experiment("stopped", "Experiment stopped by a stop condition"),
                              {"id": "EXP1"})
    stubs["cw"].add_response("get_metric_data", _minutes({**BASELINE, **{m: (600, 0, 0) for m in range(0, 9)}}))
    (result,) = _drill(client, outputs, Time(T0.timestamp())).run(chosen)
    missed = [o for o in result.objectives if not o.held]
    assert [o.name for o in missed] == ["no stop condition fired"] and "stop condition" in missed[0].detail
    assert exit_code([result]) == 3


def test_a_failed_experiment_cannot_run(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    chosen = aws.choose(bp, plan, outputs, ["services.worker"], False, None)
    _start(stubs, "EXT-services-worker-every_copy")
    stubs["fis"].add_response("get_experiment", _experiment("failed", "Target resolution returned empty set"),
                              {"id": "EXP1"})
    with pytest.raises(DrillError, match="Target resolution returned empty set") as caught:
        _drill(client, outputs, Time(T0.timestamp())).run(chosen)
    assert caught.value.exit_code == 1


def test_no_traffic_measures_nothing(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    chosen = aws.choose(bp, plan, outputs, ["services.web:0"], False, None)
    _start(stubs, "EXT-services-web-one_copy")
    stubs["fis"].add_response("get_experiment", _experiment("completed"), {"id": "EXP1"})
    stubs["cw"].add_response("get_metric_data", {"MetricDataResults": []})
    with pytest.raises(DrillError, match="CloudWatch has nothing to measure"):
        _drill(client, outputs, Time(T0.timestamp())).run(chosen)


def test_the_site_drill_reads_route53_the_dr_balancer_and_replica_lag(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    (chosen,) = aws.choose(bp, plan, outputs, [], False, "primary")
    assert chosen.output == "drills.site" and chosen.scenario.site.rto == 300.0
    _start(stubs, "EXT-site")
    stubs["fis"].add_response("get_experiment", _experiment("completed"), {"id": "EXP1"})
    # The primary balancer: nothing reaches it while it is cut off; DNS fails back after the restore (minute 5).
    stubs["cw"].add_response("get_metric_data", _minutes({**BASELINE, **{m: (0, 0, 0) for m in range(0, 6)},
                                                         6: (300, 0, 0), 7: (600, 0, 0), 8: (600, 0, 0)}))
    health = [T0 + dt.timedelta(minutes=m) for m in range(-2, 4)]
    stubs["r53"].add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "h0", "StatusCode": "Complete", "Timestamps": health, "Values": [1, 1, 1, 0, 0, 0]}]},
        {"MetricDataQueries": [{"Id": "h0", "ReturnData": True, "MetricStat": {"Metric": {
            "Namespace": "AWS/Route53", "MetricName": "HealthCheckStatus",
            "Dimensions": [{"Name": "HealthCheckId", "Value": CHECK}]}, "Period": 60, "Stat": "Minimum"}}],
         "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending"})
    # The DR balancer serves only health checks before, then the traffic DNS sends it from minute 2.
    stubs["dr"].add_response("get_metric_data", _minutes({-2: (5, 0, 0), -1: (5, 0, 0), 0: (5, 0, 0), 1: (5, 0, 0),
                                                         2: (400, 3, 0), 3: (600, 0, 0)}))
    stubs["dr"].add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "l0", "StatusCode": "Complete", "Timestamps": [T0 - dt.timedelta(minutes=1), T0], "Values": [0.4, 2.5]}]})
    (result,) = _drill(client, outputs, Time(T0.timestamp())).run([chosen])
    got = result.failover
    assert got.dns_seconds == 120.0  # unhealthy from the minute starting 1 min after the fault (its end: 2 min)
    assert got.dr_serves_seconds == 180.0
    assert got.lag_at_fault == {"dr-db-users": 2.5} and got.data_lost == {"dr-db-users": 2.5}
    rto = next(o for o in result.objectives if o.name == "rto")
    assert rto.held and "measured 180 s" in rto.detail  # max(DNS 120 s + TTL 60 s, DR serving 180 s) ≤ 5m
    rpo = next(o for o in result.objectives if o.name == "rpo")
    assert rpo.held and "measured 2.5 s of writes lost" in rpo.detail  # the DR copy's lag at the fault ≤ rpo 1m
    assert [(o.name, o.detail) for o in result.objectives if not o.held] == []
    assert exit_code([result]) == 0


# ---------------------------------------------------------------- choosing, and bad input

def test_a_stack_without_drills_is_a_clear_error(design):
    bp, plan = design
    with pytest.raises(DrillError, match="has no drills deployed") as caught:
        aws.choose(bp, plan, {"services.web.url": "x"}, ["services.web"], False, None)
    assert caught.value.exit_code == 2


def test_a_component_without_a_drill_is_named(design, outputs):
    bp, plan = design
    del outputs["drills.databases.forums.reboot"]
    with pytest.raises(DrillError, match="no drill for it .no output drills.databases.forums.reboot"):
        aws.choose(bp, plan, outputs, ["databases.forums"], False, None)


def test_all_drills_one_copy_of_each_component_on_a_request_path(design, outputs):
    bp, plan = design
    chosen = aws.choose(bp, plan, outputs, [], True, None)
    assert "drills.services.web.one_copy" in [c.output for c in chosen]
    assert all(c.scenario.on_path for c in chosen)


def test_measure_minutes_counts_only_the_fault_window():
    minutes = [aws.Minute(0, 100, 0), aws.Minute(60, 100, 100), aws.Minute(120, 100, 60), aws.Minute(180, 100, 0)]
    m = aws.measure_minutes(minutes, fault=60, restore=180)
    assert (m.sent_during_fault, m.failed_during_fault, m.sent, m.failed) == (200, 160, 300, 160)
    assert m.longest_outage == 120.0 and m.first_success_after_fault == 60.0
    assert m.first_success_after_restore == 0.0 and m.last_failure_after_fault == 120.0


# ---------------------------------------------------------------- the command

@pytest.fixture()
def blueprint_file(tmp_path):
    (tmp_path / "static").symlink_to(matrix.ROOT / "blueprints" / "static")
    path = tmp_path / "shop.yaml"
    path.write_text(matrix.variants()[NAME], encoding="utf-8")
    return path


def _cli(monkeypatch, path, clients, outputs, *args):
    monkeypatch.setattr(drill_cli, "stack_outputs", lambda *a: outputs)
    monkeypatch.setattr(aws, "connect", lambda region, dr: clients)
    return CliRunner().invoke(cli, ["drill", str(path), "--target", "aws", *args])


def test_the_command_runs_an_experiment_and_prints_json(monkeypatch, blueprint_file, outputs, clients):
    client, stubs = clients
    _start(stubs, "EXT-services-web-one_copy")
    past = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
    answer = _experiment("completed")
    answer["experiment"].update(startTime=past, endTime=past + dt.timedelta(seconds=3))
    stubs["fis"].add_response("get_experiment", answer, {"id": "EXP1"})
    stamps = [past + dt.timedelta(minutes=m) for m in range(-5, 9)]
    stubs["cw"].add_response("get_metric_data", {"MetricDataResults": [
        {"Id": p, "StatusCode": "Complete", "Timestamps": stamps, "Values": [600.0 if p == "r0" else 0.0] * 14}
        for p in ("r0", "e0", "t0")]})
    result = _cli(monkeypatch, blueprint_file, client, outputs, "--fail", "services.web:0", "--yes", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (drilled,) = report["drills"]
    assert drilled["component"] == "services.web" and drilled["measured"]["sent_during_fault"] == 3000
    assert drilled["measured"]["failed_during_fault"] == 0 and report["held"] is True


def test_the_command_refuses_a_duration_the_templates_do_not_carry(monkeypatch, blueprint_file, outputs, clients):
    client, stubs = clients
    result = _cli(monkeypatch, blueprint_file, client, outputs, "--all", "--duration", "30s", "--yes")
    assert result.exit_code == 2 and "drills.duration (300s)" in result.output


def test_the_command_asks_first(monkeypatch, blueprint_file, outputs, clients):
    client, stubs = clients
    result = _cli(monkeypatch, blueprint_file, client, outputs, "--fail", "services.web")
    assert result.exit_code == 2 and "pass --yes" in result.output
    assert "start FIS experiment template EXT-services-web-every_copy" in result.output
    stubs["fis"].assert_no_pending_responses()


def test_the_command_says_when_the_stack_is_not_deployed(monkeypatch, blueprint_file, clients):
    def missing(*args):
        raise EngineError("stack 'dev' of project 'shop' does not exist", "run `topoform up` first", exit_code=2)

    monkeypatch.setattr(drill_cli, "stack_outputs", missing)
    result = CliRunner().invoke(cli, ["drill", str(blueprint_file), "--target", "aws", "--all", "--yes"])
    assert result.exit_code == 2 and "does not exist (run `topoform up` first)" in result.output
    assert "Traceback" not in result.output


def test_the_command_says_how_to_install_botocore(monkeypatch, blueprint_file, outputs):
    import sys

    monkeypatch.setattr(drill_cli, "stack_outputs", lambda *a: outputs)
    monkeypatch.setitem(sys.modules, "botocore.session", None)  # as if botocore were not installed
    result = CliRunner().invoke(cli, ["drill", str(blueprint_file), "--target", "aws", "--all", "--yes"])
    assert result.exit_code == 1 and "pip install 'topoform[aws-drill]'" in result.output


def test_aws_refusing_is_a_drill_that_cannot_run(design, outputs, clients):
    bp, plan = design
    client, stubs = clients
    chosen = aws.choose(bp, plan, outputs, ["services.web"], False, None)
    stubs["fis"].add_client_error("start_experiment", "AccessDeniedException", "not authorized to perform: "
                                  "fis:StartExperiment", 403)
    with pytest.raises(DrillError, match="AWS refused or could not be reached: .*fis:StartExperiment") as caught:
        with aws.aws_errors():
            _drill(client, outputs, Time(T0.timestamp())).run(chosen)
    assert caught.value.exit_code == 1
