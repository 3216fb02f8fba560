"""Probes the e2e tests send: HTTP(S) and DNS to 127.0.0.1 published ports, commands via `docker exec`.

Nothing here talks to any address but 127.0.0.1: the host side of the
network rule. Redirects are never followed automatically; a test that
follows one checks first that it points back at 127.0.0.1/localhost.
"""

from __future__ import annotations

import http.client as httpclient
import ssl
import subprocess
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _unverified() -> ssl.SSLContext:
    """TLS without verification: the certificates are the Plan's self-signed ones (tests compare them)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _connection(port: int, tls: bool, timeout: float) -> httpclient.HTTPConnection:
    if tls:
        return httpclient.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=_unverified())
    return httpclient.HTTPConnection("127.0.0.1", port, timeout=timeout)


def http(port: int, path: str = "/", *, tls: bool = False, host: str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5.0, method: str = "GET") -> Reply:
    """One request to 127.0.0.1:`port`; a self-signed certificate is accepted (we test that TLS ends there)."""
    conn = _connection(port, tls, timeout)
    try:
        all_headers = {"Host": host or f"127.0.0.1:{port}", "Connection": "close", **(headers or {})}
        conn.request(method, path, headers=all_headers)
        response = conn.getresponse()
        body = response.read()
        lowered = {k.lower(): v for k, v in response.getheaders()}
        cookies = [v for k, v in response.getheaders() if k.lower() == "set-cookie"]
        return Reply(response.status, lowered, body, cookies)
    finally:
        conn.close()


def peer_certificate(port: int, timeout: float = 5.0) -> bytes:
    """The DER certificate 127.0.0.1:`port` presents."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with _unverified().wrap_socket(raw, server_hostname="localhost") as wrapped:
            return wrapped.getpeercert(binary_form=True)


def local_url(url: str) -> tuple[str, int, str]:
    """(scheme, port, path) of a URL that must point at this host; AssertionError otherwise."""
    parts = urlsplit(url)
    assert parts.hostname in LOCAL_HOSTS, f"{url} leaves the host (network rule): not followed"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def wait_http(port: int, path: str = "/", timeout: float = 60.0, **kwargs: Any) -> Reply:
    """The first answer below 500 within `timeout` seconds; the last error otherwise."""
    deadline = time.monotonic() + timeout
    last: Exception | Reply | None = None
    while time.monotonic() < deadline:
        try:
            reply = http(port, path, **kwargs)
            if reply.status < 500:
                return reply
            last = reply
        except OSError as error:
            last = error
        time.sleep(1)
    raise AssertionError(f"127.0.0.1:{port}{path} did not answer within {timeout}s: {last!r}")


def exec_in(container: Any, command: list[str], user: str | None = None) -> tuple[int, str]:
    """`docker exec`: (exit code, stdout+stderr as text)."""
    result = container.exec_run(command, user=user or "", demux=False)
    return result.exit_code, (result.output or b"").decode(errors="replace")


def dig(port: int, name: str, rtype: str = "A", subnet: str | None = None, timeout: int = 3) -> list[str]:
    """The answer records of `name` from the DNS server on 127.0.0.1:`port` (dig +short); [] on none."""
    command = ["dig", "@127.0.0.1", "-p", str(port), "+short", f"+time={timeout}", "+tries=1", name, rtype]
    if subnet:
        command.insert(-2, f"+subnet={subnet}")
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout * 3)
    if result.returncode != 0:
        raise AssertionError(f"dig {name} {rtype} on 127.0.0.1:{port} failed: {result.stdout}{result.stderr}")
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def run_probe(client: Any, image: str, network: str, script: str, packages: tuple[str, ...] = (),
              timeout: float = 120.0) -> tuple[int, str]:
    """Run a Python `script` in a throw-away container on the test's own `network` (for protocols with
    no published port); pure-Python `packages` of this interpreter (e.g. "pika") are copied in.
    Returns (exit code, output); the container is always removed."""
    import importlib
    import io
    import os
    import tarfile

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name in packages:
            root = os.path.dirname(importlib.import_module(name).__file__)
            tar.add(root, arcname=f"opt/probe/{name}", filter=lambda t: None if "__pycache__" in t.name else t)
        data = script.encode()
        info = tarfile.TarInfo("opt/probe/probe.py")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    container = client.containers.create(image, ["python3", "/opt/probe/probe.py"], network=network,
                                         environment={"PYTHONPATH": "/opt/probe"}, entrypoint=[])
    try:
        container.put_archive("/", archive.getvalue())
        container.start()
        result = container.wait(timeout=timeout)
        return result["StatusCode"], container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def burst(port: int, path: str, connections: int, per_connection: int, tls: bool = False,
          timeout: float = 20.0) -> tuple["Counter[int]", float]:
    """`connections` keep-alive connections sending `per_connection` requests each, all at once:
    (status counts, seconds taken). Keep-alive spares a TLS handshake per request, so a slow machine
    still sends faster than the limits under test."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    def one_connection(_: int) -> list[int]:
        conn = _connection(port, tls, timeout)
        statuses = []
        try:
            for _ in range(per_connection):
                conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
        finally:
            conn.close()
        return statuses

    started = time.monotonic()
    with ThreadPoolExecutor(connections) as pool:
        counts = Counter(s for statuses in pool.map(one_connection, range(connections)) for s in statuses)
    return counts, time.monotonic() - started
