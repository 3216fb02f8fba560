"""PowerDNS Authoritative 4.7 serves the rendered zone with LUA routing records."""

from __future__ import annotations

import collections
import subprocess

import pytest

from topoform.providers.docker.configs import (
    DnsEndpoint, DnsHealthCheck, DnsRecord, DnsZoneContext, PdnsContext, render_pdns_conf,
    render_pdns_named_conf, render_pdns_zone,
)

from .harness import free_port, require, start_identity_server, wait_for

pytestmark = pytest.mark.real_server

ZONE = "shop.example.com"


def dig(port: int, *names: str) -> list[str]:
    """``dig +short`` for several names in one process (one query each)."""
    binary = require("dig", "dnsutils")
    args = [binary, "@127.0.0.1", "-p", str(port), "+short", "+tries=1", "+time=2"]
    for n in names:
        args += [f"{n}.{ZONE}", "A"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def start_pdns(launcher, records, health_interval=1) -> tuple[int, tuple[str, ...]]:
    pdns = require("pdns_server", "pdns-server pdns-backend-bind")
    work = launcher.workdir
    port = free_port()
    zone = render_pdns_zone(DnsZoneContext(zone=ZONE, records=tuple(records), ttl="5s"))
    (work / f"{ZONE}.zone").write_text(zone.text)
    ctx = PdnsContext(zones=((ZONE, str(work / f"{ZONE}.zone")),), local_address="127.0.0.1", local_port=port,
                      config_dir=str(work), socket_dir=str(work), health_check_interval=health_interval)
    (work / "pdns.conf").write_text(render_pdns_conf(ctx))
    (work / "named.conf").write_text(render_pdns_named_conf(ctx))
    # --no-config would skip our file; config-dir points pdns at it.
    launcher.start("pdns", [pdns, "--daemon=no", "--guardian=no", "--disable-syslog", f"--config-dir={work}",
                            f"--socket-dir={work}"], wait_port=port)
    wait_for(lambda: dig(port, "ns1") == ["127.0.0.1"], 10, "pdns to answer")
    return port, zone.warnings


def test_simple_weighted_and_geolocation_answers(launcher):
    port, warnings = start_pdns(launcher, [
        DnsRecord("plain", "simple", (DnsEndpoint("127.0.0.5"), DnsEndpoint("127.0.0.6"))),
        DnsRecord("www", "weighted", (DnsEndpoint("127.0.0.10", weight=90), DnsEndpoint("127.0.0.20", weight=10))),
        DnsRecord("eu", "geolocation", (DnsEndpoint("127.0.0.30", continent="EU"),
                                        DnsEndpoint("127.0.0.31", default=True))),
        DnsRecord("fast", "latency", (DnsEndpoint("127.0.0.40", region="us-east-1"),
                                      DnsEndpoint("127.0.0.41", region="eu-west-1"))),
    ])
    assert sorted(dig(port, "plain")) == ["127.0.0.5", "127.0.0.6"]
    answers = collections.Counter(dig(port, *["www"] * 1000))
    assert sum(answers.values()) == 1000 and set(answers) == {"127.0.0.10", "127.0.0.20"}
    # 1000 draws at p = 0.1: sd ≈ 9.5, so ±40 is > 4 sd.
    assert abs(answers["127.0.0.20"] - 100) <= 40, answers
    assert dig(port, "eu") == ["127.0.0.31"]
    assert dig(port, "fast") == ["127.0.0.40"]
    assert any("eu: geolocation" in w for w in warnings) and any("fast: latency" in w for w in warnings)


def test_failover_switches_to_secondary_when_primary_dies(launcher):
    port = free_port()
    # Same port on two loopback addresses: ifurlup checks the URL on each address.
    primary, _ = start_identity_server(launcher, "primary", port=port, host="127.0.0.1")
    start_identity_server(launcher, "secondary", port=port, host="127.0.0.2")
    dns_port, warnings = start_pdns(launcher, [DnsRecord(
        "api", "failover",
        (DnsEndpoint("127.0.0.1", role="primary"), DnsEndpoint("127.0.0.2", role="secondary")),
        health_check=DnsHealthCheck(path="/health", port=port, interval="1s", failure_threshold=1, timeout="1s"))])
    assert warnings == ()
    # First answers may precede the first check; then the healthy primary wins.
    wait_for(lambda: all(a == "127.0.0.1" for a in dig(dns_port, *["api"] * 5)), 15, "the primary answer")
    primary.kill()
    wait_for(lambda: dig(dns_port, "api") == ["127.0.0.2"], 20, "failover to the secondary", interval=0.2)
    assert collections.Counter(dig(dns_port, *["api"] * 20)) == {"127.0.0.2": 20}
