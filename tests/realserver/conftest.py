"""Fixtures that run real server programs (Debian packages) on 127.0.0.1.

Each server runs in a temp directory on a free loopback port, is waited for
with a bounded timeout and is killed (its whole process group) at teardown,
so a failing test never leaves a server behind. Helpers live in harness.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .harness import Launcher, require


@pytest.fixture
def launcher(tmp_path):
    launch = Launcher(tmp_path)
    try:
        yield launch
    finally:
        launch.stop_all()


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory):
    launch = Launcher(tmp_path_factory.mktemp("servers"))
    try:
        yield launch
    finally:
        launch.stop_all()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> dict[str, Path]:
    """Self-signed certificate made by openssl: ``cert``, ``key`` and ``pem`` (both, for haproxy)."""
    openssl = require("openssl", "openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    (d / "both.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    return {"cert": d / "cert.pem", "key": d / "key.pem", "pem": d / "both.pem"}
