"""`DockerContext`: the state of one Docker compile, handed to every builder.

The contract between the builders (`kinds/*`, `dns`, `recovery`, `slos`,
`networks`) is this object; they share nothing else:
- `names`: physical names and the network aliases components answer to.
- `sites`: the site networks, where components run, fixed addresses for DNS.
- `ports`: host ports published so far and each component's published copies.
- `containers`: images, containers, volumes and passwords added to the Plan.
- `endpoint(component)`: where other containers reach any component, asked
  of that component's kind module (every Docker kind module has
  `endpoint(ctx, component)` besides `build` and `attribute`).

Builders raise `ctx.unsupported(...)` to stop one component's build, or call
`ctx.refuse(...)` to record a problem and keep going; the walk collects them
all. Nothing here imports pulumi: the Plan is plain data that
`providers/program.py` registers.
"""

from __future__ import annotations

from typing import AbstractSet, Any, Callable, Mapping

from topoform.dsl.models import Blueprint, Component
from topoform.providers.base import BuildContext, UnsupportedError

from .containers import Containers
from .endpoint import Endpoint
from .names import Names
from .ports import Ports, Published
from .sites import Sites


class DockerContext(BuildContext):
    """A `BuildContext` with the Docker target's collaborators (see the module docstring)."""

    target = "docker"

    def __init__(self, bp: Blueprint, stack: str = "dev", kinds: Mapping[str, Any] | None = None):
        super().__init__(bp, stack, kinds)
        self.names = Names(bp, stack)
        self.sites = Sites(bp, stack, self.unsupported)
        self.ports = Ports(self.unsupported, bp.blueprint, stack)
        self.containers = Containers(self, self.names, self.sites)
        #: Components whose build was refused part-way: later passes (DNS) skip
        #: what they would have made instead of reporting it missing.
        self.failed: set[str] = set()
        self._warned_public: set[str] = set()

    def attempt(self, build: Callable[[], None]) -> None:
        """Run one build step; a refusal is recorded, and so is the component it stopped."""
        try:
            build()
        except UnsupportedError as exc:
            self.failed.add(self._component)
            self.problems.extend(exc.diagnostics)

    # ---------------------------------------------------------------- reaching components

    def endpoint(self, component: Component) -> Endpoint:
        """Where other containers reach `component` (scheme, alias, port)."""
        return self.kinds[component.section].endpoint(self, component)

    def publish_public(self, component: Component, internal: int) -> Published:
        """A host port on every interface for a `public: true` component, with a warning (once)."""
        if component.ref not in self._warned_public:
            self._warned_public.add(component.ref)
            self.warn(f"{component.ref} is public: its port is published on every interface (0.0.0.0), "
                      "reachable from any network this machine is on; everything else binds 127.0.0.1",
                      "drop `public: true` to keep it on this machine", component.section, component.name,
                      "public")
        return self.ports.publish(internal, everywhere=True)

    # ---------------------------------------------------------------- outputs

    def export(self, key: str, value: Any) -> None:
        """An output of the current component: on its ComponentResource and as stack output `ref.key`."""
        self.plan.components[self._component].outputs[key] = value
        self.plan.outputs[f"{self._component}.{key}"] = value

    def export_published(self, component: Component, tls_ports: AbstractSet[int] = frozenset()) -> None:
        """`local_url`/`local_urls`: how to reach a component from the host (https preferred)."""
        urls = self.ports.local_urls(component.ref, self.sites.running, tls_ports)
        if urls:
            self.export("local_url", next((u for u in urls if u.startswith("https://")), urls[0]))
            self.export("local_urls", urls)

    def export_endpoint(self, endpoint: Endpoint, url: str | None = None) -> None:
        """host, port and url outputs (`url` overrides the endpoint's, for URLs with credentials)."""
        self.export("host", endpoint.host)
        self.export("port", endpoint.port)
        self.export("url", url if url is not None else endpoint.url)
