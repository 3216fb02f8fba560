"""The Docker target: a blueprint as containers on one Docker engine (a laptop).

Every blueprint component becomes pulumi_docker resources (plus pulumi_random
passwords and pulumi_tls certificates); nothing here imports pulumi — the
Plan is plain data that `providers/program.py` registers.

How the pieces meet (the contract between this module, `edge.py`,
`data.py` and `recovery.py`):
- Sites. "primary" always; "dr" when `disaster_recovery` is set. Each site is
  a user-defined bridge network `{blueprint}-{stack}-{site}`. A hot DR site
  runs the stateless tier, caches and queues again on its own network and
  feeds database replicas from the primary site.
- Hosts. A component is reached through a network alias shared by all its
  copies (`web` for every replica of services.web, so Docker's DNS
  round-robins). The alias is the component name, or `{prefix}-{name}` when two
  sections use the same name. Aliases are the same on both sites, so a
  service's environment is identical in the DR copy and points at the DR
  site's stores.
- Addresses. With a `dns` section, the networks get fixed subnets and every
  container that a DNS record answers with gets a fixed IPv4 address (DNS
  answers carry addresses, not names).
- Host ports. Only edge containers (balancers, reverse proxies, CDNs, DNS) and
  components marked `public: true` publish ports: port P inside is published
  on P+8000 (below 1024) or P+10000 on localhost, the next free one if taken,
  in walk order, so the same blueprint always gets the same ports.
- Protection. `protect` covers what a `destroy` must not lose: data volumes
  and the passwords that open them. Containers stay replaceable (a changed
  config replaces the container, never the data).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

from topoform.dsl.models import Blueprint, Component, Service, Slos
from topoform.providers.base import Compiler
from topoform.providers.plan import Plan, literal, ref

from .data import DataMixin
from .edge import EdgeMixin
from .recovery import RecoveryMixin

NETWORK = "docker:index/network:Network"
IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
PASSWORD = "random:index/randomPassword:RandomPassword"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
CERTIFICATE = "tls:index/selfSignedCert:SelfSignedCert"

PRIMARY, DR = "primary", "dr"
# Fixed subnets (only with a `dns` section) come from 10.128.0.0/9 in /20
# blocks picked by a hash of blueprint, stack and site: two stacks rarely
# collide, and the same stack always gets the same block. The lower half of
# a block holds fixed addresses, Docker hands out the upper half.
_SUBNET_POOL = ipaddress.IPv4Network("10.128.0.0/9")
_SUBNET_PREFIX = 20


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How other containers on a site reach a component."""

    scheme: str
    host: str
    port: int | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}"


@dataclass(slots=True)
class Site:
    """One site's network and the fixed addresses handed out on it."""

    name: str
    network: str  # resource name of the docker:index/network:Network
    subnet: ipaddress.IPv4Network | None = None
    _next: int = 2  # .1 is the gateway

    def allocate(self) -> str | None:
        """The next fixed address, or None when the network has no fixed subnet."""
        if self.subnet is None:
            return None
        if self._next >= self.subnet.num_addresses // 2:
            raise OverflowError(self.name)
        address = self.subnet.network_address + self._next
        self._next += 1
        return str(address)


@dataclass(slots=True)
class Published:
    """A port published on the host (for stack outputs: `http://localhost:8080`)."""

    internal: int
    external: int
    protocol: str = "tcp"


def seconds(value: float) -> str:
    """A Docker duration (`10s`, `500ms`)."""
    if value >= 1 and float(value).is_integer():
        return f"{int(value)}s"
    return f"{int(round(value * 1000))}ms"


