"""`topoform drill` on a real engine: minimal-web deployed by the test applier, drilled, measured.

The blueprint is minimal-web with one haproxy instead of two (`redundancy: none`, written to a
temporary file), so one deployment holds both cases the report tells apart:
`load_balancers.edge` (1 copy: a single point of failure) and `services.web` (2 nginx replicas
behind it: the balancer's health checks and DNS re-resolution route around a stopped one).

Tolerances, stated here because the engine and a 2-core CI are noisy:
- the single-copy balancer stopped: at least 90% of the requests sent during the fault fail
  (requests sent just before the restore may be answered just after it);
- one of the two web replicas stopped: fewer than a quarter of the requests fail (haproxy's
  `leastconn` sends at most about half to the stopped one until it notices), none after the
  health-check window the report's arithmetic gives (interval 10 s × unhealthy 3, + 2 s);
- after each restore the stack answers again within the recovery timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli
from topoform.dsl import load_blueprint
from topoform.providers import compile_plan

from .applier import Applier
from .deployment import EXAMPLES, ROOT, image_tags, unique_stack, wait_settled

FAULT = "8s"  # each drill's fault: long enough for many probe requests, short for CI
SETTLE_TIMEOUT = 120


@pytest.fixture(scope="module")
def single_web(docker_client, stand_in_images, docker_engine, tmp_path_factory):
    text = (EXAMPLES / "minimal-web.yaml").read_text()
    assert "redundancy: active-active" in text
    path = tmp_path_factory.mktemp("drill") / "minimal-web-one-balancer.yaml"
    path.write_text(text.replace("redundancy: active-active", "redundancy: none", 1))
    stack = unique_stack("drill")
    plan = compile_plan(load_blueprint(str(path)), "docker", stack)
    stand_in_images(image_tags(plan))
    _free_host_ports(plan)
    applier = Applier(docker_client, plan)
    try:
        applied = applier.apply()
        deployment = type("D", (), {"applied": applied})()
        wait_settled(deployment, SETTLE_TIMEOUT)
        yield {"path": str(path), "stack": stack, "plan": plan, "applied": applied,
               "host": docker_engine.address, "client": docker_client}
    finally:
        applier.destroy(remove_protected=True)


def _free_host_ports(plan) -> None:
    """Publish on ports free now: other suites share the engine and the compiler's 8080, 8081, ...
    The drill reads the live ports from the engine, never the Plan's numbers, so this changes nothing it sees."""
    import socket

    for resource in plan.resources:
        for port in resource.properties.get("ports", []) if resource.type.endswith("Container") else []:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port["external"] = probe.getsockname()[1]


def _env(host: str) -> dict[str, str]:
    return {**os.environ, "DOCKER_HOST": host}


def _states(client, stack: str) -> dict[str, str]:
    return {c.name: c.status for c in client.containers.list(all=True, filters={"label": f"topoform.stack={stack}"})}


def test_drill_all_measures_what_the_report_predicts(single_web, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", single_web["host"])
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["drill", single_web["path"], "--stack", single_web["stack"], "--all",
                                      "--duration", FAULT, "--yes", "--json"])
    print(f"drill --all took {time.monotonic() - started:.1f}s")
    print(result.output)
    import json

    data = json.loads(result.output[result.output.index("{"):])
    drills = {d["component"]: d for d in data["drills"]}
    assert set(drills) == {"load_balancers.edge", "services.web"}
    web, edge = drills["services.web"], drills["load_balancers.edge"]
    assert edge["predicted"]["copies"] == 1 and edge["predicted"]["down"]
    assert edge["measured"]["sent_during_fault"] >= 30
    assert edge["measured"]["outage_fraction"] >= 0.9, edge["measured"]
    assert edge["matches_prediction"]
    assert web["predicted"]["copies"] == 2 and not web["predicted"]["down"]
    assert web["measured"]["sent_during_fault"] >= 30
    assert web["measured"]["outage_fraction"] < 0.25, web["measured"]
    late = web["measured"]["last_failure_after_fault"]
    assert late is None or late <= 10 * 3 + 2, web["measured"]
    assert web["matches_prediction"]
    for d in drills.values():
        assert d["recovered"] and d["measured"]["first_success_after_restore"] is not None, d
    assert result.exit_code == 0, result.output
    assert set(_states(single_web["client"], single_web["stack"]).values()) == {"running"}


def test_a_drill_interrupted_half_way_restores_the_stack(single_web):
    client, stack = single_web["client"], single_web["stack"]
    wait_settled(type("D", (), {"applied": single_web["applied"]})(), SETTLE_TIMEOUT)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "topoform"), "drill", single_web["path"], "--stack", stack,
         "--fail", "services.web", "--duration", "60s", "--yes"],
        env=_env(single_web["host"]), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and list(_states(client, stack).values()).count("exited") < 2:
            time.sleep(0.3)
        stopped = [n for n, s in _states(client, stack).items() if s == "exited"]
        assert len(stopped) == 2, _states(client, stack)  # both web replicas, half-way through
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    print(output)
    assert process.returncode == 130, output
    assert "started again" in output
    assert set(_states(client, stack).values()) == {"running"}, _states(client, stack)
