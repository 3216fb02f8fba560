"""A Docker engine for the end-to-end tests.

The tests never use the machine's everyday engine (``/var/run/docker.sock``,
``DOCKER_HOST``): the stand-in images carry the official tag names
(``nginx:1.27-alpine`` …) and would replace the real images there. An engine
named in ``TOPOFORM_E2E_DOCKER_HOST`` is used as it is and never stopped
(its images get retagged: give it an engine for tests only). Otherwise, where Debian's ``docker.io`` is
installed and we are root, the tests' own ``dockerd`` is used: socket
``/run/topoform-e2e.sock``, exec root ``/run/topoform-e2e`` (or ``$TOPOFORM_E2E_RUN``), and a data root in
a fixed cache place (``/var/lib/topoform-e2e/docker``, or
``$TOPOFORM_E2E_ROOT/docker``) so the stand-in images built by
``tests/e2e/images`` survive between local runs. If it is not running, it is
started here.

Several pytest sessions (or the image prebuild command and pytest) may share
that engine: each holds a shared lock on ``users.lock`` while it uses it, and
the one that leaves last stops it (SIGTERM, bounded wait, SIGKILL) after
removing every container, network and volume on it (the data root is
dedicated to these tests; only images are worth keeping). Only a dockerd that
this code started is stopped: one started by hand on the same socket is used
and left running.

Containers get no way out of the Docker networks: a DROP rule in Docker's
``DOCKER-USER`` chain refuses forwarding from a Docker bridge to any other
interface, so only the host's own 127.0.0.1 (published ports) and the test
networks are reachable.

No pytest here: ``conftest.py`` turns :class:`EngineUnavailable` into a skip
(or a failure in CI), and ``python -m tests.e2e.images`` uses the same code.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import docker
import docker.errors
import requests.exceptions

START_TIMEOUT = 60.0  # seconds for a fresh dockerd to answer /_ping
STOP_TIMEOUT = 30.0  # seconds between SIGTERM and SIGKILL
API_TIMEOUT = 900  # seconds per API call: image imports and commits are slow on 2 cores
LOG_TAIL_LINES = 30



def run_dir() -> Path:
    """The exec root; the socket and pidfile sit beside it (short: unix socket paths stop at 108 bytes)."""
    return Path(os.environ.get("TOPOFORM_E2E_RUN", "/run/topoform-e2e"))


def cache_root() -> Path:
    """Where the engine's data root and the image build cache live (persisting between runs)."""
    return Path(os.environ.get("TOPOFORM_E2E_ROOT", "/var/lib/topoform-e2e"))


class EngineUnavailable(Exception):
    """No engine answers and none could be started; the message says why and what to do."""


@dataclass
class Engine:
    """A client on a working engine, and what (if anything) we must do to release it."""

    client: docker.DockerClient
    address: str
    owned: bool  # our dedicated dockerd (stopped by its last user), not an engine found running
    started_here: bool
    start_seconds: float = 0.0
    _lock: IO[bytes] | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        if not self.owned:
            return f"existing engine at {self.address}"
        how = f"started in {self.start_seconds:.1f}s" if self.started_here else "already running"
        return f"the tests' dockerd at {self.address} ({how})"

    def release(self) -> None:
        """Give the engine back; the last user of our own dockerd cleans it and stops it."""
        try:
            if self.owned and self._lock is not None:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
                with _start_lock():
                    if _try_exclusive(self._lock) and started_by_tests():
                        remove_workloads(self.client)
                        self.client.close()
                        stop_dockerd()
                        return
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None
        self.client.close()


