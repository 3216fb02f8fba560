"""What the Docker compiler puts in Plans, made runnable on 127.0.0.1.

The renderer tests (test_haproxy.py, test_nginx.py, ...) feed hand-made
contexts to ``configs.py``; this module takes the other road: it compiles
real blueprints (``blueprints/*.yaml`` and ``tests/golden/valid/*.yaml``) with
``topoform.providers.compile_plan`` and collects, for every
``docker:index/container:Container``, the files the container would get
(``uploads``), its ``envs``, ``entrypoints`` and ``command``.

Two steps turn a container's files into files a Debian server can load:

1. *Resolve* the Plan's ``${RESOURCE.attr}`` references with deterministic
   test values (a password per RandomPassword, the test certificate for
   pulumi_tls outputs, the image name for ``image_id``) and ``$${`` into
   ``${`` — exactly what Pulumi does at deploy time.
2. *Rewrite for loopback*: Docker names and container ports become
   127.0.0.1 and free ports, absolute container paths move under a temp
   root. Each rewrite names the line it changes and fails if the line is not
   there, so a compiler change can never turn a rewrite (and the check that
   depends on it) into a silent no-op.

Nothing else in the text is touched: what the server loads is what the
container would load.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping

from topoform.dsl import validate_file
from topoform.providers import compile_plan
from topoform.providers.plan import REFERENCE_RE, Plan

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
PASSWORD = "random:index/randomPassword:RandomPassword"

#: Every blueprint the compiled-config checks cover: the examples and the golden valid files.
BLUEPRINTS: tuple[Path, ...] = tuple(sorted((ROOT / "blueprints").glob("*.yaml"))) + tuple(
    sorted((ROOT / "tests" / "golden" / "valid").glob("*.yaml")))
#: The blueprint that uses every section (hot DR, DNS, CDN, shards...).
EVERY_SECTION = ROOT / "blueprints" / "two-region-hot-dr.yaml"


def short(path: Path) -> str:
    """``blueprints/minimal-web`` for test ids and messages."""
    return str(path.relative_to(ROOT).with_suffix(""))


@lru_cache(maxsize=None)
def plan_of(path: Path) -> Plan:
    """The docker Plan of a blueprint file (validated first, like `topoform plan`)."""
    result = validate_file(str(path), target="docker")
    if not result.ok:
        raise AssertionError(f"{short(path)} does not validate:\n" + "\n".join(d.render() for d in result.diagnostics))
    return compile_plan(result.blueprint, "docker")


# --------------------------------------------------------------------------
# test values for deploy-time references
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class DeployValues:
    """What Pulumi would fill in at deploy time, made deterministic.

    cert_pem / key_pem: the test certificate and key (PEM text) for every
        pulumi_tls certificate (one certificate serves all components).
    """

    cert_pem: str = ""
    key_pem: str = ""

    @staticmethod
    def password(resource: str) -> str:
        # Letters and digits, like RandomPassword(special=False); distinct per resource.
        return "Pw" + hashlib.sha256(resource.encode()).hexdigest()[:22]

    def value(self, plan: Plan, resource: str, attr: str) -> str:
        res = plan.get(resource)
        if res.type == PASSWORD and attr == "result":
            return self.password(resource)
        if attr == "cert_pem" or attr == "private_key_pem":
            text = self.cert_pem if attr == "cert_pem" else self.key_pem
            if not text:
                raise AssertionError(f"{resource}.{attr} needs a test certificate (pass DeployValues(cert, key))")
            return text
        if res.type == IMAGE and attr == "image_id":
            return res.properties["name"]
        if attr == "name" and "name" in res.properties:
            return res.properties["name"]
        raise AssertionError(f"no test value for ${{{resource}.{attr}}} ({res.type})")


def resolve(plan: Plan, text: str, values: DeployValues) -> str:
    """Plan text → deploy-time text: references filled in, ``$${`` back to ``${``."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        return values.value(plan, match.group(1), match.group(2))
    return REFERENCE_RE.sub(replace, text)


# --------------------------------------------------------------------------
# containers and their files
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Upload:
    """One file of a container, as the Plan has it (references unresolved)."""

    file: str
    content: str | None
    content_base64: str | None
    executable: bool

    def text(self, container: "Compiled", values: DeployValues = DeployValues()) -> str:
        if self.content is None:
            raise AssertionError(f"{self.file} is binary")
        return resolve(container.plan, self.content, values)

    def data(self, container: "Compiled", values: DeployValues = DeployValues()) -> bytes:
        if self.content_base64 is not None:
            return base64.b64decode(self.content_base64)
        return self.text(container, values).encode()


@dataclass(frozen=True)
class Compiled:
    """One compiled container: where it came from and what it would run."""

    blueprint: Path
    name: str  # Plan resource name, e.g. lb-edge-0
    image: str  # image reference, e.g. haproxy:3.2-alpine
    envs: tuple[str, ...]
    command: tuple[str, ...]
    entrypoints: tuple[str, ...]
    uploads: tuple[Upload, ...]
    networks: tuple[dict, ...] = field(default=(), compare=False)

    @property
    def plan(self) -> Plan:
        return plan_of(self.blueprint)

    @property
    def id(self) -> str:
        return f"{self.blueprint.stem}:{self.name}"

    def upload(self, suffix: str) -> Upload:
        """The one upload whose path ends with ``suffix``."""
        found = [u for u in self.uploads if u.file.endswith(suffix)]
        if len(found) != 1:
            raise AssertionError(f"{self.id}: expected one upload ending in {suffix!r}, found "
                                 f"{[u.file for u in found]}")
        return found[0]

    def has(self, suffix: str) -> bool:
        return any(u.file.endswith(suffix) for u in self.uploads)

    def env(self, values: DeployValues = DeployValues()) -> dict[str, str]:
        """The container's environment, references resolved."""
        pairs = (resolve(self.plan, item, values).split("=", 1) for item in self.envs)
        return {key: value for key, value in pairs}

    def write_files(self, root: Path, values: DeployValues = DeployValues()) -> None:
        """Every upload at ``root`` + its container path (executable bit kept)."""
        for upload in self.uploads:
            target = root / upload.file.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(upload.data(self, values))
            if upload.executable:
                target.chmod(0o755)


def containers(blueprints: Iterable[Path] = BLUEPRINTS) -> list[Compiled]:
    """Every container of every blueprint, in Plan order."""
    found = []
    for path in blueprints:
        plan = plan_of(path)
        for res in plan.of_type(CONTAINER):
            props = res.properties
            image_ref = REFERENCE_RE.fullmatch(props["image"])
            image = plan.get(image_ref.group(1)).properties["name"] if image_ref else props["image"]
            uploads = tuple(Upload(u["file"], u.get("content"), u.get("content_base64"), bool(u.get("executable")))
                            for u in props.get("uploads", ()))
            found.append(Compiled(path, res.name, image, tuple(props.get("envs", ())),
                                  tuple(props.get("command", ())), tuple(props.get("entrypoints", ())), uploads,
                                  tuple(props.get("networks_advanced", ()))))
    return found


def distinct_files(suffix: str, blueprints: Iterable[Path] = BLUEPRINTS) -> list[tuple[Compiled, Upload]]:
    """(container, upload) for every distinct content of files ending in ``suffix``.

    Copies of one component (replicas, the DR site) often carry the same
    file; checking it once is enough, checking each variant is the point.
    """
    seen: set[str] = set()
    found = []
    for container in containers(blueprints):
        for upload in container.uploads:
            if upload.file.endswith(suffix):
                key = upload.content if upload.content is not None else upload.content_base64
                if key not in seen:
                    seen.add(key)
                    found.append((container, upload))
    return found


def find(blueprint: Path, name: str) -> Compiled:
    """The compiled container ``name`` (Plan resource name) of ``blueprint``."""
    for container in containers([blueprint]):
        if container.name == name:
            return container
    raise AssertionError(f"{short(blueprint)} has no container {name}")


# --------------------------------------------------------------------------
# rewriting for loopback
# --------------------------------------------------------------------------

def sub_required(pattern: str, replacement: str | Callable[[re.Match], str], text: str, what: str,
                 flags: int = re.M) -> str:
    """``re.sub`` that fails when ``pattern`` is absent: a rewrite must never silently do nothing."""
    new, count = re.subn(pattern, replacement, text, flags=flags)
    if not count:
        raise AssertionError(f"rewrite for loopback found no {what} (pattern {pattern!r}) in:\n{text}")
    return new


def haproxy_for_loopback(text: str, root: Path, *, binds: Mapping[int, int] | Callable[[int], int],
                         servers: Mapping[str, tuple[str, int]] | Callable[[str], tuple[str, int]],
                         nameserver: str, check_interval: str | None = None) -> str:
    """haproxy.cfg with every ``bind``/``server`` address on loopback and paths under ``root``.

    binds: container port → loopback port.
    servers: server name → (address, port) it should reach instead of a Docker name.
    nameserver: replaces Docker's 127.0.0.11:53 in ``resolvers docker``.
    check_interval: shortens ``inter``/``fastinter``/``downinter`` (rise/fall kept)
        so a dead backend is noticed in a test's time; None keeps them.
    """
    bind_of = binds if callable(binds) else binds.__getitem__
    server_of = servers if callable(servers) else servers.__getitem__
    text = sub_required(r"^(\s*bind )\*:(\d+)", lambda m: f"{m.group(1)}127.0.0.1:{bind_of(int(m.group(2)))}",
                        text, "bind line")

    def server(m: re.Match) -> str:
        host, port = server_of(m.group(2))
        return f"{m.group(1)}{m.group(2)} {host}:{port}"
    text = sub_required(r"^(\s*server )(\S+) \S+:\d+", server, text, "server line")
    text = sub_required(r"^(\s*nameserver \S+ )\S+", lambda m: m.group(1) + nameserver, text, "resolvers nameserver")
    if " crt " in text:
        text = sub_required(r" crt (/\S+)", lambda m: f" crt {root}{m.group(1)}", text, "TLS certificate path")
    if check_interval is not None:
        text = sub_required(r" inter \S+ fastinter \S+ downinter \S+",
                            f" inter {check_interval} fastinter {check_interval} downinter {check_interval}",
                            text, "health check timing")
    return text


def nginx_for_loopback(text: str, root: Path, prefix: Path, *, ports: Mapping[int, int],
                       upstream: tuple[str, int] | None, resolver: str) -> str:
    """nginx.conf runnable as root in ``prefix`` (pid, logs, temp and cache paths) on loopback ports.

    ports: container port (80, 443) → loopback port.
    upstream: (host, port) replacing the Docker name of the proxied origin.
    resolver: replaces Docker's 127.0.0.11.
    """
    # The image's workers run as `nginx`; Debian has no such user, and root
    # workers can use the temp prefix.
    text = sub_required(r"^user nginx;", "user root;", text, "user line")
    text = sub_required(r"^pid /var/run/nginx\.pid;", f"pid {prefix}/nginx.pid;", text, "pid line")
    text = sub_required(r"/var/cache/nginx", f"{prefix}/cache", text, "temp path")
    text = sub_required(r"^(\s*listen )(\d+)", lambda m: f"{m.group(1)}127.0.0.1:{ports[int(m.group(2))]}",
                        text, "listen line")
    for directory in ("/etc/nginx/certs/", "/usr/share/nginx/"):
        text = text.replace(f" {directory}", f" {root}{directory}")
    if upstream is not None:
        text = sub_required(r"^(\s*set \$origin \w+://)[^;]+;", lambda m: f"{m.group(1)}{upstream[0]}:{upstream[1]};",
                            text, "upstream origin")
    return sub_required(r"^(\s*resolver )\S+", lambda m: m.group(1) + resolver, text, "resolver line")


def redis_for_loopback(text: str, directory: Path, port: int, *, replicaof: tuple[str, int] | None = None,
                       maxmemory: int | None = None) -> str:
    """redis.conf on 127.0.0.1:``port`` with its data in ``directory``.

    replicaof: the loopback address of the primary a replica's Docker name stood for.
    maxmemory: a smaller limit (bytes) so a test can fill it quickly.
    """
    text = sub_required(r"^bind \S+$", "bind 127.0.0.1", text, "bind line")
    text = sub_required(r"^port \d+$", f"port {port}", text, "port line")
    text = sub_required(r"^dir \S+$", f"dir {directory}", text, "dir line")
    if replicaof is not None:
        text = sub_required(r"^replicaof \S+ \d+$", f"replicaof {replicaof[0]} {replicaof[1]}", text, "replicaof")
    if maxmemory is not None:
        text = sub_required(r"^maxmemory \d+$", f"maxmemory {maxmemory}", text, "maxmemory line")
    return text
