"""The e2e engine answers (the stand-in image checks follow in this file)."""

from __future__ import annotations


def test_engine_answers(docker_client):
    assert docker_client.ping() is True
    assert docker_client.version()["ApiVersion"]
