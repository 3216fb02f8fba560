"""Docker edge: haproxy balancers, nginx reverse proxies and CDNs, PowerDNS.

See compiler.py for the contract (sites, aliases, fixed addresses, host
ports). Config files come from `configs.py` renderers; TLS certificates are
self-signed by pulumi_tls at deploy time (a laptop has no public CA), one per
component, shared by all of its copies.

Mapping notes a user should know (also in the README):
- `redundancy: active-active | active-passive` runs two haproxy copies behind
  one alias. Docker has no floating VIP (keepalived), so active-passive
  cannot be honoured exactly: both copies serve, and a warning says so.
- DNS answers with fixed container addresses on the site networks; policies
  that need a GeoIP database (latency, geolocation) answer their default/first
  endpoint, with a warning. A record of a multi-copy component answers every
  copy for `simple` routing and the first copy for the other policies.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from topoform.dsl.models import Cdn, Component, Dns, LoadBalancer, ReverseProxy
from topoform.dsl.models import DnsHealthCheck as DnsHealthCheckModel
from topoform.dsl.models import HealthCheck as HealthCheckModel
from topoform.providers.plan import literal, ref

from . import configs, images

if TYPE_CHECKING:  # pragma: no cover
    from .compiler import Endpoint, Published

PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
CERTIFICATE = "tls:index/selfSignedCert:SelfSignedCert"
HAPROXY_CFG = "/usr/local/etc/haproxy/haproxy.cfg"
HAPROXY_PEM = "/usr/local/etc/haproxy/certs/cert.pem"
HAPROXY_STATS_PORT = 8404
NGINX_CONF = "/etc/nginx/nginx.conf"
NGINX_CERT = "/etc/nginx/certs/cert.pem"
NGINX_KEY = "/etc/nginx/certs/key.pem"
NGINX_STATIC = "/usr/share/nginx/static"
NGINX_CDN_ROOT = "/usr/share/nginx/cdn"
PDNS_DIR = "/etc/powerdns"
DNS_PORT = 53

# Renderers are pure functions of frozen contexts: identical configs (copies,
# sites, identical components) render once.
_haproxy = lru_cache(maxsize=4096)(configs.render_haproxy_cfg)
_nginx = lru_cache(maxsize=4096)(configs.render_nginx_conf)

_NGINX_ALIVE = 'test -s /var/run/nginx.pid && kill -0 "$(cat /var/run/nginx.pid)"'


class EdgeMixin:
    """compile_load_balancers / reverse_proxies / cdns / dns for DockerCompiler."""

    # ---------------------------------------------------------------- endpoints

    def tls_ports(self, component: Component) -> set[int]:
        if isinstance(component, LoadBalancer):
            return {lst.port for lst in component.listeners if lst.tls}
        if isinstance(component, (ReverseProxy, Cdn)):
            return {443} if self._nginx_tls(component) else set()
        return set()

    @staticmethod
    def _nginx_tls(component: ReverseProxy | Cdn) -> bool:
        # A CDN always answers https (like CloudFront); a proxy when asked to.
        return isinstance(component, Cdn) or component.tls

    def edge_endpoint(self, component: Component) -> "Endpoint":
        from .compiler import Endpoint

        host = self.host(component)
        if isinstance(component, LoadBalancer):
            plain = [lst for lst in component.listeners if not lst.tls and not lst.redirect_to_https]
            secure = [lst for lst in component.listeners if lst.tls]
            listener = (plain or secure or component.listeners)[0]
            if component.layer == 4:
                return Endpoint("tls" if listener.tls else "tcp", host, listener.port)
            return Endpoint("https" if listener.tls else "http", host, listener.port)
        if self._nginx_tls(component):
            return Endpoint("https", host, 443)
        return Endpoint("http", host, 80)

    def health_probe(self, component: Component) -> tuple[str, int, str | None]:
        """(scheme, port, path) a DNS failover check probes unless the record says otherwise.

        A balancer is probed on a plain HTTP listener, or else on haproxy's
        monitor URI (200 while haproxy serves: its TLS listener has a
        self-signed certificate and its plain one only redirects); nginx tiers
        on plain HTTP port 80. `path` None keeps the record's path. A record
        that sets `health_check.port` gets exactly what it asks for.
        """
        if isinstance(component, LoadBalancer):
            plain = [lst for lst in component.listeners if not lst.tls and not lst.redirect_to_https]
            if plain and component.layer == 7:
                return "http", plain[0].port, None
            return "http", HAPROXY_STATS_PORT, "/healthz"
        if isinstance(component, (ReverseProxy, Cdn)):
            return "http", 80, None
        endpoint = self.endpoint(component)
        return ("https" if endpoint.scheme in ("https", "tls") else "http"), endpoint.port or 80, None

    def replica_names(self, service_ref: str, site: str) -> list[str]:
        """Physical container names of a service's copies on `site` (Docker DNS resolves them)."""
        service = self.bp.component(service_ref)
        prefix = self.prefix(service)
        return [self.physical(f"{prefix}{self.site_suffix(site)}-{i}") for i in range(service.replicas)]

    # ---------------------------------------------------------------- certificates

    def certificate(self, component: Component) -> tuple[str, str]:
        """(`${cert_pem}`, `${private_key_pem}`) of the component's self-signed certificate."""
        prefix = self.prefix(component)
        key, cert = f"{prefix}-tls-key", f"{prefix}-tls-cert"
        if key not in self.plan:
            host = self.host(component)
            names = [host, "localhost"]
            if self.bp.dns is not None:
                zone = self.bp.dns.zone.rstrip(".")
                names += [zone, f"*.{zone}"]
            self.add(PRIVATE_KEY, key, {"algorithm": "RSA", "rsa_bits": 2048}, secret_outputs=["private_key_pem"])
            self.add(CERTIFICATE, cert, {
                "private_key_pem": ref(key, "private_key_pem"),
                "subject": {"common_name": host, "organization": f"topoform {self.bp.blueprint}"},
                "dns_names": names,
                "ip_addresses": ["127.0.0.1"],
                "validity_period_hours": 24 * 365,
                "early_renewal_hours": 24 * 30,
                "allowed_uses": ["key_encipherment", "digital_signature", "server_auth"],
            })
        return ref(cert, "cert_pem"), ref(key, "private_key_pem")

    # ---------------------------------------------------------------- load balancers

    def compile_load_balancers(self, lb: LoadBalancer) -> None:
        prefix, host = self.prefix(lb), self.host(lb)
        path = ("load_balancers", lb.name)
        if lb.routes and any(route.host for route in lb.routes):
            index = next(i for i, route in enumerate(lb.routes) if route.host)
            raise self.unsupported("host-based routes are not supported by the docker target's haproxy config yet",
                                   "route by path only, or deploy with --target aws", *path, "routes", index, "host")
        copies = 1 if lb.redundancy == "none" else 2
        if lb.redundancy == "active-passive":
            self.warn("active-passive needs a floating address (keepalived), which Docker networks do not offer: "
                      "the docker target runs both balancer copies active behind one alias",
                      "use `redundancy: active-active` to say what runs", *path, "redundancy")
        tls = any(lst.tls for lst in lb.listeners)
        pem = None
        if tls:
            cert, key = self.certificate(lb)
            # haproxy's `crt` takes certificate and key in one PEM file.
            pem = {"file": HAPROXY_PEM, "content": f"{cert}{key}"}
        # Always check targets, like an AWS target group: without checks haproxy
        # keeps sending to a dead replica (and `source_hash` pins clients to it).
        check = lb.health_check or self._target_health(lb) or HealthCheckModel()
        health = configs.HaproxyHealthCheck(
            path=check.path if lb.layer == 7 else None, interval=check.interval,
            healthy=check.healthy, unhealthy=check.unhealthy, timeout=check.timeout)
        sticky = None
        if lb.sticky_sessions is not None:
            # A named cookie is the application's session cookie (AWS app_cookie): haproxy
            # must not replace it; without a name haproxy inserts its own (AWS lb_cookie).
            sticky = configs.HaproxyStickiness(cookie=lb.sticky_sessions.cookie or "SERVERID",
                                               duration=lb.sticky_sessions.duration,
                                               application_cookie=lb.sticky_sessions.cookie is not None)
        listeners = tuple(configs.HaproxyListener(lst.port, lst.tls, lst.redirect_to_https) for lst in lb.listeners)
        for site in self.running_sites():
            backends, routes = self._haproxy_backends(lb, site)
            text = _haproxy(configs.HaproxyContext(
                name=host, layer=lb.layer, algorithm=lb.algorithm, listeners=listeners, backends=backends,
                routes=routes, health_check=health, sticky=sticky, tls_cert=HAPROXY_PEM,
                stats_port=HAPROXY_STATS_PORT))
            uploads = [self.upload(HAPROXY_CFG, text)] + ([pem] if pem else [])
            published = []
            for i in range(copies):
                ports = [] if lb.internal else [self.publish(lst.port) for lst in lb.listeners]
                published.append(ports)
                self.container(
                    f"{prefix}{self.site_suffix(site)}-{i}", image=images.HAPROXY, site=site, aliases=[host],
                    uploads=uploads, ports=ports, memory_mb=256, cpus=0.5,
                    healthcheck=self.health(f"wget -q -O /dev/null http://127.0.0.1:{HAPROXY_STATS_PORT}/healthz"),
                    address=self.fixed_address(lb.ref, site),
                )
            self.published[(lb.ref, site)] = published
        self._export_edge(lb)
        self.export("copies", copies)

    def _target_health(self, lb: LoadBalancer) -> HealthCheckModel | None:
        """The target service's own health check when the balancer has one service behind it (as on AWS)."""
        targets = {item.target for item in (lb.routes or lb.targets or ())}
        if len(targets) != 1:
            return None
        return getattr(self.bp.component(targets.pop()), "health", None)

    def _haproxy_backends(self, lb: LoadBalancer, site: str):
        """Backends of explicit servers: every replica container by name, with its weight."""
        weighted = lb.algorithm == "weighted"
        if lb.layer == 4:
            servers = []
            for target in lb.targets or ():
                service = self.bp.component(target.target)
                port = target.port or service.port
                weight = target.weight if (weighted and target.weight is not None) else 1
                for i, address in enumerate(self.replica_names(target.target, site)):
                    servers.append(configs.HaproxyServer(f"{self.host(service)}-{i}", address, port, weight))
            return (configs.HaproxyBackend("targets", tuple(servers)),), ()
        backends: dict[str, configs.HaproxyBackend] = {}
        routes = []
        for route in lb.routes or ():
            service = self.bp.component(route.target)
            name = self.host(service)
            if name not in backends:
                servers = tuple(configs.HaproxyServer(f"{name}-{i}", address, service.port)
                                for i, address in enumerate(self.replica_names(route.target, site)))
                backends[name] = configs.HaproxyBackend(name, servers)
            routes.append(configs.HaproxyRoute(route.path, name, route.weight))
        return tuple(backends.values()), tuple(routes)

    # ---------------------------------------------------------------- nginx tiers

    def compile_reverse_proxies(self, proxy: ReverseProxy) -> None:
        upstream = self._nginx_upstream(proxy.upstream)
        static = None
        static_uploads: list[dict[str, Any]] = []
        if proxy.static is not None:
            static = configs.NginxStatic(location=proxy.static.path if proxy.static.path.endswith("/")
                                         else proxy.static.path + "/", directory=NGINX_STATIC)
            static_uploads = self.directory_uploads(proxy.static.directory, NGINX_STATIC,
                                                    ("reverse_proxies", proxy.name, "static", "directory"))
        cache = None
        if proxy.cache is not None:
            cache = configs.NginxCache(default_ttl=proxy.cache.ttl, max_size=proxy.cache.max_size,
                                       max_ttl=max(proxy.cache.ttl, 86400.0))
        rate = None
        if proxy.rate_limit is not None:
            rate = configs.NginxRateLimit(proxy.rate_limit.requests_per_second, proxy.rate_limit.burst)
        context = configs.NginxContext(
            name=self.host(proxy), port=80, upstream=upstream,
            tls=configs.NginxTls(443, NGINX_CERT, NGINX_KEY, redirect_http=True) if proxy.tls else None,
            compression=proxy.compression, cache=cache, static=static, rate_limit=rate,
            allow=tuple(proxy.allow), deny=tuple(proxy.deny))
        self._nginx_copies(proxy, context, static_uploads, proxy.replicas)

    def compile_cdns(self, cdn: Cdn) -> None:
        tls = configs.NginxTls(443, NGINX_CERT, NGINX_KEY, redirect_http=cdn.https_only)
        uploads: list[dict[str, Any]] = []
        if cdn.mode == "pull":
            cache = configs.NginxCache(default_ttl=cdn.ttl.default, min_ttl=cdn.ttl.min, max_ttl=cdn.ttl.max,
                                       max_size="1GiB")
            context = configs.NginxContext(name=self.host(cdn), upstream=self._nginx_upstream(cdn.origin), tls=tls,
                                           compression=cdn.compress, cache=cache)
        else:
            context = configs.NginxContext(name=self.host(cdn), root=NGINX_CDN_ROOT, root_ttl=cdn.ttl.default,
                                           tls=tls, compression=cdn.compress)
            uploads = self.directory_uploads(cdn.content, NGINX_CDN_ROOT, ("cdns", cdn.name, "content"))
            self.export("files", len(uploads))
        self._nginx_copies(cdn, context, uploads, 1)
        self.export("mode", cdn.mode)

    def _nginx_upstream(self, target_ref: str) -> configs.NginxUpstream:
        endpoint = self.endpoint(self.bp.component(target_ref))
        scheme = "https" if endpoint.scheme in ("https", "tls") else "http"
        return configs.NginxUpstream(endpoint.host, endpoint.port or 80, scheme)

    def _nginx_copies(self, component: ReverseProxy | Cdn, context: configs.NginxContext,
                      extra_uploads: list[dict[str, Any]], copies: int) -> None:
        prefix, host = self.prefix(component), self.host(component)
        uploads = [self.upload(NGINX_CONF, _nginx(context))]
        if context.tls is not None:
            cert, key = self.certificate(component)
            uploads += [{"file": NGINX_CERT, "content": cert}, {"file": NGINX_KEY, "content": key}]
        uploads += extra_uploads
        internal = [80] + ([443] if context.tls is not None else [])
        for site in self.running_sites():
            published = []
            for i in range(copies):
                ports = [self.publish(port) for port in internal]
                published.append(ports)
                name = f"{prefix}{self.site_suffix(site)}" + (f"-{i}" if copies > 1 else "")
                self.container(name, image=images.NGINX, site=site, aliases=[host], uploads=uploads, ports=ports,
                               memory_mb=256, cpus=0.5, healthcheck=self.health(_NGINX_ALIVE),
                               address=self.fixed_address(component.ref, site))
            self.published[(component.ref, site)] = published
        self._export_edge(component)

    def directory_uploads(self, directory: str, destination: str, path: tuple) -> list[dict[str, Any]]:
        """Every file under `directory` (relative to the blueprint), sorted by path, as uploads."""
        root = os.path.join(self.bp.base_dir, directory)
        if not os.path.isdir(root):
            raise self.unsupported(f"directory '{directory}' does not exist",
                                   f"create it (relative to the blueprint file: {root})", *path)
        found = []
        for current, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                full = os.path.join(current, name)
                found.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
        uploads = []
        for relative, full in sorted(found):
            with open(full, "rb") as handle:
                data = handle.read()
            target = f"{destination}/{relative}"
            try:
                uploads.append({"file": target, "content": literal(data.decode("utf-8"))})
            except UnicodeDecodeError:
                uploads.append({"file": target, "content_base64": base64.b64encode(data).decode("ascii")})
        return uploads

    def _export_edge(self, component: Component) -> None:
        endpoint = self.endpoint(component)
        self.export("host", endpoint.host)
        self.export("port", endpoint.port)
        self.export("url", endpoint.url)
        self.export_published(component.ref)

    # ---------------------------------------------------------------- DNS

    def compile_dns(self, dns: Dns) -> None:
        zone = dns.zone.rstrip(".")
        sites = list(self.sites)
        addresses = {site: self.sites[site].allocate() for site in sites}
        records = []
        check_intervals = []
        for r, record in enumerate(dns.records):
            endpoints = []
            for e, endpoint in enumerate(record.endpoints):
                for address in self._answers(record, r, e, endpoint):
                    endpoints.append(configs.DnsEndpoint(
                        address=address, weight=endpoint.weight, role=endpoint.role, default=endpoint.default,
                        continent=endpoint.continent, country=endpoint.country, region=endpoint.region))
            check = None
            if record.routing == "failover":
                hc = record.health_check or DnsHealthCheckModel()
                if hc.protocol == "tcp":
                    raise self.unsupported("PowerDNS checks failover endpoints over HTTP(S) only", "use `protocol: http`",
                                           "dns", "records", r, "health_check", "protocol")
                primary = next(ep for ep in record.endpoints if ep.role == "primary")
                if hc.port is not None or primary.target is None:
                    scheme, port, path = hc.protocol, hc.port or 80, hc.path
                else:
                    scheme, port, path = self.health_probe(self.bp.component(primary.target))
                    path = path or hc.path
                check_intervals.append(hc.interval)
                check = configs.DnsHealthCheck(path=path, port=port, scheme=scheme, interval=hc.interval,
                                               failure_threshold=hc.failure_threshold)
            records.append(configs.DnsRecord(record.name, record.routing, tuple(endpoints), check, record.ttl))
        rendered = configs.render_pdns_zone(configs.DnsZoneContext(
            zone=zone, records=tuple(records), ttl=dns.ttl, nameserver="ns1",
            nameserver_address=addresses[sites[0]]))
        by_name = {record.name: r for r, record in enumerate(dns.records)}
        for message in rendered.warnings:
            r = by_name.get(message.partition(":")[0])
            where = ("dns", "records", r, "routing") if r is not None else ("dns",)
            self.warn(message, None, *where)
        zone_file = f"{PDNS_DIR}/zones/{zone}.zone"
        pdns = configs.PdnsContext(zones=((zone, zone_file),), config_dir=PDNS_DIR, socket_dir="/tmp",
                                   health_check_interval=min(check_intervals, default=5.0))
        uploads = [
            self.upload(f"{PDNS_DIR}/pdns.conf", configs.render_pdns_conf(pdns)),
            self.upload(f"{PDNS_DIR}/named.conf", configs.render_pdns_named_conf(pdns)),
            self.upload(zone_file, rendered.text),
        ]
        ports = [self.publish(DNS_PORT, "udp"), self.publish(DNS_PORT, "tcp")]
        # Like Route53, DNS is global: one server on every site network, so it
        # answers (and health-checks) both sites.
        extra = [self.network_attachment(site, addresses[site], ["dns"]) for site in sites[1:]]
        self.container("dns-server", image=images.POWERDNS, site=sites[0], aliases=["dns"],
                       entrypoints=["pdns_server"],
                       command=[f"--config-dir={PDNS_DIR}", "--daemon=no", "--guardian=no", "--disable-syslog=yes",
                                "--write-pid=no"],
                       uploads=uploads, ports=ports, memory_mb=128, cpus=0.25, address=addresses[sites[0]],
                       extra_networks=extra,
                       healthcheck=self.health(f"pdns_control --config-dir={PDNS_DIR} rping"))
        self.export("zone", zone)
        self.export("nameserver", f"127.0.0.1:{ports[0].external}")
        self.export("query", f"dig @127.0.0.1 -p {ports[0].external} {dns.records[0].name if dns.records else 'ns1'}.{zone}")
        self.export("addresses", {f"{ref_}@{site}": ips for (ref_, site), ips in sorted(self.addresses.items())})

    def _answers(self, record, r: int, e: int, endpoint) -> list[str]:
        """Addresses an endpoint stands for: literal, or the fixed addresses of the component's copies."""
        if endpoint.value is not None:
            return [endpoint.value]
        site = endpoint.site
        if site not in self.running_sites():
            raise self.unsupported(
                f"{endpoint.target} does not run on the {site} site: the docker target runs the DR site's "
                f"copies only for `strategy: hot`",
                "use `strategy: hot`, or point the endpoint at the primary site",
                "dns", "records", r, "endpoints", e, "site")
        found = self.addresses.get((endpoint.target, site), [])
        if not found:
            raise self.unsupported(f"{endpoint.target} has no address on the {site} site",
                                   None, "dns", "records", r, "endpoints", e, "target")
        return found if record.routing == "simple" else found[:1]