def _answers(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
        return False


def _client(base_url: str) -> docker.DockerClient | None:
    """A client, or None when nothing answers there (the SDK asks the server's API version at once)."""
    try:
        return docker.DockerClient(base_url=base_url, timeout=API_TIMEOUT)
    except docker.errors.DockerException:
        return None


def _answering(base_url: str) -> docker.DockerClient | None:
    client = _client(base_url)
    if client is not None and not _answers(client):
        client.close()
        return None
    return client


def existing_engine() -> docker.DockerClient | None:
    """A client on the test engine named in TOPOFORM_E2E_DOCKER_HOST, or None."""
    address = os.environ.get("TOPOFORM_E2E_DOCKER_HOST")
    if not address:
        return None
    try:
        client = docker.DockerClient(base_url=address, timeout=API_TIMEOUT)
    except docker.errors.DockerException as exc:
        raise EngineUnavailable(f"TOPOFORM_E2E_DOCKER_HOST={address} is set but unusable: {exc}") from exc
    if _answers(client):
        return client
    client.close()
    raise EngineUnavailable(f"TOPOFORM_E2E_DOCKER_HOST={address} is set but the engine does not answer")


def socket_path() -> Path:
    return Path(f"{run_dir()}.sock")


def pid_path() -> Path:
    return Path(f"{run_dir()}.pid")


def started_marker() -> Path:
    """Holds the pid of the dockerd that start_dockerd started (absent for one started by hand)."""
    return Path(f"{run_dir()}.started-by-tests")


def log_path() -> Path:
    return cache_root() / "dockerd.log"


def _open_lock(name: str) -> IO[bytes]:
    cache_root().mkdir(parents=True, exist_ok=True)
    return open(cache_root() / name, "ab")


@contextlib.contextmanager
def _start_lock():
    """Serialises start and stop of our dockerd between sessions."""
    with _open_lock("start.lock") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_exclusive(handle: IO[bytes]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def log_tail(lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log_path().read_text(errors="replace")
    except OSError:
        return "(no dockerd log)"
    return "\n".join(text.splitlines()[-lines:])


def why_no_dockerd() -> str | None:
    """Why this machine cannot start a dockerd of ours, or None."""
    if shutil.which("dockerd") is None:
        return "no Docker engine answers and dockerd is not installed: apt-get install docker.io"
    if os.geteuid() != 0:
        return "no Docker engine answers and dockerd needs root to start (run as root, or name a test engine in TOPOFORM_E2E_DOCKER_HOST)"
    return None


def start_dockerd(timeout: float = START_TIMEOUT) -> float:
    """Start our dockerd in the background and wait until it answers; returns the seconds it took."""
    run_dir().mkdir(parents=True, exist_ok=True)
    data_root = cache_root() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        socket_path().unlink()
    command = [
        shutil.which("dockerd") or "dockerd",
        "--data-root", str(data_root),
        "--exec-root", str(run_dir()),
        "--host", f"unix://{socket_path()}",
        "--pidfile", str(pid_path()),
        # overlay2 shares image layers between containers (vfs would copy the image per container).
        "--storage-driver", "overlay2",
        # Our engine's state must not leak into, or be taken from, a system engine's.
        "--containerd-namespace", "topoform-e2e",
        "--containerd-plugins-namespace", "topoform-e2e-plugins",
        "--bridge", "none",  # no default bridge: tests create the networks they use
    ]
    started = time.monotonic()
    with open(log_path(), "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C on pytest must not kill it half-way
    started_marker().write_text(str(process.pid))
    deadline = started + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineUnavailable(f"dockerd exited with status {process.returncode} while starting "
                                    f"(log {log_path()}):\n{log_tail()}")
        client = _answering(f"unix://{socket_path()}") if socket_path().is_socket() else None
        if client is not None:
            client.close()
            return time.monotonic() - started
        time.sleep(0.25)
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT)
    if process.poll() is None:
        process.kill()
    raise EngineUnavailable(f"dockerd did not answer within {timeout:.0f}s (log {log_path()}):\n{log_tail()}")


def _alive_dockerd(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "dockerd"
    except OSError:
        return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def running_pid() -> int | None:
    """The pid of the dockerd on our pidfile, if it runs (whoever started it)."""
    pid = _read_pid(pid_path())
    return pid if pid is not None and _alive_dockerd(pid) else None


def started_by_tests() -> bool:
    """Whether the running dockerd is the one start_dockerd started (not one started by hand)."""
    pid = running_pid()
    return pid is not None and pid == _read_pid(started_marker())


def stop_dockerd() -> None:
    """SIGTERM the dockerd that start_dockerd started, wait, SIGKILL if need be; remove its run files.

    A dockerd started by hand on our socket is left alone; run files of a dead
    one (an earlier run that was killed) are removed.
    """
    pid = running_pid()
    if pid is not None and not started_by_tests():
        return
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and _alive_dockerd(pid):
            time.sleep(0.2)
        if _alive_dockerd(pid):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # our child: reap it, or it stays a zombie under an init that never reaps
    for leftover in (socket_path(), pid_path(), started_marker()):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def block_egress() -> None:
    """Refuse forwarding from any Docker bridge to a non-Docker interface (idempotent).

    Containers then reach only the networks the tests create (and published
    ports reach them from 127.0.0.1 through docker-proxy, which is not forwarding).
    """
    iptables = shutil.which("iptables")
    if iptables is None:
        raise EngineUnavailable("iptables is not installed (docker.io depends on it): apt-get install iptables")
    rule = ["DOCKER-USER", "-i", "br-+", "!", "-o", "br-+", "-j", "DROP"]
    check = subprocess.run([iptables, "-C", *rule], capture_output=True, text=True)
    if check.returncode == 0:
        return
    subprocess.run([iptables, "-N", "DOCKER-USER"], capture_output=True)  # exists already when dockerd made it
    add = subprocess.run([iptables, "-I", *rule], capture_output=True, text=True)
    if add.returncode != 0:
        raise EngineUnavailable(f"could not add the egress DROP rule to DOCKER-USER: {add.stderr.strip()}")


def remove_workloads(client: docker.DockerClient) -> None:
    """Remove every container, user network and volume on our dedicated engine (images stay)."""
    for container in client.containers.list(all=True):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            container.remove(force=True, v=True)
    with contextlib.suppress(docker.errors.APIError):
        client.networks.prune()
    with contextlib.suppress(docker.errors.APIError):
        client.volumes.prune()


def acquire_engine(start_timeout: float = START_TIMEOUT) -> Engine:
    """An engine to use: one already answering, else our dockerd (started if it is not running)."""
    found = existing_engine()
    if found is not None:
        return Engine(client=found, address=os.environ["TOPOFORM_E2E_DOCKER_HOST"], owned=False, started_here=False)
    reason = why_no_dockerd()
    if reason is not None:
        raise EngineUnavailable(reason)
    lock = _open_lock("users.lock")
    try:
        with _start_lock():
            fcntl.flock(lock, fcntl.LOCK_SH)
            seconds = 0.0
            client = _answering(f"unix://{socket_path()}") if socket_path().is_socket() else None
            if client is None:
                if running_pid() is not None:
                    raise EngineUnavailable(f"a dockerd (pid {running_pid()}) runs on {pid_path()} but does not "
                                            f"answer on {socket_path()}; stop it or wait for it")
                stop_dockerd()  # a dead one's pidfile and socket (an earlier run that was killed)
                seconds = start_dockerd(start_timeout)
                client = _client(f"unix://{socket_path()}")
                if client is None:
                    raise EngineUnavailable(f"dockerd started but stopped answering:\n{log_tail()}")
            block_egress()
    except BaseException:
        lock.close()
        raise
    return Engine(client=client, address=f"unix://{socket_path()}", owned=True, started_here=seconds > 0,
                  start_seconds=seconds, _lock=lock)
