"""Fixtures for the end-to-end tests: a Docker engine and the stand-in images it runs.

``docker_client`` is a session fixture; every test in this folder that uses the engine is
marked ``docker_e2e`` (``-m "not docker_e2e"`` leaves them out). Where there is no
engine, or a stand-in image cannot be built, a test is skipped with the
reason, except in CI (``CI=true``), where that is a failure: CI installs
docker.io and debootstrap itself, so a missing engine there is a broken setup,
not an absent optional tool.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import NoReturn
from pathlib import Path

import docker
import pytest

from .engine import Engine, EngineUnavailable, acquire_engine

HERE = Path(__file__).resolve().parent


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`; in CI, fail with it instead."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the e2e environment must work here)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here that uses the engine (directly or through another fixture) docker_e2e."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents and "docker_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker_e2e)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """The engine (see engine.py); released, and stopped if we started it, at session end."""
    try:
        engine = acquire_engine()
    except EngineUnavailable as exc:
        unavailable(str(exc))
    try:
        yield engine
    finally:
        engine.release()


@pytest.fixture(scope="session")
def docker_client(docker_engine: Engine) -> docker.DockerClient:
    """A `docker.DockerClient` on a working engine."""
    return docker_engine.client


@pytest.fixture(scope="session")
def stand_in_images(docker_client: docker.DockerClient) -> Callable[[Iterable[str]], None]:
    """`ensure(tags)`: make every tag exist on the engine (built from its stand-in recipe if missing)."""

    from .images import ImageBuildError, ensure_images  # the builder is only needed by tests that ask

    def ensure(tags: Iterable[str]) -> None:
        try:
            ensure_images(docker_client, set(tags))
        except ImageBuildError as exc:
            unavailable(str(exc))

    return ensure
