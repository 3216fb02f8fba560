"""`topoform drill` orchestration on a fake container API: label filtering, restore on interrupt,
exit codes. The probe load is real HTTP to 127.0.0.1, answered by small local servers standing in
for the balancer copies (200 when that copy and a web copy are "running", else the connection drops).
The real engine is exercised by tests/e2e/test_drill.py."""

from __future__ import annotations

import http.server
import json
import re
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli
from topoform.dsl import load_blueprint
from topoform.providers import compile_plan
from topoform.providers.drill import engine as engine_module
from topoform.providers.drill.engine import ContainerInfo
from topoform.providers.drill.measure import measure
from topoform.providers.drill.probe import Sample
from topoform.providers.drill.run import Drill, Settings, exit_code
from topoform.providers.drill.scenarios import prepare
from topoform.providers.drill.stack import DrillError, find_stack, stack_labels

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "blueprints" / "minimal-web.yaml"
STACK = "unit"


class FakeAPI:
    """Containers of the Plan, plus an unrelated stack's; every call recorded. Its `list` ignores the
    label filter on purpose: the drill must check labels itself."""

    def __init__(self, plan, replicas_alive: bool = True):
        self.calls: list[tuple[str, str]] = []
        self.containers: dict[str, ContainerInfo] = {}
        self.servers: list[http.server.ThreadingHTTPServer] = []
        self.sockets: list = []
        for resource in plan.resources:
            if resource.type != "docker:index/container:Container":
                continue
            props = resource.properties
            labels = {l["label"]: l["value"] for l in props["labels"]}
            ports = {}
            tcp = [p for p in props.get("ports") or [] if p.get("protocol", "tcp") == "tcp"]
            if tcp:  # every TCP port of a container answers alike (plain HTTP)
                served = self._serve(f"id-{props['name']}")
                ports.update({(p["internal"], "tcp"): served for p in tcp})
            udp = [p for p in props.get("ports") or [] if p.get("protocol") == "udp" and p["internal"] == 53]
            if udp:
                ports[(53, "udp")] = self._answer_dns(f"id-{props['name']}")
            self._add(ContainerInfo(f"id-{props['name']}", props["name"], labels, "running", "healthy", ports))
        # Another stack of the same blueprint, with the same physical names: never to be touched.
        for info in list(self.containers.values()):
            other = dict(info.labels, **{"topoform.stack": "other"})
            self._add(ContainerInfo("other-" + info.id, info.name, other, "running", "healthy"))

    def _add(self, info: ContainerInfo) -> None:
        self.containers[info.id] = info

    def running(self, prefix: str) -> bool:
        return any(c.status == "running" for c in self.containers.values()
                   if c.labels.get("topoform.stack") == STACK and prefix in c.name)

    def _serve(self, container_id: str) -> int:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if fake.containers[container_id].status != "running":
                    self.close_connection = True
                    self.connection.close()
                    return
                self.send_response(200 if fake.running("svc-web-") else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        return server.server_address[1]

    def _answer_dns(self, container_id: str) -> int:
        """A DNS server on 127.0.0.1 answering every question with one A record while its container runs."""
        import socket
        import struct

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self.sockets.append(sock)

        def serve():
            while True:
                try:
                    query, peer = sock.recvfrom(512)
                except OSError:  # closed
                    return
                if self.containers[container_id].status == "running":
                    record = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton("10.0.0.1")
                    sock.sendto(query[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + query[12:] + record, peer)

        threading.Thread(target=serve, daemon=True).start()
        return sock.getsockname()[1]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for sock in self.sockets:
            sock.close()

    # ContainerAPI
    def list(self, labels):
        self.calls.append(("list", ""))
        return list(self.containers.values())

    def inspect(self, container_id):
        return self.containers[container_id]

    def stop(self, container_id, timeout):
        self.calls.append(("stop", container_id))
        info = self.containers[container_id]
        info.status, info.health = "exited", None

    def start(self, container_id):
        self.calls.append(("start", container_id))
        info = self.containers[container_id]
        info.status, info.health = "running", "healthy"

    def exec(self, container_id, command):
        raise AssertionError("no probe here execs")


def _deployed(path, api_class):
    """(blueprint, plan, fake engine running its containers); the fake's servers closed afterwards."""
    bp = load_blueprint(str(path))
    plan = compile_plan(bp, "docker", STACK)
    api = api_class(plan)
    yield bp, plan, api
    api.close()


@pytest.fixture
def minimal():
    yield from _deployed(MINIMAL, FakeAPI)


FAST = Settings(duration=0.6, recovery_timeout=5, settle_timeout=5, interval=0.02, poll=0.1)


def _drill(api, plan, prepared, sleep=None):
    kwargs = {"sleep": sleep} if sleep else {}
    return Drill(api, stack_labels(plan), prepared.stack, prepared.entries, FAST, **kwargs)


def test_only_containers_with_the_stack_labels_are_found_and_touched(minimal):
    bp, plan, api = minimal
    stack = find_stack(api, plan)
    found = [c.container.id for copies in stack.values() for c in copies]
    assert found and not any(i.startswith("other-") for i in found)
    prepared = prepare(bp, plan, api, ["services.web"], False)
    results = _drill(api, plan, prepared).run(prepared.scenarios)
    touched = {i for call, i in api.calls if call in ("stop", "start")}
    assert touched == {f"id-hello-{STACK}-svc-web-0", f"id-hello-{STACK}-svc-web-1"}
    assert all(c.status == "running" for c in api.containers.values())
    assert results[0].measured.outage_fraction >= 0.9 and results[0].matches_prediction


def test_a_container_whose_labels_changed_since_it_was_found_is_not_stopped(minimal):
    bp, plan, api = minimal
    prepared = prepare(bp, plan, api, ["services.web:1"], False)
    api.containers[f"id-hello-{STACK}-svc-web-1"].labels["topoform.stack"] = "someone-else"
    with pytest.raises(DrillError, match="does not carry this stack's labels"):
        _drill(api, plan, prepared).run(prepared.scenarios)
    assert not [c for c in api.calls if c[0] == "stop"]


def test_an_interrupt_during_the_fault_restores_what_was_stopped(minimal):
    bp, plan, api = minimal
    prepared = prepare(bp, plan, api, ["load_balancers.edge"], False)
    calls = []

    def sleep(seconds):
        calls.append(seconds)
        if seconds == FAST.duration:  # the fault itself: Ctrl-C half-way through
            assert not api.running("lb-edge-")
            raise KeyboardInterrupt
        import time
        time.sleep(seconds)

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        _drill(api, plan, prepared, sleep).run(prepared.scenarios)
    assert FAST.duration in calls
    assert [c for c in api.calls if c[0] == "start"] == [("start", f"id-hello-{STACK}-lb-edge-0"),
                                                           ("start", f"id-hello-{STACK}-lb-edge-1")]
    assert all(c.status == "running" for c in api.containers.values())
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C works again after the restore


def test_a_container_already_stopped_is_left_as_it_was(minimal):
    bp, plan, api = minimal
    prepared = prepare(bp, plan, api, ["services.web:0"], False)
    drill = _drill(api, plan, prepared)
    api.containers[f"id-hello-{STACK}-svc-web-0"].status = "exited"
    stopped: list = []
    drill._stop(prepared.scenarios[0].copies[0], stopped)
    assert stopped == [] and not [c for c in api.calls if c[0] == "stop"]


def test_two_copies_survive_one_down_and_every_objective_holds(minimal):
    bp, plan, api = minimal
    prepared = prepare(bp, plan, api, [], True)
    assert [s.ref for s in prepared.scenarios] == ["load_balancers.edge", "services.web"]
    results = _drill(api, plan, prepared).run(prepared.scenarios)
    for result in results:
        assert result.measured.failed_during_fault == 0 and result.measured.sent_during_fault > 5
        assert result.matches_prediction and result.held
    assert exit_code(results) == 0


def test_a_redundant_component_that_goes_down_misses_its_objective(minimal, monkeypatch):
    bp, plan, api = minimal
    prepared = prepare(bp, plan, api, ["services.web:0"], False)
    # Pretend the balancer cannot fail over: requests fail while either web copy is down.
    monkeypatch.setattr(api, "running", lambda prefix: all(
        c.status == "running" for c in api.containers.values()
        if c.labels.get("topoform.stack") == STACK and "svc-web-" in c.name) if prefix == "svc-web-"
        else FakeAPI.running(api, prefix))
    prepared.scenarios[0].window = 0.0  # no health-check grace: any failure counts
    drill = _drill(api, plan, prepared)
    drill.settings = Settings(duration=0.6, recovery_timeout=5, settle_timeout=5, interval=0.02, poll=0.1, slack=0.0)
    results = drill.run(prepared.scenarios)
    assert not results[0].held and exit_code(results) == 3
    assert [o.name for o in results[0].objectives if not o.held] == ["keeps serving with a copy down"]


def test_measure_figures_from_samples():
    samples = [Sample("e", t, t + 0.05, ok, "") for t, ok in
               [(0.0, True), (1.0, False), (1.5, False), (2.0, True), (3.0, False), (4.0, True), (5.0, True)]]
    m = measure(samples, fault=0.9, restore=3.5)
    assert m.sent == 6 and m.failed == 3
    assert m.sent_during_fault == 4 and m.failed_during_fault == 3
    assert m.longest_outage == pytest.approx(1.05)  # 1.0 → the success answered at 2.05
    assert m.first_success_after_fault == pytest.approx(1.15)
    assert m.first_success_after_restore == pytest.approx(0.55)
    assert m.last_failure_after_fault == pytest.approx(2.1)


# ---- the command


def _invoke(monkeypatch, api, *args, stdin=None):
    monkeypatch.setattr(engine_module, "connect", lambda host=None: api)
    return CliRunner().invoke(cli, ["drill", str(MINIMAL), "--stack", STACK, *args], input=stdin)


def test_non_interactive_without_yes_refuses_before_touching_anything(minimal, monkeypatch):
    _, _, api = minimal
    result = _invoke(monkeypatch, api, "--all")
    assert result.exit_code == 2 and "pass --yes" in result.output
    assert "stop services.web (one copy: svc-web-0)" in result.output  # it said what it would do
    assert not [c for c in api.calls if c[0] in ("stop", "start")]


@pytest.mark.parametrize("args, message", [
    (["--fail", "services.nope", "--yes"], "has no component 'services.nope'"),
    (["--fail", "services.web:7", "--yes"], "services.web has 2 copies"),
    (["--fail", "not a ref", "--yes"], "write a component reference"),
    (["--yes"], "say what to fail"),
    (["--all", "--target", "aws", "--yes"], "this blueprint asks for none"),
    (["--site", "primary", "--yes"], "needs a hot DR site"),
    (["--site", "primary", "--all", "--yes"], "not together with --fail or --all"),
    (["--all", "--duration", "5 seconds", "--yes"], "is not a duration"),
])
def test_bad_input_is_a_clear_error_with_exit_2(minimal, monkeypatch, args, message):
    _, _, api = minimal
    result = _invoke(monkeypatch, api, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not [c for c in api.calls if c[0] in ("stop", "start")]


def test_a_stack_not_deployed_is_a_clear_error(minimal, monkeypatch):
    _, _, api = minimal
    monkeypatch.setattr(engine_module, "connect", lambda host=None: api)
    result = CliRunner().invoke(cli, ["drill", str(MINIMAL), "--stack", "prod", "--all", "--yes"])
    assert result.exit_code == 2 and "stack 'prod' of blueprint 'hello' is not deployed" in result.output


def test_drill_command_runs_and_reports_predicted_next_to_measured(minimal, monkeypatch):
    _, _, api = minimal
    result = _invoke(monkeypatch, api, "--fail", "services.web", "--duration", "1s", "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    (web,) = data["drills"]
    assert web["predicted"]["down"] and web["measured"]["outage_fraction"] >= 0.9 and web["matches_prediction"]
    assert all(c.status == "running" for c in api.containers.values())


def test_drill_is_not_imported_by_other_commands():
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from topoform.cli.main import cli;"
            "CliRunner().invoke(cli, ['report', 'blueprints/minimal-web.yaml']);"
            "print(sorted(m for m in sys.modules if m == 'docker' or m.startswith('topoform.providers.drill')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


# ---- site drills: the DNS client and the RTO/RPO verdicts


def test_dns_a_reads_the_a_records_of_a_reply_from_127_0_0_1():
    import socket
    import struct

    from topoform.providers.drill.failover import dns_a

    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))

    def answer():
        query, peer = server.recvfrom(512)
        header = query[:2] + struct.pack(">HHHHH", 0x8180, 1, 3, 0, 0)
        question = query[12:]
        records = b""
        for address in ("10.1.2.3", "10.1.2.4"):
            records += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(address)
        records += b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, 3) + b"\x02hi"  # a TXT record: skipped
        server.sendto(header + question + records, peer)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        assert dns_a(server.getsockname()[1], "api.shop.example.com") == ["10.1.2.3", "10.1.2.4"]
    finally:
        thread.join(5)
        server.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        assert dns_a(silent.getsockname()[1], "api.shop.example.com", timeout=0.2) == []


def test_site_objectives_compare_measured_failover_with_declared_rto_and_rpo():
    from topoform.providers.drill.failover import Failover, SitePlan
    from topoform.providers.drill.run import failover_seconds, site_objectives

    site = SitePlan([], 8053, 60.0, 300.0, 60.0, 90.0, "health check 10s × 3 + DNS TTL 1m", 1.0,
                    [object()], [object()])
    fast = Failover(dns_seconds=35.0, dr_serves_seconds=1.0, data_lost={"db-dr": 0.5})
    assert failover_seconds(site, fast) == 95.0  # DNS 35 s + a cached answer's TTL 60 s
    assert [(o.name, o.held) for o in site_objectives(site, fast)] == [("rto", True), ("rpo", True)]
    slow = Failover(dns_seconds=250.0, dr_serves_seconds=1.0, data_lost={"db-dr": 75.0})
    assert [(o.name, o.held) for o in site_objectives(site, slow)] == [("rto", False), ("rpo", False)]
    never = Failover(dns_seconds=None, data_lost={"db-dr": None})
    assert [(o.name, o.held) for o in site_objectives(site, never)] == [("rto", False), ("rpo", False)]


class _Answers:
    """A ContainerAPI whose `exec` answers from a list, one answer per call."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def exec(self, container_id, command):
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _copy(resource: str):
    from topoform.providers.drill.stack import Copy

    info = ContainerInfo(f"id-{resource}", resource, {}, "running", "healthy", {}, [])
    return Copy(resource, "databases.users", "primary", info, [], 10)


def test_a_replica_read_is_asked_again_until_it_answers_a_marker(monkeypatch):
    """An exec that fails, or output that is not a number (a notice, an empty max), is no measurement:
    the writer asks again within its patience, and says what the last unusable answer was."""
    from topoform.providers.drill import failover

    monkeypatch.setattr(failover.time, "sleep", lambda seconds: None)
    primary, replica = _copy("db-users"), _copy("db-users-replica-0")
    api = _Answers([(-1, ""), (0, "WARNING: something\n"), (0, "\n"), (0, "100.5\n")])
    writer = failover.Writer(api, [(primary, replica, "app", "app")])
    writer.written["db-users"] = 101.0
    assert writer.lag(patience=60.0) == {"db-users-replica-0": 0.5}
    assert api.calls == 4 and writer.unreadable == {}

    never = _Answers([(0, "WARNING: something\n")])
    writer = failover.Writer(never, [(primary, replica, "app", "app")])
    writer.written["db-users"] = 101.0
    clock = iter(range(0, 1000, 5))
    monkeypatch.setattr(failover.time, "monotonic", lambda: float(next(clock)))
    assert writer.lag(patience=20.0) == {"db-users-replica-0": None}
    assert writer.unreadable == {"db-users-replica-0": "not a marker: 'WARNING: something'"}
    assert 3 <= never.calls <= 5


# ---- attribution: a component is judged on the load whose request path runs through it

HOT_DR = ROOT / "blueprints" / "two-region-hot-dr.yaml"


def _plain(endpoint, timeout):
    """The fake serves plain HTTP on every port, the TLS ones too."""
    from dataclasses import replace

    from topoform.providers.drill.probe import http_get

    return http_get(replace(endpoint, tls=False), timeout)


@pytest.fixture
def hot_dr():
    yield from _deployed(HOT_DR, FakeAPI)


def _hot_dr_drill(api, plan, prepared, **settings):
    from topoform.providers.drill.probe import Load

    return Drill(api, stack_labels(plan), prepared.stack, prepared.entries, Settings(**{**vars(FAST), **settings}),
                 load_factory=lambda entries, interval: Load(entries, interval=interval, request=_plain))


def test_each_component_is_judged_on_the_load_sent_to_the_entries_whose_path_runs_through_it(hot_dr):
    bp, plan, api = hot_dr
    prepared = prepare(bp, plan, api, [], True)
    assert [e.ref for e in prepared.entries] == ["dns", "cdns.assets", "load_balancers.edge"]
    assert prepared.entries[0].dns_name == "api.shop.example.com"  # the failover record, a site drill's too
    through = {s.ref: s.through for s in prepared.scenarios}
    assert through["cdns.assets"] == ("cdns.assets",)  # www's weighted CDN endpoint: only its own entry
    assert through["load_balancers.edge"] == ("cdns.assets", "load_balancers.edge")  # the CDN's origin too
    assert through["services.web"] == ("cdns.assets", "load_balancers.edge")


def test_a_single_copy_cdn_is_measured_down_on_its_own_load_not_diluted_over_every_entry(hot_dr):
    from topoform.providers.drill.render import as_json, measured_words

    bp, plan, api = hot_dr
    prepared = prepare(bp, plan, api, ["cdns.assets"], False)
    drill = _hot_dr_drill(api, plan, prepared)
    drill.entries = [e for e in prepared.entries if e.ref != "dns"]  # the HTTP load only, here
    (result,) = drill.run(prepared.scenarios)
    assert result.measured.outage_fraction >= 0.9 and result.matches_prediction
    assert 0.3 < result.measured_all.outage_fraction < 0.7  # the balancer's half kept being served
    assert re.match(r"outage (9\d|100)% of the load through cdns.assets \(", measured_words(result))
    (drilled,) = as_json("bp", STACK, [result], 0)["drills"]
    assert drilled["measured_through"] == ["cdns.assets"] and drilled["measured"]["outage_fraction"] >= 0.9


def test_stopping_the_dns_server_is_measured_on_the_questions_asked_of_it(hot_dr):
    from topoform.providers.drill.render import measured_words

    bp, plan, api = hot_dr
    prepared = prepare(bp, plan, api, ["dns"], False)
    assert prepared.scenarios[0].through == ("dns",)  # the HTTP load goes to published ports, not through DNS
    assert any("question every 0.1 s to dns (127.0.0.1:" in line for line in prepared.describe())
    drill = _hot_dr_drill(api, plan, prepared)
    drill.load_factory = lambda entries, interval: __import__("topoform.providers.drill.probe", fromlist=["Load"]).Load(
        entries, interval=interval, request=_plain, timeout=0.3)
    (result,) = drill.run(prepared.scenarios)
    assert result.measured.sent_during_fault >= 10 and result.measured.outage_fraction >= 0.9
    assert result.matches_prediction and result.recovered
    assert result.measured_all.outage_fraction < 0.6  # the HTTP entries kept answering
    assert re.match(r"outage (9\d|100)% of the load through dns \(", measured_words(result))


# ---- data components the load cannot see

class _PsqlAPI(FakeAPI):
    """`docker exec psql` of the marker probe: rows kept per database, replicated at once, refused
    (as the engine refuses an exec) while the container is stopped."""

    def __init__(self, plan):
        super().__init__(plan)
        self.rows: dict[str, list[float]] = {}

    def exec(self, container_id, command):
        info = self.containers[container_id]
        if info.status != "running":
            raise RuntimeError(f"container {info.name} is not running")
        sql = command[-1]
        rows = self.rows.setdefault(info.name.split("-replica-")[0], [])
        if sql.startswith("INSERT"):
            rows.append(float(sql.split("(")[1].rstrip(")")))
        if sql.startswith("SELECT"):
            return 0, f"{max(rows)}\n" if rows else "\n"
        return 0, ""


@pytest.fixture
def hot_dr_psql():
    yield from _deployed(HOT_DR, _PsqlAPI)


def _data_drill(bp, plan, api, fail):
    from topoform.providers.drill.render import as_json

    prepared = prepare(bp, plan, api, [fail], False)
    drill = _hot_dr_drill(api, plan, prepared, duration=1.5, write_interval=0.1)
    drill.entries = [e for e in prepared.entries if e.ref != "dns"]
    (result,) = drill.run(prepared.scenarios)
    return result, as_json("bp", STACK, [result], 0)["drills"][0]


def test_a_single_copy_database_the_load_never_uses_is_judged_on_its_failed_writes(hot_dr_psql):
    result, drilled = _data_drill(*hot_dr_psql, "databases.forums")
    assert result.measured.failed_during_fault == 0  # the stand-in callers never touch it
    assert not result.observable and not drilled["observable_by_load"]
    assert result.data["writes_during_fault"] >= 5 and result.data["write_outage_fraction"] == 1.0
    assert result.matches_prediction is True
    assert drilled["measured_words"].startswith("not observable by the load (0 of ")
    assert "its writes failed" in drilled["measured_words"]


def test_a_replicated_database_whose_primary_stops_is_judged_on_reads_from_its_replicas(hot_dr_psql):
    result, _ = _data_drill(*hot_dr_psql, "databases.users:0")
    assert not result.observable and result.data["write_outage_fraction"] == 1.0  # writes go to the primary
    assert set(result.data["writes_lost_seconds"]) == {"db-users-replica-0", "db-users-replica-1"}
    assert result.matches_prediction is True  # both replicas answered a read while it was down


def test_a_cache_the_load_never_uses_is_not_observable_and_its_judgement_unknown(hot_dr_psql):
    from topoform.providers.drill.render import measured_words

    result, drilled = _data_drill(*hot_dr_psql, "caches.sessions:0")
    assert not result.observable and result.matches_prediction is None and drilled["matches_prediction"] is None
    assert measured_words(result).endswith("no probe of its own (only postgres gets marker rows)")
    assert result.held  # what the load saw still kept serving


def test_the_text_report_says_when_the_drill_cannot_tell(hot_dr_psql):
    from rich.console import Console

    from topoform.providers.drill.render import render_text

    result, _ = _data_drill(*hot_dr_psql, "queues.orders")
    console = Console(record=True, width=400)
    render_text("bp", STACK, [result], console)
    text = console.export_text()
    assert "not observable by the load" in text and "(cannot tell)" in text and "≠ report" not in text


def test_a_single_copy_data_component_is_observed_only_above_what_failed_before_the_stop(hot_dr):
    from topoform.providers.drill.measure import Measured
    from topoform.providers.drill.run import observable

    bp, plan, api = hot_dr
    scenarios = {s.ref: s for s in prepare(bp, plan, api, ["queues.orders", "cdns.assets", "caches.sessions:0"],
                                           False).scenarios}

    def figures(fraction):
        return Measured(100, int(fraction * 100), 100, int(fraction * 100), fraction, 1.0, 0.1, 0.1, 4.0)

    orders = scenarios["queues.orders"]
    assert observable(orders, figures(0.95), 0.4, False)  # nearly all of it failed: the callers use it
    assert observable(orders, figures(0.6), 0.05, False)  # most failed, few did before
    assert not observable(orders, figures(0.6), 0.4, False)  # a loaded machine failing as much before
    assert not observable(orders, figures(0.0), 0.0, False)
    assert observable(scenarios["cdns.assets"], figures(0.0), 0.0, False)  # on the load's own path: always
    sessions = scenarios["caches.sessions"]
    assert not observable(sessions, figures(0.1), 0.0, False) and observable(sessions, figures(0.1), 0.0, True)
