"""`topoform drill --site primary` on blueprints/two-region-hot-dr.yaml: failover measured on a real engine.

The largest example (~50 containers; several minutes to settle on 2 cores), deployed once here.
Tolerances, from the blueprint's own arithmetic:
- the DNS server answers `api` with DR addresses within the failover record's health check
  (interval 10 s × failure_threshold 3) plus one more interval (a check may have just passed when
  the site stopped) plus 15 s for a loaded CI machine;
- the measured RTO (that, plus the record's TTL a client may have cached) meets the declared 5m;
- writes lost at the DR copies (marker rows, one a second) are within the declared rpo 1m.
"""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli

from .deployment import EXAMPLES, module_deployment, wait_settled
from .test_drill import _free_host_ports, _states

SETTLE_TIMEOUT = 480


@pytest.fixture(scope="module")
def site(docker_client, stand_in_images, docker_engine, monkeypatch_module):
    from . import deployment

    original = deployment.compile_example

    def with_free_ports(*args, **kwargs):
        plan = original(*args, **kwargs)
        _free_host_ports(plan)
        return plan

    monkeypatch_module.setattr(deployment, "compile_example", with_free_ports)
    gen = module_deployment(docker_client, stand_in_images, "two-region-hot-dr", SETTLE_TIMEOUT)
    deployed = next(gen)
    deployed.host = docker_engine.address
    yield deployed
    next(gen, None)


@pytest.fixture(scope="module")
def monkeypatch_module():
    patch = pytest.MonkeyPatch()
    yield patch
    patch.undo()


def test_site_failover_meets_the_declared_rto_and_rpo(site, docker_client, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", site.host)
    wait_settled(site, SETTLE_TIMEOUT)  # the drill refuses an unhealthy stack; a loaded machine settles slowly
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["drill", str(EXAMPLES / "two-region-hot-dr.yaml"), "--stack", site.stack,
                                      "--site", "primary", "--duration", "10s", "--yes", "--json"])
    print(f"deployed in {site.apply_seconds:.0f}s, settled in {site.settle_seconds:.0f}s, "
          f"drill took {time.monotonic() - started:.0f}s")
    print(result.output)
    data = json.loads(result.output[result.output.index("{"):])
    (drill,) = data["drills"]
    failover = drill["failover"]
    assert failover["dns_seconds"] is not None and failover["dns_seconds"] <= 10 * 3 + 10 + 15, failover
    assert failover["failover_seconds"] <= failover["rto"]["declared"], failover
    lost = failover["writes_lost_seconds"]
    assert lost and all(v is not None and v <= failover["rpo"]["declared"] for v in lost.values()), lost
    assert result.exit_code == 0, result.output
    assert set(_states(docker_client, site.stack).values()) == {"running"}


def test_stopping_a_postgres_primary_measures_replica_lag_and_failed_writes(site, docker_client, monkeypatch):
    """Marker rows written every second to db-users; its two replicas keep what it acknowledged
    (streaming replication on one host: lag within 2 s of one marker interval); writes fail while it is down."""
    monkeypatch.setenv("DOCKER_HOST", site.host)
    wait_settled(site, SETTLE_TIMEOUT)
    result = CliRunner().invoke(cli, ["drill", str(EXAMPLES / "two-region-hot-dr.yaml"), "--stack", site.stack,
                                      "--fail", "databases.users:0", "--duration", "5s", "--yes", "--json"])
    print(result.output)
    data = json.loads(result.output[result.output.index("{"):])
    (drill,) = data["drills"]
    assert drill["stopped"] == ["db-users"]
    figures = drill["data"]
    assert set(figures["lag_at_fault"]) == {"db-users-replica-0", "db-users-replica-1"}, figures
    assert all(v is not None and v <= 2.0 for v in figures["lag_at_fault"].values()), figures
    assert all(v is not None and v <= 2.0 for v in figures["writes_lost_seconds"].values()), figures
    assert figures["writes_failed_during_fault"] >= 2, figures
    assert drill["recovered"] and result.exit_code == 0, result.output
    assert set(_states(docker_client, site.stack).values()) == {"running"}


def test_drill_all_on_every_request_path_component(site, docker_client, monkeypatch):
    """One drill per component on a request path, one copy each, each judged on the load through it.

    The load: HTTP to the stack's two entries (the CDN, the balancers) and DNS questions to its DNS
    server. The redundant tiers (balancer ×2, web ×3) keep serving; the single-copy CDN and DNS server
    take their own load down. The data tier is seen by the load only if the stand-in web image used it
    (it does not): such a drill says "not observable by the load", and a postgres database is judged on
    its marker rows instead (forums, one copy: its writes fail while it is down).
    """
    monkeypatch.setenv("DOCKER_HOST", site.host)
    wait_settled(site, SETTLE_TIMEOUT)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["drill", str(EXAMPLES / "two-region-hot-dr.yaml"), "--stack", site.stack,
                                      "--all", "--duration", "5s", "--yes", "--json"])
    print(f"drill --all took {time.monotonic() - started:.0f}s")
    print(result.output)
    data = json.loads(result.output[result.output.index("{"):])
    drills = {d["component"]: d for d in data["drills"]}
    for name, d in drills.items():
        print(f"{name}: predicted {d['predicted']['copies']} {'down' if d['predicted']['down'] else 'up'}; "
              f"{d['measured_words']}; before the stop {d['baseline_outage_fraction']:.0%}; "
              f"matches {d['matches_prediction']}")
    assert {"dns", "cdns.assets", "load_balancers.edge", "services.web", "databases.users", "databases.forums",
            "caches.sessions", "queues.orders"} <= set(drills), sorted(drills)
    for name in ("load_balancers.edge", "services.web"):
        d = drills[name]
        assert d["predicted"]["copies"] >= 2 and not d["predicted"]["down"], d["predicted"]
        # Beyond what the same load failed before the stop (a loaded CI machine fails some on its own).
        assert d["measured"]["outage_fraction"] - d["baseline_outage_fraction"] < 0.25, (name, d["measured"])
        assert d["matches_prediction"], (name, d["measured"])
    for name in ("dns", "cdns.assets"):  # single copies, measured on their own load
        d = drills[name]
        assert d["predicted"]["copies"] == 1 and d["predicted"]["down"], d["predicted"]
        assert d["measured_through"] == [name], d["measured_through"]
        assert d["measured"]["outage_fraction"] >= 0.9 and d["matches_prediction"], (name, d["measured"])
    assert drills["cdns.assets"]["measured_all_entries"]["outage_fraction"] < 0.9  # the balancer's load was served
    forums = drills["databases.forums"]
    assert forums["predicted"]["copies"] == 1 and forums["predicted"]["down"]
    if forums["observable_by_load"]:  # a caller that uses it: its load fails
        assert forums["measured"]["outage_fraction"] >= 0.9, forums["measured"]
    else:
        assert forums["data"]["write_outage_fraction"] >= 0.9 and forums["matches_prediction"], forums["data"]
    for name in ("caches.sessions", "queues.orders"):  # no probe of their own: unknown unless the load saw them
        d = drills[name]
        assert d["observable_by_load"] or d["matches_prediction"] is None, d
    assert all(d["recovered"] for d in drills.values()), {n: d["recovered"] for n, d in drills.items()}
    assert result.exit_code == 0, result.output
    assert set(_states(docker_client, site.stack).values()) == {"running"}
