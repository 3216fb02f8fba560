"""Stage 2: the blueprint as validated, typed data (pydantic v2).

Every section of a blueprint is a model here. Models check shape, types and
units; rules that relate several fields or components live in `rules.py`
so they can point at the exact line of each field involved. Defaults are
documented on each field (the CDK habit: `@default`).
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated, Any, ClassVar, Iterator, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from . import shorthands, validators
from .kinds import REGISTRY
from .schema import AlsoAccepts, derived_default, written_defaults
from .units import DURATION_PATTERN, Duration, Percent, Size

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,38}$"
NAME_RE = re.compile(NAME_PATTERN)

# Blueprint section → the word used for one of its components in messages (dsl/kinds.py).
KINDS: dict[str, str] = {kind.section: kind.word for kind in REGISTRY}
TARGETS = ("docker", "aws")


class StrictModel(BaseModel):
    """Unknown keys are errors, and types are strict: YAML already types its
    scalars, so `replicas: "3"` or `fifo: yes-please` are mistakes to report,
    not to coerce (pydantic's lax mode would turn `replicas: true` into 1)."""

    # defer_build: each process takes its validators from the cache in validators.py rather than
    # generating every model's schema again at import (about 45 ms of a 0.3 s `validate`).
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=False, frozen=False,
                              json_schema_extra=written_defaults, defer_build=True)


def _version_text(value: Any) -> Any:
    """`version: 16` is written unquoted often enough to accept; `version: 10.10`
    would be the float 10.1, so a fractional number is refused with the fix."""
    if isinstance(value, bool):
        return value  # the str validator reports it
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError(f"version {value!r} was read as a number; write it in quotes, "
                         f"e.g. version: \"{value}\" (YAML reads 10.10 as 10.1)")
    return value


Version = Annotated[str, BeforeValidator(_version_text)]


# ---------------------------------------------------------------- references


class RefTo:
    """Marks a string field as a reference `kind.name` to a component of `kinds`."""

    __slots__ = ("kinds", "depends")

    def __init__(self, *kinds: str, depends: bool = True):
        self.kinds = kinds
        # False for back-links (a queue naming its consumers): they relate two
        # components without making one need the other first.
        self.depends = depends

    def __call__(self, value: str) -> str:
        # A message and a hint, split on the newline by the diagnostics stage.
        kind, _, name = value.partition(".")
        wanted = " or ".join(f"{KINDS[k]} ({k}.NAME)" for k in self.kinds)
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, list(KINDS), n=1, cutoff=0.6) if name else []
            if close:
                raise ValueError(f"'{value}' names no section '{kind}'\ndid you mean '{close[0]}.{name}'?")
            raise ValueError(f"'{value}' is not a reference\nwrite kind.name: a {wanted}")
        if not name or "." in name:
            raise ValueError(f"'{value}' is not a reference\nwrite kind.name: a {wanted}")
        if kind not in self.kinds:
            raise ValueError(f"'{value}' is a {KINDS[kind]}, but this field takes a {wanted}")
        return value


def _ref_pattern(kinds: tuple[str, ...]) -> str:
    return rf"^({'|'.join(kinds)})\.[a-z][a-z0-9-]*$"


def Ref(*kinds: str, depends: bool = True) -> Any:
    marker = RefTo(*kinds, depends=depends)
    return Annotated[
        str,
        AfterValidator(marker),
        marker,
        Field(json_schema_extra={"pattern": _ref_pattern(kinds)}),
    ]


def Short(long: Any, expand: Any, short_schema: dict[str, Any]) -> Any:
    """A field (or list item) of type `long` that also takes a short form: `expand`
    turns it into the long form before validation (see shorthands.py), and the
    JSON Schema offers both."""
    return Annotated[long, BeforeValidator(expand), AlsoAccepts(short_schema)]


def _ref_schema(what: str, *kinds: str) -> dict[str, Any]:
    return {"type": "string", "pattern": _ref_pattern(kinds), "description": what}


ServiceRef = Ref("services")
QueueRef = Ref("queues")
DatabaseRef = Ref("databases")
UpstreamRef = Ref("load_balancers", "services", "reverse_proxies")
EndpointRef = Ref("cdns", "load_balancers", "reverse_proxies", "services")


