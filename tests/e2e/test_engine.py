"""The e2e engine and the stand-in images work: the ground the end-to-end suite stands on.

Containers run on a user-defined network this module creates, publish only to 127.0.0.1, and
are removed afterwards (the engine's egress rule keeps them off every other network).
"""

from __future__ import annotations

import re
import socket
import time
import uuid

import docker
import pytest

from topoform.dsl.validate import load_blueprint
from topoform.providers import compile_plan

from .images import CONTRACTS, ImageBuildError, contract_for, ensure_images
from .images.builder import LABEL, tag_dockerfile
from .images.plans import EXAMPLES, blueprint_image_tags, example_image_tags

CONTAINER = "docker:index/container:Container"
REFERENCE = re.compile(r"\$\{[^}]+\}")
READY_TIMEOUT = 90  # seconds: initdb and the temporary server on a busy 2-core machine


@pytest.fixture(scope="module")
def network(docker_client: docker.DockerClient):
    net = docker_client.networks.create(f"tf-images-{uuid.uuid4().hex[:8]}", driver="bridge")
    try:
        yield net
    finally:
        net.reload()
        for container in net.containers:
            container.remove(force=True, v=True)
        net.remove()


def test_engine_answers(docker_client):
    assert docker_client.ping() is True
    assert docker_client.version()["ApiVersion"]


def test_every_tag_an_example_plan_pins_exists_as_a_stand_in(docker_client, stand_in_images):
    tags = example_image_tags()
    assert "postgres:16-bookworm" in tags and "haproxy:3.2-alpine" in tags  # the examples are what we think
    stand_in_images(tags)
    for tag in sorted(tags):
        image = docker_client.images.get(tag)
        assert tag in image.tags
        assert image.labels.get(LABEL), f"{tag} is not a stand-in built by tests/e2e/images"


def test_haproxy_stand_in_runs_haproxy_v(docker_client, stand_in_images, network):
    stand_in_images({"haproxy:3.2-alpine"})
    output = docker_client.containers.run("haproxy:3.2-alpine", ["haproxy", "-v"], network=network.name,
                                          remove=True, stdout=True, stderr=True)
    assert re.search(rb"HA-?Proxy version \d+\.\d+", output), output[:500]


def _plan_postgres_container():
    """The first plain postgres server in a compiled example Plan (no uploads, no entrypoint override)."""
    for path in EXAMPLES:
        if "postgres:16-bookworm" not in blueprint_image_tags(path):
            continue
        plan = compile_plan(load_blueprint(str(path), target="docker"), "docker")
        for resource in plan.of_type(CONTAINER):
            props = resource.properties
            if props["image"].startswith("${image-postgres-") and not props.get("uploads") \
                    and not props.get("entrypoints") and props.get("healthcheck"):
                return path.name, props
    pytest.fail("no example Plan has a plain postgres container")


def _resolved_env(envs: list[str]) -> list[str]:
    """The Plan's environment with each `${resource.attr}` reference (a generated password) filled in."""
    return [REFERENCE.sub("stand-in-secret-1", entry) for entry in envs]


def test_postgres_stand_in_starts_with_the_plans_env_and_answers_pg_isready(docker_client, stand_in_images,
                                                                              network):
    blueprint, props = _plan_postgres_container()
    stand_in_images({"postgres:16-bookworm"})
    env = _resolved_env(props["envs"])
    assert any(e.startswith("POSTGRES_PASSWORD=") for e in env), env
    health = props["healthcheck"]["tests"]
    assert health[0] == "CMD-SHELL" and "pg_isready" in health[1]
    container = docker_client.containers.run(
        "postgres:16-bookworm", environment=env, network=network.name, detach=True,
        ports={"5432/tcp": ("127.0.0.1", None)})
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        result = None
        while time.monotonic() < deadline:
            container.reload()
            assert container.status != "exited", container.logs()[-3000:].decode(errors="replace")
            result = container.exec_run(["/bin/sh", "-c", health[1]])
            if result.exit_code == 0:
                break
            time.sleep(1)
        assert result is not None and result.exit_code == 0, (
            f"{blueprint}: `{health[1]}` never succeeded: {result.output if result else ''!r}\n"
            + container.logs()[-3000:].decode(errors="replace"))
        # The published port answers on 127.0.0.1 only.
        binding = container.ports["5432/tcp"][0]
        assert binding["HostIp"] == "127.0.0.1"
        with socket.create_connection(("127.0.0.1", int(binding["HostPort"])), timeout=5):
            pass
    finally:
        container.remove(force=True, v=True)


# The recipes cover what the Docker target pins (no engine needed).

def test_every_image_the_docker_target_pins_has_a_recipe():
    from topoform.providers.docker import images

    pinned = {getattr(images, name) for name in ("HAPROXY", "NGINX", "POWERDNS", "RABBITMQ", "MEMCACHED",
                                                  "REDIS", "VALKEY")}
    pinned |= example_image_tags()
    for path in sorted((EXAMPLES[0].parents[1] / "tests" / "golden" / "valid").glob("*.yaml")):
        pinned |= blueprint_image_tags(path)
    for tag in sorted(pinned):
        assert contract_for(tag).matches(tag)


def test_a_tag_without_a_recipe_is_refused_by_name_before_anything_is_built():
    with pytest.raises(ImageBuildError, match=r"no stand-in recipe for image 'postgres:16-alpine'"):
        ensure_images(None, {"postgres:16-bookworm", "postgres:16-alpine"})  # type: ignore[arg-type]


def test_recipes_keep_what_the_official_images_lack_out_and_docs_name_every_tag():
    python = tag_dockerfile(contract_for("python:3.12-slim"))
    assert "RUN rm -f /usr/bin/wget /usr/bin/curl" in python and "ENTRYPOINT" not in python
    postgres = tag_dockerfile(contract_for("postgres:16-bookworm"))
    assert 'ENV PGDATA="/var/lib/postgresql/data"' in postgres and "STOPSIGNAL SIGINT" in postgres
    docs = (EXAMPLES[0].parents[1] / "docs" / "IMAGES.md").read_text()
    for contract in CONTRACTS:
        for tag in contract.known_tags:
            assert f"`{tag.split(':')[0]}:" in docs, f"docs/IMAGES.md does not describe {tag}"