class DockerCompiler(EdgeMixin, DataMixin, RecoveryMixin, Compiler):
    target = "docker"

    def __init__(self, bp: Blueprint, stack: str = "dev"):
        super().__init__(bp, stack)
        self.sites: dict[str, Site] = {}
        self._images: dict[str, str] = {}  # image reference → resource name
        self._used_ports: set[tuple[int, str]] = set()
        self._next_port: dict[int, int] = {}
        # Component refs whose containers need a fixed address: DNS answers them.
        self._addressed: set[str] = set()
        self.addresses: dict[tuple[str, str], list[str]] = {}  # (ref, site) → fixed IPs, in copy order
        self.published: dict[tuple[str, str], list[list[Published]]] = {}  # (ref, site) → per copy
        names = Counter(c.name for c in bp.components())
        self._hosts: dict[int, str] = {}
        self._shared_names = {name for name, count in names.items() if count > 1}
        if bp.dns is not None:
            for record in bp.dns.records:
                for endpoint in record.endpoints:
                    if endpoint.target:
                        self._addressed.add(endpoint.target)

    # ---------------------------------------------------------------- naming

    def physical(self, resource_name: str) -> str:
        """The Docker object name: unique per blueprint and stack on one engine."""
        return f"{self.bp.blueprint}-{self.stack}-{resource_name}"

    def host(self, component: Component) -> str:
        """The network alias every copy of `component` answers to."""
        key = id(component)  # pydantic private attributes are slow to read; hosts are asked for often
        host = self._hosts.get(key)
        if host is None:
            name = component.name
            host = self._hosts[key] = self.prefix(component) if name in self._shared_names else name
        return host

    @staticmethod
    def site_suffix(site: str) -> str:
        return "" if site == PRIMARY else f"-{site}"

    def running_sites(self) -> list[str]:
        """Sites where stateless components and caches run: the DR site too when it is hot."""
        dr = self.bp.disaster_recovery
        return [PRIMARY, DR] if dr is not None and dr.strategy == "hot" else [PRIMARY]

    def labels(self) -> list[dict[str, str]]:
        return [{"label": key.replace(":", "."), "value": value} for key, value in self.tags().items()]

    # ---------------------------------------------------------------- building blocks

    def image(self, reference: str) -> str:
        """`${image.image_id}` of a pulled image; one RemoteImage per distinct reference."""
        name = self._images.get(reference)
        if name is None:
            slug = "".join(ch if ch.isalnum() else "-" for ch in reference.lower()).strip("-")
            name = f"image-{slug}"
            while name in self.plan:  # two references that slug alike
                name += "-x"
            self._images[reference] = name
            previous, self._component = self._component, "platform"
            try:
                # keep_locally: `destroy` must not delete images other projects use.
                self.add(IMAGE, name, {"name": reference, "keep_locally": True})
            finally:
                self._component = previous
        return ref(name, "image_id")

    def volume(self, name: str, protect: bool) -> str:
        """A named volume for data that outlives its container; returns `${volume.name}`."""
        self.add(VOLUME, name, {"name": self.physical(name), "labels": self.labels()}, protect=protect)
        return ref(name, "name")

    def password(self, name: str, protect: bool) -> str:
        """`${password.result}`: generated once, kept in the (encrypted) state.

        Letters and digits only: the value lands in URLs, config files and
        shell scripts without quoting. Protected with the data it opens.
        """
        self.add(PASSWORD, name, {"length": 32, "special": False}, protect=protect, secret_outputs=["result"])
        return ref(name, "result")

    def upload(self, path: str, text: str, secrets: dict[str, str] | None = None,
               executable: bool = False) -> dict[str, Any]:
        """A file written into the container; `secrets` maps placeholders in `text` to references.

        The text is escaped first, so `${VAR}` in a shell script stays text,
        then each placeholder becomes a reference resolved at deploy time.
        """
        content = literal(text)
        for placeholder, value in (secrets or {}).items():
            if placeholder not in content:
                raise ValueError(f"placeholder {placeholder} missing from {path} (a provider bug)")
            content = content.replace(placeholder, value)
        item: dict[str, Any] = {"file": path, "content": content}
        if executable:
            item["executable"] = True
        return item

    def publish(self, internal: int, protocol: str = "tcp") -> Published:
        """A host port for `internal`: P+8000 below 1024, else P+10000, else the next free one."""
        base = internal + 8000 if internal < 1024 else internal + 10000
        if base > 65535:
            base = 20000 + internal % 10000
        key = base if protocol == "tcp" else -base
        candidate = self._next_port.get(key, base)
        while (candidate, protocol) in self._used_ports:
            candidate += 1
        if candidate > 65535:
            raise self.unsupported("ran out of host ports to publish on", None)
        self._used_ports.add((candidate, protocol))
        self._next_port[key] = candidate + 1
        return Published(internal, candidate, protocol)

    def fixed_address(self, component_ref: str, site: str) -> str | None:
        if component_ref not in self._addressed:
            return None
        try:
            address = self.sites[site].allocate()
        except OverflowError:
            raise self.unsupported(
                f"too many DNS-answered containers on the {site} site network "
                f"(at most {2 ** (32 - _SUBNET_PREFIX) // 2 - 2})", None, "dns") from None
        if address is not None:
            self.addresses.setdefault((component_ref, site), []).append(address)
        return address

    def container(self, name: str, *, image: str, site: str = PRIMARY, aliases: Iterable[str] = (),
                  envs: dict[str, str] | None = None, command: list[str] | None = None,
                  entrypoints: list[str] | None = None, uploads: list[dict[str, Any]] | None = None,
                  volumes: list[tuple[str, str]] | None = None, ports: list[Published] | None = None,
                  healthcheck: dict[str, Any] | None = None, memory_mb: int | None = None,
                  cpus: float | None = None, address: str | None = None,
                  extra_networks: list[dict[str, Any]] | None = None,
                  depends_on: list[str] | None = None, user: str | None = None,
                  hostname: str | None = None) -> str:
        """One container; returns its physical name (resolvable by Docker's DNS on every network it joins)."""
        network: dict[str, Any] = {"name": ref(self.sites[site].network, "name"), "aliases": sorted(set(aliases))}
        if address:
            network["ipv4_address"] = address
        props: dict[str, Any] = {
            "name": self.physical(name),
            "image": self.image(image),
            # Come back after a crash or a reboot of the engine, not after `docker stop`.
            "restart": "unless-stopped",
            "networks_advanced": [network, *(extra_networks or ())],
            "labels": self.labels(),
        }
        if envs:
            props["envs"] = [f"{key}={value}" for key, value in envs.items()]
        if entrypoints:
            props["entrypoints"] = entrypoints
        if command:
            props["command"] = command
        if user:
            props["user"] = user
        if hostname:
            props["hostname"] = hostname
        if uploads:
            props["uploads"] = uploads
        if volumes:
            props["volumes"] = [{"volume_name": vol, "container_path": path} for vol, path in volumes]
        if ports:
            props["ports"] = [{"internal": p.internal, "external": p.external, "protocol": p.protocol}
                              for p in ports]
            if any(p.internal < 1024 for p in ports):
                # Official haproxy/pdns images run unprivileged; let them bind 80/443/53
                # inside their own network namespace (no host privilege involved).
                props["sysctls"] = {"net.ipv4.ip_unprivileged_port_start": "0"}
        if healthcheck:
            props["healthcheck"] = healthcheck
        if memory_mb:
            props["memory"] = memory_mb
        if cpus:
            props["cpus"] = f"{cpus:g}"
        self.add(CONTAINER, name, props, depends_on=depends_on)
        return props["name"]

    def network_attachment(self, site: str, address: str | None = None,
                           aliases: Iterable[str] = ()) -> dict[str, Any]:
        """An extra network for a container that spans sites (DR replicas, DNS)."""
        item: dict[str, Any] = {"name": ref(self.sites[site].network, "name"), "aliases": sorted(set(aliases))}
        if address:
            item["ipv4_address"] = address
        return item

    @staticmethod
    def health(command: str, interval: float = 10.0, timeout: float = 5.0, retries: int = 3,
               start_period: float = 10.0) -> dict[str, Any]:
        return {"tests": ["CMD-SHELL", command], "interval": seconds(interval), "timeout": seconds(timeout),
                "retries": retries, "start_period": seconds(start_period)}

    # ---------------------------------------------------------------- outputs

    def export(self, key: str, value: Any) -> None:
        """An output of the current component: on its ComponentResource and as stack output `ref.key`."""
        info = self.plan.components[self._component]
        info.outputs[key] = value
        self.plan.outputs[f"{self._component}.{key}"] = value

    def export_published(self, component_ref: str) -> None:
        """`local_url`/`local_urls`: how to reach an edge component from the host."""
        urls: list[str] = []
        for site in self.running_sites():
            for copy in self.published.get((component_ref, site), []):
                for port in copy:
                    if port.protocol != "tcp":
                        continue
                    scheme = "https" if port.internal in self._tls_ports(component_ref) else "http"
                    urls.append(f"{scheme}://localhost:{port.external}")
        if urls:
            self.export("local_url", self._preferred_local(urls))
            self.export("local_urls", urls)

    @staticmethod
    def _preferred_local(urls: list[str]) -> str:
        return next((u for u in urls if u.startswith("https://")), urls[0])

    def _tls_ports(self, component_ref: str) -> set[int]:
        component = self.bp.component(component_ref)
        return self.tls_ports(component) if component is not None else set()

    # ---------------------------------------------------------------- interpolation

    def attribute(self, component: Component, attr: str) -> str:
        if attr == "name":
            return component.name
        if component.section == "databases":
            value = self.database_attribute(component, attr)  # type: ignore[arg-type]
            if value is not None:
                return value
        endpoint = self.endpoint(component)
        if attr == "host":
            return endpoint.host
        if attr == "port" and endpoint.port is not None:
            return str(endpoint.port)
        if attr == "url":
            return self.url(component)
        raise self.unsupported(f"{component.ref} has no attribute '{attr}' on the docker target", None,
                               *component.ref.split("."))

    def endpoint(self, component: Component) -> Endpoint:
        """Where other containers reach `component` (scheme, alias, port)."""
        section = component.section
        if section == "services":
            return Endpoint("http", self.host(component), component.port)  # type: ignore[attr-defined]
        if section in ("load_balancers", "reverse_proxies", "cdns"):
            return self.edge_endpoint(component)
        return self.data_endpoint(component)

    def url(self, component: Component) -> str:
        if component.section in ("databases", "caches", "queues"):
            return self.data_url(component)
        return self.endpoint(component).url

    # ---------------------------------------------------------------- the walk

    def compile_platform(self) -> None:
        sites = [PRIMARY] + ([DR] if self.bp.disaster_recovery is not None else [])
        for site in sites:
            name = f"net-{site}"
            props: dict[str, Any] = {"name": self.physical(site), "driver": "bridge", "labels": self.labels()}
            subnet = None
            if self.bp.dns is not None:
                subnet = self._subnet(site)
                half = list(subnet.subnets(prefixlen_diff=1))[1]
                props["ipam_configs"] = [{"subnet": str(subnet), "gateway": str(subnet.network_address + 1),
                                          "ip_range": str(half)}]
            self.add(NETWORK, name, props)
            self.sites[site] = Site(site, name, subnet)
            self.export(f"networks.{site}", ref(name, "name"))

    def _subnet(self, site: str) -> ipaddress.IPv4Network:
        digest = hashlib.sha256(f"{self.bp.blueprint}/{self.stack}/{site}".encode()).digest()
        blocks = 2 ** (_SUBNET_PREFIX - _SUBNET_POOL.prefixlen)
        index = int.from_bytes(digest[:4], "big") % blocks
        if site == DR and self._subnet_index(PRIMARY) == index:
            index = (index + 1) % blocks
        size = 2 ** (32 - _SUBNET_PREFIX)
        return ipaddress.IPv4Network((int(_SUBNET_POOL.network_address) + index * size, _SUBNET_PREFIX))

    def _subnet_index(self, site: str) -> int:
        digest = hashlib.sha256(f"{self.bp.blueprint}/{self.stack}/{site}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 2 ** (_SUBNET_PREFIX - _SUBNET_POOL.prefixlen)

    def compile_services(self, service: Service) -> None:
        prefix = self.prefix(service)
        host = self.host(service)
        envs = {key: self.interpolate(value) for key, value in service.env.items()}
        command = [self.interpolate(part) for part in service.command] if service.command else None
        healthcheck = None
        check = service.health
        if check is not None:
            port = check.port or service.port
            if port is None:
                raise self.unsupported(f"{service.ref} has a health check but no port to probe", "set `health.port`",
                                       "services", service.name, "health")
            url = f"http://127.0.0.1:{port}{check.path}"
            # Whatever the image carries: busybox wget, curl, or a Python runtime.
            probe = (f"wget -q -O /dev/null {url} || curl -fsS -o /dev/null {url} || "
                     f"python3 -c \"import urllib.request; urllib.request.urlopen('{url}', timeout={max(1, int(check.timeout))})\"")
            healthcheck = self.health(literal(probe), check.interval, check.timeout, check.unhealthy)
        memory_mb = max(6, service.memory // 1024**2)
        for site in self.running_sites():
            copies: list[list[Published]] = []
            for i in range(service.replicas):
                ports = [self.publish(service.port)] if service.public and service.port else []
                copies.append(ports)
                self.container(
                    f"{prefix}{self.site_suffix(site)}-{i}", image=service.image, site=site, aliases=[host],
                    envs=envs, command=command, ports=ports, healthcheck=healthcheck, memory_mb=memory_mb,
                    cpus=service.cpu / 1024, address=self.fixed_address(service.ref, site),
                )
            self.published[(service.ref, site)] = copies
        self.export("host", host)
        if service.port:
            self.export("port", service.port)
            self.export("url", self.endpoint(service).url)
        self.export("replicas", service.replicas)
        if service.public:
            self.export_published(service.ref)

    def compile_slos(self, slos: Slos) -> None:
        # Nothing to build: there is no metrics stack on a laptop. Say so
        # instead of pretending; `topoform report` still checks the design.
        self.warn("slos create no alarms on the docker target (there is no metrics service); "
                  "`topoform report` still checks the design against them",
                  "deploy with --target aws for CloudWatch alarms", "slos")
        for key in ("availability", "latency_p99", "error_rate"):
            value = getattr(slos, key)
            if value is not None:
                self.export(key, value)