# ---------------------------------------------------------------- shared parts


class Component(StrictModel):
    """What every component has: an optional availability override and protection."""

    availability: Percent | None = Field(
        None, description="availability of one copy, overriding the documented default (e.g. 99.9%)"
    )
    _section: str = PrivateAttr("")
    _name: str = PrivateAttr("")

    # Read tens of thousands of times by the compilers; a private attribute goes
    # through pydantic's __getattr__ on every read, a cached_property once.
    # The Blueprint sets `_section` and `_name` before anything reads these.
    @functools.cached_property
    def section(self) -> str:
        """The blueprint section holding this component, e.g. `services`."""
        return self._section

    @functools.cached_property
    def name(self) -> str:
        return self._name

    @functools.cached_property
    def ref(self) -> str:
        return f"{self._section}.{self._name}"


class Stateful(Component):
    """Components that hold data: protected from deletion and encrypted by default."""

    protect: bool = Field(True, description="refuse to delete on `destroy`/replace (Pulumi protect); default true")
    encrypted: bool = Field(True, description="encryption at rest; default true")
    public: bool = Field(False, description="reachable from the internet; default false (and a lint warning if true)")


class HealthCheck(StrictModel):
    path: str = Field("/", description="HTTP path probed; default /")
    interval: Duration = Field(10.0, description="time between probes; default 10s")
    timeout: Duration = Field(5.0, description="probe timeout; default half the interval, at most 5s",
                              json_schema_extra=derived_default)
    healthy: int = Field(2, ge=1, le=10, description="successes to become healthy; default 2")
    unhealthy: int = Field(3, ge=1, le=10, description="failures to become unhealthy; default 3")
    port: int | None = Field(None, ge=1, le=65535, description="probe port; default the traffic port")

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> "HealthCheck":
        # A timeout nobody wrote must fit the interval that was written
        # (`interval: 5s` alone is fine). Set through __dict__ so that
        # `model_fields_set` still tells the rules which values were written.
        if "timeout" not in self.model_fields_set:
            self.__dict__["timeout"] = default_timeout(self.interval)
        return self


