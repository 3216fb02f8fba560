"""Which image tags compiled Plans pin: what the stand-ins must provide."""

from __future__ import annotations

from pathlib import Path

from topoform.dsl.validate import load_blueprint
from topoform.providers import compile_plan

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "blueprints").glob("*.yaml"))
IMAGE_TYPE = "docker:index/remoteImage:RemoteImage"


def plan_image_tags(plan) -> set[str]:
    """The `name` of every RemoteImage in a compiled docker Plan."""
    return {resource.properties["name"] for resource in plan.of_type(IMAGE_TYPE)}


def blueprint_image_tags(path: Path) -> set[str]:
    return plan_image_tags(compile_plan(load_blueprint(str(path), target="docker"), "docker"))


def example_image_tags() -> set[str]:
    """Every tag the example blueprints' docker Plans pin, but the NoSQL servers no stand-in can be
    (docs/IMAGES.md, "API gateway and NoSQL images")."""
    from topoform.providers.docker.images import NO_STAND_IN

    tags: set[str] = set()
    for path in EXAMPLES:
        tags |= blueprint_image_tags(path)
    return tags - NO_STAND_IN
