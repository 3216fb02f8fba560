"""Helpers to run real server programs (Debian packages) on 127.0.0.1.

Generated config files are only trusted once the real program has loaded and
served them. Every server here runs in a temp directory on a free loopback
port, is waited for with a bounded timeout and is always killed at teardown
(its whole process group), so a failing test never leaves a server behind.
"""

from __future__ import annotations

import http.client
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).parent
IDENTITY_SERVER = HERE / "identity_server.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def require(binary: str, package: str) -> str:
    """Path of ``binary`` or skip the test with the apt-get line that installs it."""
    path = binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else shutil.which(binary)
    if not path:
        pytest.skip(f"{binary} not installed: apt-get install {package}")
    return path


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_EPHEMERAL = _ephemeral_range()
_handed_out: set[int] = set()
_picker = random.Random(os.getpid())


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now, below the kernel's ephemeral range.

    Port 0 would hand out an *ephemeral* port, the range outgoing connections
    use too: a broker booting beside others (Erlang distribution, epmd)
    could take it for a client socket before our server binds it, and the
    server then fails with eaddrinuse. Ports below the range are only ever
    taken by an explicit bind; none is handed out twice in a session.
    """
    low = 20000 if _EPHEMERAL[0] > 21000 else 10000
    high = min(_EPHEMERAL[0], 32768)
    for _ in range(500):
        port = _picker.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port found in {low}-{high}")


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll ``predicate`` until it returns a truthy value or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - the thing is still starting
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> Response:
    """One GET on a fresh connection, redirects not followed, TLS not verified
    (test certificates are self-signed). Header names are lower-cased."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, int(port or 443), timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout)
    try:
        conn.request("GET", "/" + path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        hdrs = {}
        for k, v in resp.getheaders():
            k = k.lower()
            hdrs[k] = f"{hdrs[k]}, {v}" if k in hdrs else v
        return Response(resp.status, hdrs, body)
    finally:
        conn.close()


# --------------------------------------------------------------------------
# process management
# --------------------------------------------------------------------------

@dataclass
class Proc:
    """A started server; ``log`` holds its stdout+stderr."""

    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group, SIGKILL it if it lingers."""
        if self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(5)

    def kill(self) -> None:
        """Hard kill (a crashed backend, for failover tests)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(5)


@dataclass
class Launcher:
    """Starts processes in their own session and remembers them for teardown."""

    workdir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: list[str], *, env: dict | None = None, cwd: Path | None = None,
              user: str | None = None, wait_port: int | None = None, wait_host: str = "127.0.0.1",
              timeout: float = 15.0) -> Proc:
        log = self.workdir / f"{name}.log"
        fh = open(log, "wb")
        full_env = {**os.environ, **(env or {})}
        kwargs = {}
        if user is not None:
            import pwd
            pw = pwd.getpwnam(user)
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            full_env.setdefault("HOME", str(self.workdir))
        popen = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=full_env, cwd=str(cwd or self.workdir), start_new_session=True, **kwargs)
        fh.close()
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        if wait_port is not None:
            def ready():
                if not proc.alive():
                    raise AssertionError(f"{name} exited with {popen.returncode}:\n{proc.output()[-3000:]}")
                return port_open(wait_port, wait_host)
            try:
                wait_for(ready, timeout, f"{name} on {wait_host}:{wait_port}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n--- {name} output ---\n{proc.output()[-3000:]}") from None
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def start_identity_server(launcher: Launcher, name: str, *, port: int | None = None,
                          host: str = "127.0.0.1") -> tuple[Proc, int]:
    """A real HTTP server (python's http.server) answering with its ``name``; see identity_server.py."""
    port = port or free_port(host)
    proc = launcher.start(f"http-{name}", [sys.executable, str(IDENTITY_SERVER), host, str(port), name],
                          wait_port=port, wait_host=host, timeout=10)
    return proc, port


def shared_tmpdir(prefix: str, owner: str | None = None) -> Path:
    """A temp dir outside pytest's root-only tree, so a server running as
    ``owner`` (postgres refuses to run as root) can use it."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    if owner:
        shutil.chown(d, owner, owner)
    return d
