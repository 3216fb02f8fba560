"""The container API a drill uses, and its implementation on the Docker SDK.

Deliberately small: a drill lists, inspects, stops, starts and execs. It has
no way to remove a container, a network or a volume, so data survives any
drill (a stopped database keeps its volume; `start` brings it back).

The Docker SDK is imported only when a drill connects, so no other command
pays for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class EngineError(RuntimeError):
    """The engine could not be reached or refused a request."""


@dataclass
class ContainerInfo:
    id: str
    name: str
    labels: dict[str, str]
    status: str  # "running", "exited", ...
    health: str | None  # "healthy", "starting", "unhealthy", or None without a health check
    ports: dict[tuple[int, str], int] = field(default_factory=dict)  # (internal, proto) → host port
    volumes: list[str] = field(default_factory=list)  # names of the volumes it mounts


class ContainerAPI(Protocol):
    def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        """Every container (running or not) carrying all of `labels`."""

    def inspect(self, container_id: str) -> ContainerInfo: ...

    def stop(self, container_id: str, timeout: int) -> None: ...

    def start(self, container_id: str) -> None: ...

    def exec(self, container_id: str, command: list[str]) -> tuple[int, str]: ...


def _info(attrs: dict) -> ContainerInfo:
    state = attrs.get("State") or {}
    ports: dict[tuple[int, str], int] = {}
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, proto = key.split("/")
        for binding in bindings or []:
            if binding.get("HostPort"):
                ports.setdefault((int(port), proto), int(binding["HostPort"]))
    volumes = [m["Name"] for m in attrs.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name")]
    return ContainerInfo(attrs["Id"], attrs["Name"].lstrip("/"), dict((attrs.get("Config") or {}).get("Labels") or {}),
                         state.get("Status", ""), (state.get("Health") or {}).get("Status"), ports, volumes)


class DockerAPI:
    """ContainerAPI over a `docker.DockerClient` (low-level calls: one request each)."""

    def __init__(self, client) -> None:
        self.client = client

    def _call(self, what: str, fn, *args, **kwargs):
        import docker.errors

        try:
            return fn(*args, **kwargs)
        except docker.errors.DockerException as error:
            raise EngineError(f"{what}: {error}") from error

    def list(self, labels: dict[str, str]) -> list[ContainerInfo]:
        api = self.client.api
        found = self._call("list containers", api.containers, all=True,
                           filters={"label": [f"{k}={v}" for k, v in labels.items()]})
        return [self.inspect(c["Id"]) for c in found]

    def inspect(self, container_id: str) -> ContainerInfo:
        return _info(self._call(f"inspect {container_id[:12]}", self.client.api.inspect_container, container_id))

    def stop(self, container_id: str, timeout: int) -> None:
        self._call(f"stop {container_id[:12]}", self.client.api.stop, container_id, timeout=timeout)

    def start(self, container_id: str) -> None:
        self._call(f"start {container_id[:12]}", self.client.api.start, container_id)

    def exec(self, container_id: str, command: list[str]) -> tuple[int, str]:
        api = self.client.api
        created = self._call("exec", api.exec_create, container_id, command)
        output = self._call("exec", api.exec_start, created["Id"])
        code = self._call("exec", api.exec_inspect, created["Id"]).get("ExitCode")
        return (code if code is not None else -1), (output or b"").decode(errors="replace")


def connect(host: str | None = None) -> DockerAPI:
    """The engine named by `host`, else by DOCKER_HOST, else the default socket."""
    try:
        import docker
    except ImportError as error:  # a broken install: the package depends on it
        raise EngineError("the `docker` Python package is missing: pip install docker") from error
    try:
        client = docker.DockerClient(base_url=host) if host else docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise EngineError(f"no Docker engine answers ({host or 'DOCKER_HOST or the default socket'}): {error}") from error
    return DockerAPI(client)
