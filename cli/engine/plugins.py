"""Provider plugins, pinned to the installed SDKs and installed before the first operation.

An inline program (Automation API) reports no required plugins to the
engine, so the engine would fetch whatever version it likes — or fail
offline. We
install exactly the versions the Python SDKs were generated for (each SDK's
`pulumi-plugin.json`), so the program and the provider agree on every
argument name.
"""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path
from typing import Iterable

# Type-token package → Python SDK module.
SDK_MODULES = {"aws": "pulumi_aws", "docker": "pulumi_docker", "random": "pulumi_random", "tls": "pulumi_tls"}


def sdk_plugin_version(package: str) -> str:
    """The plugin version of an installed SDK, read from its pulumi-plugin.json (without importing it)."""
    module = SDK_MODULES.get(package, f"pulumi_{package}")
    spec = find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the {module} SDK is not installed (pip install {module.replace('_', '-')})")
    manifest = Path(next(iter(spec.submodule_search_locations))) / "pulumi-plugin.json"
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


def packages_of(types: Iterable[str]) -> list[str]:
    """Provider packages used by resource type tokens, in a stable order (`topoform:` and `pulumi:` excluded)."""
    found = {token.split(":", 1)[0] for token in types}
    return sorted(found - {"topoform", "pulumi"})


def required_plugins(types: Iterable[str]) -> list[tuple[str, str]]:
    """[(name, "vX.Y.Z")] for the plugins a Plan's resources need."""
    return [(package, "v" + sdk_plugin_version(package)) for package in packages_of(types)]


def install_plugins(workspace, plugins: list[tuple[str, str]], on_progress=None) -> None:
    """`pulumi plugin install resource NAME VERSION` for each; the CLI skips what it already has."""
    for name, version in plugins:
        if on_progress:
            on_progress(f"provider plugin {name} {version}")
        workspace.install_plugin(name, version)
