"""Every property a docker Plan sets exists in the installed pulumi_docker, and pyproject's floor has it.

The Plan is plain data the program passes to the SDK's resource classes by
name: a property the installed SDK lacks fails only at `up`. `INTRODUCED`
records, for the properties added after the oldest 4.x releases, the first
pulumi-docker version that has them (read off the published wheels'
`_inputs.py`/`container.py`: 4.6.0 has neither `cpus` nor upload
`permissions`, 4.7.0 has both); pyproject's floor must be at least each.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pulumi_docker
import pytest

from topoform.dsl import load_blueprint
from topoform.providers import compile_plan

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "blueprints").glob("*.yaml")) + [REPO / "tests" / "e2e" / "blueprints" / "databases.yaml"]

#: (args class, property) → first pulumi-docker version that has it.
INTRODUCED = {
    ("ContainerArgs", "cpus"): (4, 7, 0),
    ("ContainerUploadArgs", "permissions"): (4, 7, 0),
}

#: Plan resource type → SDK args class; nested list properties → the args class of their items.
ARGS = {
    "docker:index/container:Container": "ContainerArgs",
    "docker:index/network:Network": "NetworkArgs",
    "docker:index/volume:Volume": "VolumeArgs",
    "docker:index/remoteImage:RemoteImage": "RemoteImageArgs",
}
NESTED = {
    ("ContainerArgs", "ports"): "ContainerPortArgs",
    ("ContainerArgs", "uploads"): "ContainerUploadArgs",
    ("ContainerArgs", "healthcheck"): "ContainerHealthcheckArgs",
    ("ContainerArgs", "networks_advanced"): "ContainerNetworksAdvancedArgs",
    ("ContainerArgs", "volumes"): "ContainerVolumeArgs",
    ("ContainerArgs", "labels"): "ContainerLabelArgs",
    ("NetworkArgs", "ipam_configs"): "NetworkIpamConfigArgs",
    ("NetworkArgs", "labels"): "NetworkLabelArgs",
    ("VolumeArgs", "labels"): "VolumeLabelArgs",
}


def _parameters(args_class: str) -> set[str]:
    return set(inspect.signature(getattr(pulumi_docker, args_class).__init__).parameters) - {"self", "__self__"}


def _used() -> set[tuple[str, str]]:
    """(args class, property) of every property any example's docker Plan sets."""
    used: set[tuple[str, str]] = set()
    for path in EXAMPLES:
        plan = compile_plan(load_blueprint(str(path), target="docker"), "docker", "sdk")
        for resource in plan.resources:
            args = ARGS.get(resource.type)
            if args is None:
                continue
            for key, value in resource.properties.items():
                used.add((args, key))
                nested = NESTED.get((args, key))
                for item in (value if isinstance(value, list) else [value] if nested else []):
                    if nested and isinstance(item, dict):
                        used.update((nested, sub) for sub in item)
    return used


def _floor() -> tuple[int, ...]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = next(d for d in deps if d.startswith("pulumi-docker"))
    return tuple(int(part) for part in re.search(r">=\s*([\d.]+)", spec).group(1).split("."))


def test_every_plan_property_exists_in_the_installed_sdk():
    used = _used()
    assert ("ContainerArgs", "cpus") in used and ("ContainerUploadArgs", "permissions") in used
    missing = sorted((cls, prop) for cls, prop in used if prop not in _parameters(cls))
    assert not missing, f"the Plan sets properties pulumi_docker {pulumi_docker.__name__} does not have: {missing}"


@pytest.mark.parametrize("where, version", sorted(INTRODUCED.items()))
def test_pyproject_floor_has_each_property_the_plan_uses(where, version):
    floor = _floor()
    floor += (0,) * (3 - len(floor))
    assert floor >= version, f"pyproject allows pulumi-docker {floor}, but {where} needs {version}"
