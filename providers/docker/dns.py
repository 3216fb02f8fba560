"""The DNS pass: one PowerDNS server answering the blueprint's zone from every site network.

Like Route53, DNS is global: the server joins every site network, so it
answers (and health-checks) both sites. Records answer with the fixed
container addresses `sites.py` hands out; a record of a multi-copy component
answers every copy for `simple` routing and the first copy for the other
policies. Policies that need a GeoIP database (latency, geolocation) answer
their default/first endpoint, with a warning.

Refused: an endpoint on the DR site unless DR is hot (nothing runs there),
and TCP failover checks (PowerDNS checks over HTTP(S) only). Every refused
endpoint is reported; the zone is then not rendered.
"""

from __future__ import annotations

from topoform.dsl.models import Cdn, Component, Dns, DnsHealthCheck, DnsRecord, LoadBalancer, ReverseProxy
from topoform.dsl.models import Endpoint as DnsEndpoint
from topoform.providers import routing

from . import configs, images
from .containers import health, upload
from .context import DockerContext
from .kinds import load_balancers

PDNS_DIR = "/etc/powerdns"
DNS_PORT = 53


def health_probe(ctx: DockerContext, component: Component) -> tuple[str, int, str | None]:
    """(scheme, port, path) a DNS failover check probes unless the record says otherwise.

    nginx tiers are probed on plain HTTP port 80, balancers as
    `load_balancers.health_probe` says, anything else on its own endpoint.
    `path` None keeps the record's path.
    """
    if isinstance(component, LoadBalancer):
        return load_balancers.health_probe(component)
    if isinstance(component, (ReverseProxy, Cdn)):
        return "http", 80, None
    endpoint = ctx.endpoint(component)
    return ("https" if endpoint.scheme in ("https", "tls") else "http"), endpoint.port or 80, None


def dns(ctx: DockerContext, dns: Dns) -> None:
    routing.refuse_unrouted_health_checks(ctx)
    zone = dns.zone.rstrip(".")
    sites = list(ctx.sites.by_name)
    addresses = {site: ctx.sites.allocate(site) for site in sites}
    records = []
    check_intervals = []
    complete = True  # every endpoint answered: else the zone is not rendered (the compile fails anyway)
    for r, record in enumerate(dns.records):
        endpoints = []
        for e, endpoint in enumerate(record.endpoints):
            answers = _answers(ctx, record, r, e, endpoint)
            if answers is None:
                complete = False
                continue
            for address in answers:
                endpoints.append(configs.DnsEndpoint(
                    address=address, weight=endpoint.weight, role=endpoint.role, default=endpoint.default,
                    continent=endpoint.continent, country=endpoint.country, region=endpoint.region))
        check = None
        if record.routing == "failover":
            hc = record.health_check or DnsHealthCheck()
            if hc.protocol == "tcp":
                ctx.refuse("PowerDNS checks failover endpoints over HTTP(S) only", "use `protocol: http`",
                           "dns", "records", r, "health_check", "protocol")
                complete = False
                continue
            primary = next(ep for ep in record.endpoints if ep.role == "primary")
            if hc.port is not None or primary.target is None:
                scheme, port, path = hc.protocol, hc.port or 80, hc.path
            else:
                scheme, port, path = health_probe(ctx, ctx.bp.component(primary.target))
                path = path or hc.path
            check_intervals.append(hc.interval)
            check = configs.DnsHealthCheck(path=path, port=port, scheme=scheme, interval=hc.interval,
                                           failure_threshold=hc.failure_threshold)
        records.append(configs.DnsRecord(record.name, record.routing, tuple(endpoints), check, record.ttl))
    if not complete:
        return
    rendered = configs.render_pdns_zone(configs.DnsZoneContext(
        zone=zone, records=tuple(records), ttl=dns.ttl, nameserver="ns1",
        nameserver_address=addresses[sites[0]]))
    by_name = {record.name: r for r, record in enumerate(dns.records)}
    for message in rendered.warnings:
        r = by_name.get(message.partition(":")[0])
        where = ("dns", "records", r, "routing") if r is not None else ("dns",)
        ctx.warn(message, None, *where)
    zone_file = f"{PDNS_DIR}/zones/{zone}.zone"
    pdns = configs.PdnsContext(zones=((zone, zone_file),), config_dir=PDNS_DIR, socket_dir="/tmp",
                               health_check_interval=min(check_intervals, default=5.0))
    uploads = [
        upload(f"{PDNS_DIR}/pdns.conf", configs.render_pdns_conf(pdns)),
        upload(f"{PDNS_DIR}/named.conf", configs.render_pdns_named_conf(pdns)),
        upload(zone_file, rendered.text),
    ]
    ports = [ctx.ports.publish(DNS_PORT, "udp"), ctx.ports.publish(DNS_PORT, "tcp")]
    extra = [ctx.containers.attachment(site, addresses[site], ["dns"]) for site in sites[1:]]
    ctx.containers.container(
        "dns-server", image=images.POWERDNS, site=sites[0], aliases=["dns"], entrypoints=["pdns_server"],
        command=[f"--config-dir={PDNS_DIR}", "--daemon=no", "--guardian=no", "--disable-syslog=yes",
                 "--write-pid=no"],
        uploads=uploads, ports=ports, memory_mb=128, cpus=0.25, address=addresses[sites[0]],
        extra_networks=extra, healthcheck=health(f"pdns_control --config-dir={PDNS_DIR} rping"))
    ctx.export("zone", zone)
    ctx.export("nameserver", f"127.0.0.1:{ports[0].external}")
    ctx.export("query", f"dig @127.0.0.1 -p {ports[0].external} {dns.records[0].name if dns.records else 'ns1'}.{zone}")
    ctx.export("addresses", {f"{ref_}@{site}": ips for (ref_, site), ips in sorted(ctx.sites.addresses.items())})


def _answers(ctx: DockerContext, record: DnsRecord, r: int, e: int, endpoint: DnsEndpoint) -> list[str] | None:
    """Addresses an endpoint stands for: literal, or the fixed addresses of the component's copies.

    None when it cannot be answered: refused here, or its component's build
    was refused (already reported, so not reported again).
    """
    if endpoint.value is not None:
        return [endpoint.value]
    site = endpoint.site
    if site not in ctx.sites.running:
        ctx.refuse(f"{endpoint.target} does not run on the {site} site: the docker target runs the DR site's "
                   f"copies only for `strategy: hot`",
                   "use `strategy: hot`, or point the endpoint at the primary site",
                   "dns", "records", r, "endpoints", e, "site")
        return None
    found = ctx.sites.addresses.get((endpoint.target, site), [])
    if not found:
        if endpoint.target not in ctx.failed:
            ctx.refuse(f"{endpoint.target} has no address on the {site} site",
                       None, "dns", "records", r, "endpoints", e, "target")
        return None
    return found if record.routing == "simple" else found[:1]
