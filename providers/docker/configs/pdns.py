"""PowerDNS authoritative for the `dns` section: zone files with LUA records, pdns.conf, the bind backend's named.conf."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .rendering import check_name, lua_str, render, whole_seconds


@dataclass(frozen=True)
class DnsEndpoint:
    """One answer candidate.

    address: an IPv4/IPv6 address, or a host name (answered as a CNAME).
    weight: for ``weighted`` routing.
    role: ``primary``/``secondary`` for ``failover``.
    default: the fallback of ``geolocation``.
    continent / country / region: location hints (geolocation / latency).
    """

    address: str
    weight: int | None = None
    role: str | None = None
    default: bool = False
    continent: str | None = None
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class DnsHealthCheck:
    """Failover health check (``ifurlup``).

    path: HTTP path fetched on each candidate address.
    port: port of the checked URL (the endpoint's HTTP port).
    scheme: ``http`` or ``https``.
    interval / failure_threshold: PowerDNS checks every
        ``lua-health-checks-interval`` seconds (a server-wide setting, see
        :class:`PdnsContext`); the generated ``ifurlup`` sets no failure
        threshold (a warning says so).
    timeout: per check, seconds.
    """

    path: str = "/"
    port: int = 80
    scheme: str = "http"
    interval: str | float = "10s"
    failure_threshold: int = 3
    timeout: str | float = "2s"


@dataclass(frozen=True)
class DnsRecord:
    """A blueprint ``dns.records`` entry.

    name: label in the zone (``www``; ``@`` for the apex).
    routing: simple | weighted | failover | latency | geolocation.
    endpoints: candidates (already resolved to addresses by the DNS pass).
    health_check: failover only.
    ttl: record TTL (defaults to the zone's).
    """

    name: str
    routing: str
    endpoints: tuple[DnsEndpoint, ...]
    health_check: DnsHealthCheck | None = None
    ttl: str | float | None = None


@dataclass(frozen=True)
class DnsZoneContext:
    """A zone file for the bind backend.

    zone: e.g. ``shop.example.com``.
    records: the records.
    ttl: default TTL.
    nameserver: NS host name (relative to the zone) and ``nameserver_address`` its A record.
    serial: SOA serial.
    """

    zone: str
    records: tuple[DnsRecord, ...] = ()
    ttl: str | float = "60s"
    nameserver: str = "ns1"
    nameserver_address: str = "127.0.0.1"
    serial: int = 1


@dataclass(frozen=True)
class RenderedZone:
    """A zone file and the mapping caveats (e.g. latency routing without GeoIP)."""

    text: str
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


_ROUTINGS = ("simple", "weighted", "failover", "latency", "geolocation")


def _record_type(addresses: list[str]) -> str:
    kinds = set()
    for a in addresses:
        try:
            kinds.add("A" if ipaddress.ip_address(a).version == 4 else "AAAA")
        except ValueError:
            check_name("DNS target", a.rstrip("."))
            kinds.add("CNAME")
    if len(kinds) != 1:
        raise ValueError(f"endpoints of one record must be all IPv4, all IPv6 or all names, not {sorted(kinds)}")
    return kinds.pop()


def _dns_value(address: str, rtype: str) -> str:
    return address if rtype != "CNAME" or address.endswith(".") else address + "."


def render_pdns_zone(ctx: DnsZoneContext) -> RenderedZone:
    """Zone file with LUA records for weighted/failover routing.

    - simple: plain A/AAAA (all endpoints) or a CNAME (the first).
    - weighted: ``LUA A "pickwrandom({{w,'ip'},...})"`` (per-query random pick).
    - failover: ``LUA A "ifurlup('URL', {{'primary'},{'secondary'}})"``: the
      secondary is answered only while every primary fails the URL check.
    - latency / geolocation: ``pickclosest``/``continent()`` need a GeoIP
      database that a local stack does not have; the default (geolocation) or
      first (latency) endpoint is answered and a warning says so.
    """
    check_name("zone", ctx.zone.rstrip("."))
    warnings: list[str] = []
    lines = []
    seen: set[str] = set()
    for rec in ctx.records:
        if rec.routing not in _ROUTINGS:
            raise ValueError(f"unknown routing {rec.routing!r}; expected one of {_ROUTINGS}")
        if rec.name != "@":
            check_name("record name", rec.name)
        if rec.name in seen:
            raise ValueError(f"record {rec.name!r} is defined twice")
        seen.add(rec.name)
        if not rec.endpoints:
            raise ValueError(f"record {rec.name!r} has no endpoints")
        ttl = whole_seconds(rec.ttl) if rec.ttl is not None else ""
        addrs = [e.address for e in rec.endpoints]
        rtype = _record_type(addrs)
        if rec.routing == "simple":
            if rtype == "CNAME":
                if len(addrs) > 1:
                    warnings.append(f"{rec.name}: a CNAME has one target; answering {addrs[0]} only")
                lines.append((rec.name, ttl, "CNAME", _dns_value(addrs[0], rtype)))
            else:
                lines.extend((rec.name, ttl, rtype, a) for a in dict.fromkeys(addrs))
        elif rec.routing == "weighted":
            weights = [e.weight if e.weight is not None else 1 for e in rec.endpoints]
            if any(w < 0 for w in weights) or sum(weights) == 0:
                raise ValueError(f"{rec.name}: weights must be >= 0 and not all zero, but {weights} was provided")
            pairs = ",".join(f"{{{w},{lua_str(_dns_value(a, rtype))}}}" for w, a in zip(weights, addrs) if w > 0)
            lines.append((rec.name, ttl, "LUA", f'{rtype} "pickwrandom({{{pairs}}})"'))
        elif rec.routing == "failover":
            primaries = [e for e in rec.endpoints if e.role == "primary"]
            secondaries = [e for e in rec.endpoints if e.role == "secondary"]
            if len(primaries) != 1 or len(secondaries) != 1:
                raise ValueError(f"{rec.name}: failover needs exactly one primary and one secondary endpoint")
            if rtype == "CNAME":
                raise ValueError(f"{rec.name}: failover endpoints must be IP addresses (ifurlup checks addresses)")
            hc = rec.health_check or DnsHealthCheck()
            if hc.scheme not in ("http", "https"):
                raise ValueError(f"health check scheme must be http or https, not {hc.scheme!r}")
            if not hc.path.startswith("/") or any(c in hc.path for c in "'\" "):
                raise ValueError(f"invalid health check path {hc.path!r}")
            url = f"{hc.scheme}://{rec.name if rec.name != '@' else ''}{'.' if rec.name != '@' else ''}{ctx.zone.rstrip('.')}:{hc.port}{hc.path}"
            opts = f"{{timeout={max(1, whole_seconds(hc.timeout))}}}"
            lines.append((rec.name, ttl, "LUA",
                          f"{rtype} \"ifurlup({lua_str(url)}, {{{{{lua_str(primaries[0].address)}}},"
                          f"{{{lua_str(secondaries[0].address)}}}}}, {opts})\""))
            if hc.failure_threshold > 1:
                warnings.append(
                    f"{rec.name}: the generated ifurlup check marks an endpoint down on its first failed check; "
                    f"failure_threshold {hc.failure_threshold} is not applied")
        else:  # latency, geolocation
            if rec.routing == "geolocation":
                chosen = next((e for e in rec.endpoints if e.default), rec.endpoints[0])
                why = "the default endpoint" if chosen.default else "the first endpoint (no default given)"
            else:
                chosen = rec.endpoints[0]
                why = "the first endpoint"
            warnings.append(
                f"{rec.name}: {rec.routing} routing needs a GeoIP database (pdns pickclosest/continent), "
                f"which the local Docker target has not; every client gets {why}, {chosen.address}")
            lines.append((rec.name, ttl, "CNAME" if rtype == "CNAME" else rtype, _dns_value(chosen.address, rtype)))
    return RenderedZone(render("pdns-zone.j2", ctx=ctx, lines=lines, zone=ctx.zone.rstrip(".")), tuple(warnings))


@dataclass(frozen=True)
class PdnsContext:
    """pdns.conf + the bind backend's named.conf.

    zones: (zone name, zone file path) pairs.
    local_address / local_port: where pdns answers.
    config_dir: directory holding named.conf (``bind-config``).
    health_check_interval: ``lua-health-checks-interval`` (seconds) — server-wide.
    packet_cache_ttl: 0 so every query re-runs the LUA record (weighted
        answers stay random per query, failover reacts at once).
    socket_dir: control socket directory.
    webserver / api: off; the container needs nothing else.
    """

    zones: tuple[tuple[str, str], ...]
    local_address: str = "0.0.0.0"
    local_port: int = 53
    config_dir: str = "/etc/powerdns"
    health_check_interval: str | float = "5s"
    packet_cache_ttl: int = 0
    socket_dir: str = "/var/run/pdns"


def render_pdns_named_conf(ctx: PdnsContext) -> str:
    """named.conf listing the zones for the bind backend."""
    for zone, path in ctx.zones:
        check_name("zone", zone.rstrip("."))
        if '"' in path or "\n" in path:
            raise ValueError(f"invalid zone file path {path!r}")
    return render("pdns-named.conf.j2", ctx=ctx)


def render_pdns_conf(ctx: PdnsContext) -> str:
    """pdns.conf: bind backend, LUA records on, caches off, short health-check interval."""
    return render("pdns.conf.j2", ctx=ctx)
