"""Checks before the engine starts: is the target reachable at all?

A deploy that dies minutes in with a provider's stack trace about a socket
or a credential chain is the experience to avoid. These checks are local
and instant (no network): a Docker socket or DOCKER_HOST for the docker
target; credentials the AWS SDK would find (environment, profile files,
web identity, container credentials) and a region for the aws target. On an EC2 host
whose credentials come from the instance role, set
TOPOFORM_SKIP_PREFLIGHT=1 (we cannot see that without the network).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import AwsCredentialsMissing, DockerMissing, PrerequisitesMissing

DOCKER_SOCKETS = ("/var/run/docker.sock", "~/.docker/run/docker.sock", "~/.colima/default/docker.sock",
                  "$XDG_RUNTIME_DIR/docker.sock", "$XDG_RUNTIME_DIR/podman/podman.sock")


def _expand(path: str, environ: Mapping[str, str]) -> Path | None:
    if "$XDG_RUNTIME_DIR" in path:
        runtime = environ.get("XDG_RUNTIME_DIR")
        if not runtime:
            return None
        path = path.replace("$XDG_RUNTIME_DIR", runtime)
    if path.startswith("~"):
        path = str(Path(environ.get("HOME") or Path.home()) / path[2:])
    return Path(path)


def docker_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """DOCKER_HOST, or the first Docker socket present, or None."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        return environ["DOCKER_HOST"]
    for candidate in DOCKER_SOCKETS:
        path = _expand(candidate, environ)
        if path is not None and path.exists():
            return f"unix://{path}"
    return None


def check_docker(environ: Mapping[str, str] | None = None) -> str:
    endpoint = docker_endpoint(environ)
    if endpoint is None:
        raise DockerMissing(
            "no Docker engine found (DOCKER_HOST is unset and there is no /var/run/docker.sock)",
            "start Docker Desktop or the docker service (`sudo systemctl start docker`), or set DOCKER_HOST; "
            "to deploy to AWS instead, pass --target aws",
        )
    return endpoint


def _profiles(path: Path) -> set[str]:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error):
        return set()
    # ~/.aws/config names sections "profile NAME" (and "default").
    return {section.removeprefix("profile ").strip() for section in parser.sections()}


def aws_credential_source(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the AWS SDK would find credentials, judged from local files and env only; None if nowhere."""
    environ = os.environ if environ is None else environ
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return "environment (AWS_ACCESS_KEY_ID)"
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        return "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)"
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container credentials (ECS/CodeBuild)"
    home = Path(environ.get("HOME") or Path.home())
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    files = [Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
             Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")]
    for path in files:
        if profile in _profiles(path):
            return f"profile {profile!r} in {path}"
    return None


def check_aws(environ: Mapping[str, str] | None = None, region: str | None = None) -> str:
    """Credentials and region; the message names each one that is missing.

    The region comes from the blueprint's `aws.region` (the deploy writes it
    to stack config as `aws:region`); `region=None` means the Plan gave none.
    """
    environ = os.environ if environ is None else environ
    source = aws_credential_source(environ)
    env_region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    missing, fixes = [], []
    if source is None:
        profile = environ.get("AWS_PROFILE")
        missing.append("no AWS credentials found" + (
            f" (profile {profile!r} is in neither ~/.aws/credentials nor ~/.aws/config)" if profile else ""))
        fixes.append("run `aws configure` (or `aws sso login --profile NAME` and export AWS_PROFILE), or export "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; on EC2 with an instance role set "
                     "TOPOFORM_SKIP_PREFLIGHT=1")
    if region is None and not env_region:
        missing.append("no AWS region (the Plan names none, and AWS_REGION is unset)")
        fixes.append("set `aws.region` in the blueprint (e.g. `region: us-east-1`); it becomes the stack's "
                     "`aws:region`")
    if missing:
        raise AwsCredentialsMissing("; ".join(missing), "; ".join(fixes))
    where = f"region {region} (aws.region → stack config aws:region)" if region else f"region {env_region} (AWS_REGION)"
    return f"{source}, {where}"


def check_target(target: str, environ: Mapping[str, str] | None = None, region: str | None = None) -> str | None:
    """What the target will use (a socket, a credential source and region); raises when something is missing."""
    environ = os.environ if environ is None else environ
    if environ.get("TOPOFORM_SKIP_PREFLIGHT"):
        return None
    if target == "docker":
        return check_docker(environ)
    if target == "aws":
        return check_aws(environ, region)
    return None


def check_all(target: str | None, environ: Mapping[str, str] | None = None,
              region: str | None = None) -> str | None:
    """Every prerequisite of an engine command checked before any is reported: the Pulumi CLI,
    and the target's engine or credentials (when the target is known). One missing piece is
    raised as it is; several are raised together, each with how to get it, so a user with
    neither Docker nor the CLI learns of both at once. Returns what the target will use."""
    from .cli_binary import find_pulumi_root
    from .errors import EngineError

    missing: list[EngineError] = []
    used = None
    try:
        find_pulumi_root(environ)
    except EngineError as exc:
        missing.append(exc)
    if target is not None:
        try:
            used = check_target(target, environ, region)
        except EngineError as exc:
            missing.append(exc)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        lines = [f"{len(missing)} things this command needs are missing:"]
        for number, exc in enumerate(missing, start=1):
            lines.append(f"  {number}. {exc.message}")
            if exc.hint:
                lines.append(f"     to fix: {exc.hint}")
        raise PrerequisitesMissing("\n".join(lines), exit_code=max(exc.exit_code for exc in missing))
    return used


# ---------------------------------------------------------------- DNS delegation (aws)

ZONE = "aws:route53/zone:Zone"
VALIDATION = "aws:acm/certificateValidation:CertificateValidation"


def public_name_servers(zone: str) -> list[str] | None:
    """NS records public DNS answers for `zone` (through `dig`), or None when that cannot be asked."""
    dig = shutil.which("dig")
    if dig is None:
        return None
    try:
        done = subprocess.run([dig, "+short", "NS", zone], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return [line.strip() for line in done.stdout.splitlines() if line.strip()] if done.returncode == 0 else None


def check_delegation(plan: Any, zone_name_servers: Callable[[], list[str] | None],
                     lookup: Callable[[str], list[str] | None] = public_name_servers) -> str | None:
    """A warning when the Plan validates certificates through the zone it created (`dns.delegated:
    true`) but public DNS does not delegate that zone to it: ACM would wait 75 minutes.

    `zone_name_servers` gives the zone's name servers from the stack (output dns.name_servers of the
    first stage); with no zone yet, or no way to ask DNS, nothing can be checked and None is returned.
    """
    zones = [r for r in plan.resources if r.type == ZONE]
    if plan.target != "aws" or not zones or not any(r.type == VALIDATION for r in plan.resources):
        return None
    zone = str(zones[0].properties.get("name", "")).rstrip(".")
    wanted = {ns.rstrip(".").lower() for ns in (zone_name_servers() or [])}
    if not wanted:
        return None
    answered = lookup(zone)
    if answered is None:
        return None
    if wanted & {ns.rstrip(".").lower() for ns in answered}:
        return None
    return (f"`dns.delegated` is true, but public DNS does not delegate {zone} to its hosted zone "
            f"(NS answers: {', '.join(answered) or 'none'}; the zone's: {', '.join(sorted(wanted))}): certificate "
            "validation will wait up to 75 minutes; add the zone's name servers as NS records at its registrar "
            "or parent zone first")