def default_timeout(interval: float) -> float:
    """Half the interval in whole seconds (what AWS takes), at most 5s: 10s → 5s, 5s → 2s, 1s → 500ms."""
    if interval >= 2:
        return min(5.0, float(interval // 2))
    return interval / 2


_PATH_SCHEMA = {"type": "string", "pattern": "^/", "description": "the HTTP path probed, every other setting default"}
_HealthShort = Short(HealthCheck, shorthands.health_path, _PATH_SCHEMA)


# ---------------------------------------------------------------- application


class Service(Component):
    """Stateless application containers (ECS Fargate on aws; N containers on docker)."""

    image: str = Field(..., min_length=1, description="container image, pinned by tag")
    port: int | None = Field(None, ge=1, le=65535, description="port the container listens on; none for workers")
    replicas: int = Field(1, ge=1, le=1000, description="number of copies; default 1")
    cpu: int = Field(256, ge=128, le=16384, description="Fargate CPU units on aws, a CPU quota on docker; default 256")
    memory: Size = Field(512 * 1024**2, description="memory limit; default 512MiB")
    command: list[str] | None = Field(None, description="overrides the image's command")
    health: _HealthShort | None = None
    env: dict[str, str | int | float | bool] = Field(default_factory=dict)
    consumes: Short(list[QueueRef], shorthands.one_reference, _ref_schema("one queue", "queues")) = Field(
        default_factory=list, description="queues this service reads")
    public: bool = Field(False, description="expose the service directly (without a balancer); default false")

    @model_validator(mode="after")
    def _env_as_strings(self) -> "Service":
        self.env = {k: _env_str(v) for k, v in self.env.items()}
        return self


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- edge


class Listener(StrictModel):
    port: int = Field(..., ge=1, le=65535)
    tls: bool = Field(False, description="terminate TLS here")
    redirect_to_https: bool = Field(False, description="answer with a redirect to https (port 443)")
    protocol: Literal["tcp", "udp", "tls", "http", "https"] | None = Field(
        None, description="derived from layer and tls when omitted"
    )


class Route(StrictModel):
    path: str = Field("/*", description="path pattern; default /*")
    host: str | None = Field(None, description="match a Host header too")
    target: ServiceRef
    weight: int | None = Field(None, description="relative share among routes with the same path and host")


class Target(StrictModel):
    target: ServiceRef
    port: int | None = Field(None, ge=1, le=65535, description="default: the service's port")
    weight: int | None = None


class Stickiness(StrictModel):
    cookie: str | None = Field(None, description="application cookie name; default: a balancer-generated cookie")
    duration: Duration = Field(3600.0, description="default 1h")


_SERVICE = _ref_schema("a service: routed on /* (a route), at its own port (a target)", "services")
_PORT_SCHEMA = {"type": "integer", "minimum": 1, "maximum": 65535,
                "description": "a port; 443 terminates TLS, any other port serves plain traffic"}


def _one_http_listener() -> list[Listener]:
    return [Listener(port=80)]


class LoadBalancer(Component):
    layer: Literal[4, 7] = Field(7, description="7: ALB / haproxy mode http; 4: NLB / haproxy mode tcp")
    algorithm: Literal["round_robin", "least_connections", "random", "source_hash", "weighted"] = "round_robin"
    listeners: list[Short(Listener, shorthands.listener, _PORT_SCHEMA)] = Field(  # type: ignore[valid-type]
        default_factory=_one_http_listener, min_length=1)
    routes: list[Short(Route, shorthands.target, _SERVICE)] | None = None  # type: ignore[valid-type]
    targets: list[Short(Target, shorthands.target, _SERVICE)] | None = None  # type: ignore[valid-type]
    sticky_sessions: Short(Stickiness | None, shorthands.stickiness, {
        "type": "boolean", "description": "true: sticky by a balancer cookie (by source address on layer 4)"}) = None
    health_check: _HealthShort | None = None
    redundancy: Literal["none", "active-passive", "active-active"] = Field(
        "none", description="docker: 2 balancer instances unless none; aws balancers are multi-AZ anyway"
    )
    internal: bool = Field(False, description="reachable only inside the network")


class RateLimit(StrictModel):
    requests_per_second: int = Field(..., ge=1)
    burst: int = Field(0, ge=0)


class ProxyCache(StrictModel):
    ttl: Duration = 60.0
    max_size: Size = 256 * 1024**2


class StaticFiles(StrictModel):
    path: str = Field(..., pattern=r"^/")
    directory: str


class ReverseProxy(Component):
    upstream: UpstreamRef
    tls: bool = False
    compression: bool = False
    cache: ProxyCache | None = None
    static: StaticFiles | None = None
    rate_limit: RateLimit | None = None
    deny: list[str] = Field(default_factory=list, description="client CIDRs refused with 403")
    allow: list[str] = Field(default_factory=list, description="if set, only these CIDRs are served")
    replicas: int = Field(1, ge=1, le=100)


class CdnTtl(StrictModel):
    default: Duration = Field(3600.0, description="for responses that set no TTL; default 1h")
    max: Duration = Field(86400.0, description="default 1d, or the default TTL if that is longer",
                          json_schema_extra=derived_default)
    min: Duration = 0.0

    @model_validator(mode="after")
    def _fit_unwritten(self) -> "CdnTtl":
        # `ttl: 2d` alone means "cache for 2 days": the unwritten maximum
        # makes room rather than contradicting it. Set through __dict__ so
        # `model_fields_set` still names what was written.
        if "max" not in self.model_fields_set and self.default > self.max:
            self.__dict__["max"] = self.default
        return self


class Cdn(Component):
    mode: Literal["pull", "push"]
    origin: UpstreamRef | None = Field(None, description="pull mode: the component content is fetched from")
    content: str | None = Field(None, description="push mode: a directory, relative to the blueprint file")
    ttl: Short(CdnTtl, shorthands.cdn_ttl, {"type": "string", "pattern": DURATION_PATTERN,
                                            "description": "the default TTL; min and max at their defaults"}
               ) = Field(default_factory=CdnTtl)
    https_only: bool = True
    compress: bool = True


class DnsHealthCheck(StrictModel):
    path: str = "/"
    interval: Duration = Field(30.0, description="10s or 30s on Route53; default 30s")
    failure_threshold: int = Field(3, ge=1, le=10)
    port: int | None = Field(None, ge=1, le=65535)
    protocol: Literal["http", "https", "tcp"] = "http"


class Endpoint(StrictModel):
    target: EndpointRef | None = None
    value: str | None = Field(None, description="a literal address or name instead of a component")
    weight: int | None = None
    role: Literal["primary", "secondary"] | None = None
    site: Literal["primary", "dr"] = "primary"
    continent: Literal["AF", "AN", "AS", "EU", "NA", "OC", "SA"] | None = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    region: str | None = None
    default: bool = False


class DnsRecord(StrictModel):
    name: str = Field(..., pattern=r"^(@|\*|[a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
    type: Literal["A", "AAAA", "CNAME"] | None = None
    routing: Literal["simple", "weighted", "latency", "geolocation", "failover"] = "simple"
    ttl: Duration | None = None
    health_check: Short(DnsHealthCheck, shorthands.health_path, _PATH_SCHEMA) | None = None  # type: ignore[valid-type]
    endpoints: list[Short(Endpoint, shorthands.target, _ref_schema(  # type: ignore[valid-type]
        "a component, with every other setting default", "cdns", "load_balancers", "reverse_proxies", "services"))
    ] = Field(..., min_length=1)


class Dns(StrictModel):
    zone: str = Field(..., pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}\.?$")
    zone_id: str | None = Field(None, pattern=r"^Z[A-Z0-9]{1,31}$",
                                description="aws: an existing Route53 hosted zone of `zone`, used instead of a new one")
    delegated: bool = Field(False, description="aws: the parent domain delegates `zone` to the zone Topoform "
                                               "created (output dns.name_servers); certificates validate only then")
    ttl: Duration = 60.0
    records: list[DnsRecord] = Field(default_factory=list)
    availability: Percent | None = None


# ---------------------------------------------------------------- data


class Replication(StrictModel):
    mode: Literal["none", "primary-replica", "multi-primary"] = "none"
    replicas: int = Field(1, ge=0, le=15, description="read replicas, or extra primaries; default 1")


class Sharding(StrictModel):
    shards: int | None = Field(None, ge=1, le=256)
    key: str | None = None
    strategy: Literal["consistent_hash", "range", "directory"] = "consistent_hash"
    virtual_nodes: int = Field(64, ge=1, le=4096, description="consistent_hash: points per shard on the ring")
    boundaries: list[int | str] | None = Field(None, description="range: the shards-1 split points")


class Backup(StrictModel):
    interval: Duration = Field(86400.0, description="default 1d")
    retention: Duration = Field(7 * 86400.0, description="default 7d")
    point_in_time: bool = False


DEFAULT_DB_VERSIONS = {"postgres": "16", "mysql": "8.4", "mariadb": "10.11"}


class Database(Stateful):
    engine: Literal["postgres", "mysql", "mariadb"] = "postgres"
    version: Version | None = Field(None, description="default: postgres 16, mysql 8.4, mariadb 10.11")
    size: Literal["small", "medium", "large"] = "small"
    storage: Size = 20 * 1024**3
    multi_az: bool = False
    replication: Replication = Field(default_factory=Replication)
    sharding: Sharding | None = None
    backup: Backup = Field(default_factory=Backup)
    database_name: str = Field("app", pattern=r"^[a-z][a-z0-9_]{0,62}$")

    @model_validator(mode="after")
    def _default_version(self) -> "Database":
        if self.version is None:
            self.version = DEFAULT_DB_VERSIONS[self.engine]
        else:
            self.version = str(self.version)
        return self

    @property
    def replica_count(self) -> int:
        return self.replication.replicas if self.replication.mode == "primary-replica" else 0

    @property
    def shard_count(self) -> int:
        return self.sharding.shards if self.sharding and self.sharding.shards else 1


EVICTION_POLICIES = (
    "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
    "allkeys-random", "volatile-random", "volatile-ttl", "noeviction",
)


class Cache(Stateful):
    engine: Literal["redis", "valkey", "memcached"] = "redis"
    version: Version | None = None
    memory: Size = 256 * 1024**2
    eviction: Literal[EVICTION_POLICIES] | None = None  # type: ignore[valid-type]
    replicas: int = Field(0, ge=0, le=5)
    strategy: Literal["cache-aside", "write-through", "write-behind", "refresh-ahead"] = "cache-aside"
    ttl: Duration | None = None
    in_front_of: DatabaseRef | None = None
    persistence: bool = Field(False, description="redis/valkey: append-only file on a volume")


class Queue(Stateful):
    kind: Literal["message", "task"] = "message"
    fifo: bool = False
    visibility_timeout: Duration = 30.0
    retention: Duration = 4 * 86400.0
    max_receives: int | None = Field(None, ge=1, le=1000, description="then to a dead-letter queue")
    max_depth: int | None = Field(None, ge=1, description="back pressure: producers are refused beyond this")
    consumers: list[Ref("services", depends=False)] = Field(default_factory=list)  # type: ignore[valid-type]


# ---------------------------------------------------------------- API gateways


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
VERSION_PATTERN = r"^v[0-9]+$"


class Jwt(StrictModel):
    """Bearer tokens checked before a request reaches a service: signature, issuer, audience, expiry."""

    issuer: str = Field(..., min_length=1, description="the `iss` every token must carry")
    audience: str = Field(..., min_length=1, description="the `aud` every token must carry")
    algorithm: Literal["HS256", "RS256"] = Field("RS256", description="HS256 (shared key) or RS256 (public key); "
                                                                      "default RS256")
    key: str | None = Field(None, min_length=1, description="docker: the HS256 shared secret or the RS256 public "
                                                            "key (PEM); aws reads the issuer's JWKS instead")


class GatewayAuth(StrictModel):
    jwt: Jwt | None = None
    api_keys: list[str] | None = Field(None, min_length=1, description="keys accepted in the X-Api-Key header")

    @model_validator(mode="after")
    def _one_scheme(self) -> "GatewayAuth":
        if (self.jwt is None) == (self.api_keys is None):
            raise ValueError("auth takes exactly one of `jwt` or `api_keys`\n"
                             "write auth: {jwt: {issuer: ..., audience: ..., key: ...}} or auth: {api_keys: [...]}")
        return self


def _cors_methods() -> list[str]:
    return ["GET", "POST"]


def _cors_headers() -> list[str]:
    return ["Authorization", "Content-Type"]


class Cors(StrictModel):
    origins: list[str] = Field(..., min_length=1, description="allowed origins, or [\"*\"]")
    methods: list[Literal[HTTP_METHODS]] = Field(default_factory=_cors_methods)  # type: ignore[valid-type]
    headers: list[str] = Field(default_factory=_cors_headers)
    max_age: Duration = Field(600.0, description="how long a browser keeps a preflight answer; default 10m")


class CircuitBreaker(StrictModel):
    failures: int = Field(5, ge=1, le=100, description="consecutive failures that open the circuit; default 5")
    cooldown: Duration = Field(30.0, description="how long an open circuit refuses the upstream; default 30s")


class GatewayRoute(StrictModel):
    path: str = Field(..., pattern=r"^/[A-Za-z0-9/_.-]*$", description="a path prefix, e.g. /orders")
    version: str | None = Field(None, pattern=VERSION_PATTERN, description="served under /VERSION/path, e.g. v1")
    methods: list[Literal[HTTP_METHODS]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="methods routed; default every method")
    target: ServiceRef
    auth: bool = Field(True, description="require the gateway's `auth`; default true")
    rate_limit: RateLimit | None = Field(None, description="per client on this route, on top of the gateway's")
    cache: Duration | None = Field(None, description="cache GET responses for this long")
    timeout: Duration | None = Field(None, description="default: the gateway's")
    retries: int | None = Field(None, ge=0, le=5, description="default: the gateway's")

    @property
    def full_path(self) -> str:
        return (f"/{self.version}" if self.version else "") + ("" if self.path == "/" and self.version else self.path)


class ApiGateway(Component):
    """One entry point in front of services: routes, versions, auth, limits, CORS, caching."""

    routes: list[GatewayRoute] = Field(..., min_length=1)
    auth: GatewayAuth | None = None
    rate_limit: RateLimit | None = Field(None, description="per client, over every route")
    max_body_size: Size = Field(1024**2, description="larger requests get 413; default 1MiB")
    allow: list[str] = Field(default_factory=list, description="if set, only these client CIDRs are served")
    deny: list[str] = Field(default_factory=list, description="client CIDRs refused with 403")
    cors: Cors | None = None
    timeout: Duration = Field(30.0, description="per upstream request; default 30s")
    retries: int = Field(1, ge=0, le=5, description="retries of a failed idempotent request; default 1")
    circuit_breaker: CircuitBreaker = Field(default_factory=CircuitBreaker)
    access_logs: bool = Field(True, description="one log line per request; default true")
    replicas: int = Field(1, ge=1, le=100, description="docker: gateway containers; aws is managed")
    domain: str | None = Field(None, pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$",
                               description="aws: a custom domain (ACM certificate, and an alias record in "
                                           "`dns.zone` when it lies in it)")

    @model_validator(mode="after")
    def _routes_unique(self) -> "ApiGateway":
        seen: dict[tuple[str, str], int] = {}
        for i, route in enumerate(self.routes):
            for method in route.methods or ("ANY",):
                key = (route.full_path, method)
                if key in seen:
                    raise ValueError(f"routes {seen[key]} and {i} both serve {method} {route.full_path}\n"
                                     "give each version and path one target")
                seen[key] = i
        if self.auth is None and any("auth" in r.model_fields_set and r.auth for r in self.routes):
            raise ValueError("a route asks for `auth: true` but the gateway has no `auth`\n"
                             "add auth: {jwt: ...} or auth: {api_keys: [...]}")
        return self


# ---------------------------------------------------------------- NoSQL stores


# DynamoDB's fields, which a Redis-protocol key-value store has no use for (refused where written).
DYNAMODB_ONLY = ("partition_key", "sort_key", "capacity", "read_capacity", "write_capacity", "ttl_attribute",
                 "streams")
MEMORYDB_MAX_REPLICAS = 5  # per shard (MemoryDB Developer Guide, "Quotas")


def _continuous_backup() -> Backup:
    return Backup(point_in_time=True)


class NoSqlKey(StrictModel):
    name: str = Field(..., pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
    type: Literal["string", "number", "binary"] = "string"


class NoSql(Stateful):
    """A non-relational store; `model` picks the data model and so the product on each target."""

    model: Literal["key-value", "document", "wide-column", "graph"]
    engine: Literal["dynamodb", "redis", "valkey"] = Field(
        "dynamodb", description="key-value: dynamodb (DynamoDB / dynamodb-local), or redis / valkey (MemoryDB / a "
                                "redis or valkey server with an fsync'd append-only file); default dynamodb")
    table: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$",
                              description="table, collection or keyspace table (redis, valkey: a name only, "
                                          "`${nosql.x.table}`); default the component name")
    partition_key: NoSqlKey | None = Field(None, description="key-value, wide-column: the partition (hash) key")
    sort_key: NoSqlKey | None = Field(None, description="key-value, wide-column: the sort (range/clustering) key")
    capacity: Literal["on-demand", "provisioned"] = "on-demand"
    read_capacity: int | None = Field(None, ge=1, description="provisioned: read units")
    write_capacity: int | None = Field(None, ge=1, description="provisioned: write units")
    ttl_attribute: str | None = Field(None, description="key-value: items expire at this epoch-seconds attribute")
    streams: bool = Field(False, description="key-value: a change stream (DynamoDB Streams)")
    replicas: int = Field(1, ge=0, le=15, description="document, graph: instances beside the primary; redis, "
                                                       "valkey: replicas per shard (at most 5); default 1")
    shards: int = Field(1, ge=1, le=500, description="redis, valkey: MemoryDB shards (docker runs one); default 1")
    size: Literal["small", "medium", "large"] = "small"
    backup: Backup = Field(default_factory=_continuous_backup)
    kms_key: bool = Field(True, description="aws: a customer-managed KMS key (rotated) rather than AWS's own")

    @field_validator("engine")
    @classmethod
    def _engine_of_key_value(cls, engine: str, info: ValidationInfo) -> str:
        if info.data.get("model", "key-value") != "key-value" and engine != "dynamodb":  # (the default is fine)
            raise ValueError(f"`engine` picks a key-value store's product; a {info.data['model']} store has one\n"
                             "remove `engine`")
        return engine

    @field_validator(*DYNAMODB_ONLY)
    @classmethod
    def _dynamodb_only(cls, value: Any, info: ValidationInfo) -> Any:
        engine = info.data.get("engine", "dynamodb")
        # The default written out (an editor filling in the schema's defaults) means nothing: fine.
        if info.data.get("model") == "key-value" and engine != "dynamodb" and \
                value != cls.model_fields[info.field_name].default:
            hint = ("keys are the application's; expiry is EXPIRE per key" if info.field_name == "ttl_attribute"
                    else "or use `engine: dynamodb`")
            raise ValueError(f"`{info.field_name}` is a DynamoDB setting; a {engine} store has none\n"
                             f"remove it ({hint})")
        return value

    @field_validator("replicas", "shards")
    @classmethod
    def _redis_layout(cls, value: int, info: ValidationInfo) -> int:
        redis = info.data.get("model") == "key-value" and info.data.get("engine", "dynamodb") != "dynamodb"
        if info.field_name == "shards" and not redis and value != 1:
            raise ValueError("`shards` is for redis and valkey key-value stores (MemoryDB shards)\nremove it")
        if info.field_name == "replicas" and redis and value > MEMORYDB_MAX_REPLICAS:
            raise ValueError(f"a MemoryDB shard takes at most {MEMORYDB_MAX_REPLICAS} replicas, but {value} were "
                             "asked\nadd `shards` to spread the data instead")
        return value

    @field_validator("backup")
    @classmethod
    def _no_pitr_on_redis(cls, backup: Backup, info: ValidationInfo) -> Backup:
        engine = info.data.get("engine", "dynamodb")
        if engine != "dynamodb" and backup.point_in_time and "point_in_time" in backup.model_fields_set:
            raise ValueError(f"a {engine} store has no point-in-time recovery: every acknowledged write is in its "
                             "append-only file (docker) or Multi-AZ transaction log (MemoryDB), and backups are "
                             "daily snapshots\nremove `point_in_time`")
        return backup

    @model_validator(mode="after")
    def _model_fields(self) -> "NoSql":
        if self.redis:
            return self  # the field validators above refused what it has no use for
        keyed = self.model in ("key-value", "wide-column")
        if keyed and self.partition_key is None:
            raise ValueError(f"a {self.model} store needs a `partition_key`\nwrite partition_key: {{name: id}}")
        if not keyed and (self.partition_key or self.sort_key):
            raise ValueError(f"partition_key and sort_key are for key-value and wide-column stores, "
                             f"not {self.model}\nremove them")
        if self.model != "key-value" and (self.ttl_attribute or self.streams):
            raise ValueError("ttl_attribute and streams are key-value (DynamoDB) settings\nremove them")
        provisioned = self.read_capacity is not None or self.write_capacity is not None
        if self.capacity == "provisioned" and (self.read_capacity is None or self.write_capacity is None):
            raise ValueError("provisioned capacity needs read_capacity and write_capacity\n"
                             "or use capacity: on-demand")
        if self.capacity == "on-demand" and provisioned:
            raise ValueError("read_capacity and write_capacity need capacity: provisioned")
        return self

    @property
    def table_name(self) -> str:
        return self.table or self.name.replace("-", "_")

    @property
    def redis(self) -> bool:
        """A key-value store on the Redis protocol (redis or valkey), not DynamoDB."""
        return self.model == "key-value" and self.engine != "dynamodb"


# ---------------------------------------------------------------- system


class DisasterRecovery(StrictModel):
    strategy: Literal["backup", "cold", "hot"]
    region: str | None = Field(None, description="aws: the DR region; docker: names the second site")
    rto: Duration | None = None
    rpo: Duration | None = None


# Where SLO alerts go: an email address, an https:// endpoint, or an SNS topic ARN.
ALERT_DESTINATION = r"^([^@\s]+@[^@\s]+\.[^@\s]+|https://\S+|arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+)$"


class Slos(StrictModel):
    availability: Percent | None = None
    latency_p99: Duration | None = None
    error_rate: Percent | None = None
    notify: list[Annotated[str, Field(pattern=ALERT_DESTINATION)]] = Field(
        default_factory=list, description="where alarms go: email addresses, https:// endpoints, SNS topic ARNs")


def _fis_duration(seconds: float) -> float:
    if not 60 <= seconds <= 43200:
        raise ValueError("a drill's fault lasts 1m to 12h (what AWS FIS accepts)\nwrite e.g. duration: 5m")
    return seconds


class Drills(StrictModel):
    """`drills: true`, or which components, how long and whether the SLO alarms stop a drill (aws: FIS templates)."""

    components: list[Ref("services", "databases", "caches", depends=False)] | None = Field(  # type: ignore[valid-type]
        None, description="default: every service, database and cache a fault-injection action can fail")
    duration: Annotated[Duration, AfterValidator(_fis_duration)] = Field(
        300.0, description="how long a timed fault lasts, 1m to 12h; default 5m")
    stop_on_slos: bool = Field(True, description="aws: the SLO alarms stop an experiment; default true")


def _drills_short(value: Any) -> Any:
    if isinstance(value, bool) or not (value is None or isinstance(value, dict)):
        if not isinstance(value, bool):
            raise ValueError(f"expected true, false or a mapping, but got {value!r}\nwrite drills: true, or "
                             "{components: [services.web], duration: 5m}")
        return {} if value else None
    return value


class Variable(StrictModel):
    type: Literal["string", "int", "number", "bool", "list", "map"] = "string"
    default: Any = None
    description: str | None = None
    sensitive: bool = False


class AwsSettings(StrictModel):
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    vpc_cidr: str = Field("10.0.0.0/16", pattern=r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$")
    availability_zones: int = Field(2, ge=1, le=6)
    certificate_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:acm:")


def _both_targets() -> list[str]:
    return ["docker", "aws"]


class Blueprint(StrictModel):
    """One system design. Every section but `blueprint` is optional."""

    blueprint: str = Field(..., pattern=NAME_PATTERN, description="the project / stack prefix")
    description: str | None = None
    targets: list[Literal["docker", "aws"]] = Field(
        default_factory=_both_targets, min_length=1,
        description="targets this blueprint supports; the first is the default",
    )
    aws: AwsSettings = Field(default_factory=AwsSettings)
    variables: dict[str, Variable] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = Field(default_factory=dict)
    reverse_proxies: dict[str, ReverseProxy] = Field(default_factory=dict)
    cdns: dict[str, Cdn] = Field(default_factory=dict)
    dns: Dns | None = None
    databases: dict[str, Database] = Field(default_factory=dict)
    caches: dict[str, Cache] = Field(default_factory=dict)
    queues: dict[str, Queue] = Field(default_factory=dict)
    api_gateways: dict[str, ApiGateway] = Field(default_factory=dict)
    nosql: dict[str, NoSql] = Field(default_factory=dict)
    disaster_recovery: DisasterRecovery | None = None
    slos: Slos | None = None
    drills: Short(Drills | None, _drills_short, {"type": "boolean", "description": "true: every drillable "  # type: ignore[valid-type]
                  "component, the defaults"}) = None

    # Set by the loader: where the file is (push CDN content is relative to it)
    # and the variable values in force.
    _base_dir: str = PrivateAttr(".")
    _file: str = PrivateAttr("<blueprint>")
    _variables: dict[str, Any] = PrivateAttr(default_factory=dict)
    _source: Any = PrivateAttr(None)  # the loader's SourceMap: where each value was written

    SECTIONS: ClassVar[tuple[str, ...]] = tuple(KINDS)

    @model_validator(mode="after")
    def _name_components(self) -> "Blueprint":
        for kind in KINDS:
            for name, component in getattr(self, kind).items():
                component._section = kind
                component._name = name
        return self

    @property
    def base_dir(self) -> str:
        return self._base_dir

    @property
    def file(self) -> str:
        return self._file

    @property
    def source(self) -> Any:
        return self._source

    @property
    def variable_values(self) -> dict[str, Any]:
        return dict(self._variables)

    def components(self) -> Iterator[Component]:
        """Every component, section by section in the order of KINDS, then by name as written."""
        for kind in KINDS:
            yield from getattr(self, kind).values()

    def component(self, ref: str) -> Component | None:
        kind, _, name = ref.partition(".")
        if kind not in KINDS:
            return None
        return getattr(self, kind).get(name)

    @property
    def default_target(self) -> str:
        return self.targets[0]


# Last, once every model exists: their validators, from the cache between processes (validators.py).
MODELS = [value for value in list(globals().values())
          if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == __name__]
FROM_CACHE = validators.install(MODELS)
