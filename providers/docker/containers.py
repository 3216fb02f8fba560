"""The Docker building blocks every kind uses: images, containers, volumes, passwords, uploads.

Protection covers what a `destroy` must not lose: data volumes and the
passwords that open them (`protect`). Containers stay replaceable: a changed
config replaces the container, never the data.

`Containers` adds resources through the build context, so each resource
belongs to the component being built; pulled images belong to the platform
(one RemoteImage per distinct reference, shared by every component).
"""

from __future__ import annotations

from typing import Any, Iterable

from topoform.dsl.models import Component
from topoform.providers.base import PLATFORM, BuildContext
from topoform.providers.plan import literal, ref

from .names import Names
from .ports import Published
from .sites import PRIMARY, Sites

# Resource types: pulumi_docker's, and pulumi_random's for generated passwords.
NETWORK, IMAGE = "docker:index/network:Network", "docker:index/remoteImage:RemoteImage"
CONTAINER, VOLUME = "docker:index/container:Container", "docker:index/volume:Volume"
PASSWORD = "random:index/randomPassword:RandomPassword"

#: The application's login on every data store (databases, queues).
APP_USER = "app"
#: Mode of uploaded scripts: executable by whichever user the image runs them as.
EXECUTABLE_MODE = "0755"
#: Seconds a container with data gets between SIGTERM and SIGKILL on stop,
#: replacement and destroy (the provider's default is none: SIGKILL at once).
STOP_GRACE_SECONDS = 60


def password_ref(component: Component) -> str:
    """`${…-password.result}`: the application password of a data store, for its URL."""
    return ref(f"{BuildContext.prefix(component)}-password", "result")


def seconds(value: float) -> str:
    """A Docker duration (`10s`, `500ms`)."""
    if value >= 1 and float(value).is_integer():
        return f"{int(value)}s"
    return f"{int(round(value * 1000))}ms"


def health(command: str, interval: float = 10.0, timeout: float = 5.0, retries: int = 3,
           start_period: float = 10.0) -> dict[str, Any]:
    """A container healthcheck running `command` in a shell."""
    return {"tests": ["CMD-SHELL", command], "interval": seconds(interval), "timeout": seconds(timeout),
            "retries": retries, "start_period": seconds(start_period)}


def upload(path: str, text: str, secrets: dict[str, str] | None = None,
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
        # `executable` alone gives 0744: images that run their init scripts as
        # their own user (postgres, mysql) then *source* the script instead.
        item["executable"] = True
        item["permissions"] = EXECUTABLE_MODE
    return item


class Containers:
    """Adds containers and what they need (images, volumes, passwords) to the Plan."""

    def __init__(self, ctx: BuildContext, names: Names, sites: Sites):
        self._ctx, self._names, self._sites = ctx, names, sites
        self._images: dict[str, str] = {}  # image reference → resource name

    def labels(self) -> list[dict[str, str]]:
        """Docker labels of the component being built (the Plan's tags, with dots)."""
        return [{"label": key.replace(":", "."), "value": value} for key, value in self._ctx.tags().items()]

    def image(self, reference: str) -> str:
        """`${image.image_id}` of a pulled image; one RemoteImage per distinct reference."""
        name = self._images.get(reference)
        if name is None:
            slug = "".join(ch if ch.isalnum() else "-" for ch in reference.lower()).strip("-")
            name = f"image-{slug}"
            while name in self._ctx.plan:  # two references that slug alike
                name += "-x"
            self._images[reference] = name
            with self._ctx.owning(PLATFORM):
                # keep_locally: `destroy` must not delete images other projects use.
                self._ctx.add(IMAGE, name, {"name": reference, "keep_locally": True})
        return ref(name, "image_id")

    def volume(self, name: str, protect: bool) -> str:
        """A named volume for data that outlives its container; returns `${volume.name}`."""
        self._ctx.add(VOLUME, name, {"name": self._names.physical(name), "labels": self.labels()}, protect=protect)
        return ref(name, "name")

    def password(self, name: str, protect: bool) -> str:
        """`${password.result}`: generated once, kept in the (encrypted) state.

        Letters and digits only: the value lands in URLs, config files and
        shell scripts without quoting. Protected with the data it opens.
        """
        self._ctx.add(PASSWORD, name, {"length": 32, "special": False}, protect=protect, secret_outputs=["result"])
        return ref(name, "result")

    def attachment(self, site: str, address: str | None = None, aliases: Iterable[str] = ()) -> dict[str, Any]:
        """A container's place on a site network (its first, or an extra one for DR replicas and DNS)."""
        item: dict[str, Any] = {"name": ref(self._sites[site].network, "name"), "aliases": sorted(set(aliases))}
        if address:
            item["ipv4_address"] = address
        return item

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
        props: dict[str, Any] = {
            "name": self._names.physical(name),
            "image": self.image(image),
            # Come back after a crash or a reboot of the engine, not after `docker stop`.
            "restart": "unless-stopped",
            "networks_advanced": [self.attachment(site, address, aliases), *(extra_networks or ())],
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
            # Databases and brokers flush and close their files on SIGTERM.
            props["destroy_grace_seconds"] = STOP_GRACE_SECONDS
        if ports:
            props["ports"] = [{"internal": p.internal, "external": p.external, "ip": p.ip,
                               "protocol": p.protocol} for p in ports]
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
        self._ctx.add(CONTAINER, name, props, depends_on=depends_on)
        return props["name"]
