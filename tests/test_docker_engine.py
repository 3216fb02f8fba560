"""End to end on a real Docker engine: `topoform up`, a request, `outputs`, `destroy`.

Everything else about the Docker target is proven without an engine (the
Plan in test_docker_plan.py, the Pulumi program under mocks in
test_docker_synth.py, the compiled config files by the real servers in
tests/realserver/test_compiled_configs.py). This test closes the loop where
an engine and the Pulumi CLI exist, and is skipped, with the reason,
everywhere else. It runs the installed `topoform` command exactly as a user
would, on a copy of blueprints/minimal-web.yaml in a temp directory, with a
file state backend there, so nothing is written into the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINT = ROOT / "blueprints" / "minimal-web.yaml"
STACK = f"e2e{os.getpid()}"
UP_TIMEOUT = 900  # first run pulls the nginx and haproxy images
ANSWER_TIMEOUT = 120


def docker_engine_reason() -> str | None:
    """Why there is no usable Docker engine here, or None."""
    docker = shutil.which("docker")
    if docker is None:
        return "no Docker engine: docker info failed (no docker command on PATH)"
    try:
        result = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Docker engine: docker info failed ({exc})"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return f"no Docker engine: docker info failed ({lines[-1] if lines else f'exit {result.returncode}'})"
    return None


def pulumi_cli_reason() -> str | None:
    return None if shutil.which("pulumi") else "no Pulumi CLI on PATH (topoform install-pulumi)"


def topoform(*args: str, env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """The `topoform` command as a user runs it (the console script, else the module's main)."""
    command = [shutil.which("topoform")] if shutil.which("topoform") else \
        [sys.executable, "-c", "from topoform.cli.main import main; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def wait_for_200(url: str, timeout: float) -> int:
    """GET `url` until it answers 200 or `timeout` passes; returns the last status (0: no answer)."""
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                status = resp.status
                if status == 200:
                    return status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError):
            status = 0
        time.sleep(1)
    return status


@pytest.mark.docker_engine
@pytest.mark.pulumi_cli
def test_up_serves_requests_then_destroy_removes_everything(tmp_path):
    for reason in (docker_engine_reason(), pulumi_cli_reason()):
        if reason:
            pytest.skip(reason)
    shutil.copy(BLUEPRINT, tmp_path / BLUEPRINT.name)
    blueprint = str(tmp_path / BLUEPRINT.name)
    env = {**os.environ, "TOPOFORM_PASSPHRASE": "e2e-test-passphrase", "CI": "true"}
    backend = ["--backend", f"file://{tmp_path / 'state'}"]
    (tmp_path / "state").mkdir()
    common = ["--stack", STACK, *backend]
    up = topoform("up", blueprint, "--target", "docker", "--yes", *common, env=env, cwd=tmp_path, timeout=UP_TIMEOUT)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        shown = topoform("outputs", blueprint, "--json", *common, env=env, cwd=tmp_path, timeout=120)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        outputs = json.loads(shown.stdout)
        url = outputs["load_balancers.edge.local_url"]
        assert url.startswith("http://127.0.0.1:"), outputs
        assert len(outputs["load_balancers.edge.local_urls"]) == 2  # active-active: two haproxy copies
        # Through the balancer to the nginx replicas.
        assert wait_for_200(url, ANSWER_TIMEOUT) == 200, f"{url} did not answer 200 within {ANSWER_TIMEOUT}s"
        for other in outputs["load_balancers.edge.local_urls"]:
            assert wait_for_200(other, ANSWER_TIMEOUT) == 200, other
    finally:
        down = topoform("destroy", blueprint, "--target", "docker", "--yes", *common, env=env, cwd=tmp_path,
                        timeout=UP_TIMEOUT)
    assert down.returncode == 0, down.stdout + down.stderr
    left = subprocess.run(["docker", "ps", "-a", "--filter", f"name=hello-{STACK}-", "--format", "{{.Names}}"],
                          capture_output=True, text=True, timeout=60)
    assert left.stdout.strip() == "", f"containers left after destroy: {left.stdout}"
