"""Where a stack's state lives and how its secrets are encrypted.

Default, like Terraform's local state: a file backend under the user's
project (`<blueprint dir>/.topoform/state`), secrets encrypted with the
passphrase provider. `--backend URL` moves state to S3 (`s3://bucket/prefix`),
another directory (`file://…`), GCS/Azure blobs, or Pulumi Cloud
(`https://api.pulumi.com`, or the word `cloud`), whose own secrets provider
needs no passphrase.

The passphrase comes from TOPOFORM_PASSPHRASE, else PULUMI_CONFIG_PASSPHRASE,
else PULUMI_CONFIG_PASSPHRASE_FILE; an interactive run may prompt for it; a
non-interactive run without one fails with a clear message instead of a CLI
prompt that would hang forever.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .errors import EXIT_INVALID, EngineError, PassphraseMissing

STATE_DIR = ".topoform"
CLOUD_URL = "https://api.pulumi.com"
SELF_MANAGED_SCHEMES = ("file://", "s3://", "gs://", "azblob://")
PASSPHRASE_VARIABLES = ("TOPOFORM_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE")


@dataclass(frozen=True)
class Backend:
    """The state backend and secrets provider of one stack, and the env the CLI needs for them."""

    url: str
    secrets_provider: str
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return self.url.startswith("file://")

    @property
    def uses_passphrase(self) -> bool:
        return self.secrets_provider == "passphrase"

    def describe(self) -> str:
        where = self.url[len("file://"):] if self.is_local else self.url
        return f"state: {where} · secrets: {self.secrets_provider}"


def project_state_dir(project_dir: str | os.PathLike) -> Path:
    """`.topoform/` beside the blueprint: state, per-blueprint Pulumi workspaces."""
    return Path(project_dir).resolve() / STATE_DIR


def backend_url(project_dir: str | os.PathLike, requested: str | None) -> str:
    """The backend URL: `requested` normalised, or the local file backend of the project."""
    if not requested:
        return (project_state_dir(project_dir) / "state").as_uri()
    if requested in ("cloud", "pulumi", "app.pulumi.com"):
        return CLOUD_URL
    if requested.startswith(("http://", "https://")) or requested.startswith(SELF_MANAGED_SCHEMES):
        if requested.startswith("file://"):
            # Relative file URLs depend on the CLI's working directory (ours is
            # .topoform/<blueprint>); make them absolute against the user's cwd.
            path = requested[len("file://"):]
            if not path.startswith("/") and not path.startswith("~"):
                return (Path.cwd() / path).resolve().as_uri()
        return requested
    if "://" not in requested:
        # A bare directory, as `pulumi login ./dir` accepts.
        return Path(requested).expanduser().resolve().as_uri()
    raise EngineError(f"unsupported backend URL {requested!r}",
                      "use file://DIR, s3://BUCKET/PREFIX, gs://…, azblob://…, or https://api.pulumi.com",
                      exit_code=EXIT_INVALID)


def default_secrets_provider(url: str, requested: str | None) -> str:
    """Pulumi Cloud encrypts with its own keys; self-managed backends use a passphrase unless told otherwise."""
    if requested:
        return requested
    return "default" if url.startswith(("http://", "https://")) else "passphrase"


def find_passphrase(environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(passphrase, where it came from) from the environment, or (None, None)."""
    for name in PASSPHRASE_VARIABLES:
        if name in environ:  # an empty passphrase is allowed, as in Pulumi
            return environ[name], name
    path = environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").rstrip("\n"), "PULUMI_CONFIG_PASSPHRASE_FILE"
        except OSError as exc:
            raise PassphraseMissing(f"cannot read PULUMI_CONFIG_PASSPHRASE_FILE {path}: {exc.strerror}",
                                    "point it at a readable file, or set TOPOFORM_PASSPHRASE") from None
    return None, None


def select_backend(project_dir: str | os.PathLike, requested: str | None = None, *,
                   secrets_provider: str | None = None,
                   environ: Mapping[str, str] | None = None,
                   interactive: bool = False,
                   prompt: Callable[[str], str] | None = None) -> Backend:
    """The backend for a run; raises PassphraseMissing where a passphrase is needed and none can be had."""
    environ = os.environ if environ is None else environ
    url = backend_url(project_dir, requested)
    provider = default_secrets_provider(url, secrets_provider)
    env: dict[str, str] = {"PULUMI_BACKEND_URL": url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    if provider == "passphrase":
        passphrase, _ = find_passphrase(environ)
        if passphrase is None:
            if not (interactive and prompt):
                raise PassphraseMissing(
                    "no passphrase to encrypt this stack's secrets (and nobody to ask: the session is not interactive)",
                    "export TOPOFORM_PASSPHRASE=… (or PULUMI_CONFIG_PASSPHRASE); keep it: the stack cannot be "
                    "read without it",
                )
            passphrase = prompt("Passphrase for this stack's secrets (TOPOFORM_PASSPHRASE)")
        env["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    return Backend(url, provider, env)
