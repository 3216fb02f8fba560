"""Finding (and installing) the Pulumi CLI that the Automation API drives.

The Automation API is a client of the `pulumi` binary: without it,
`LocalWorkspace()` dies with a bare FileNotFoundError. We look for the binary
first — TOPOFORM_PULUMI_ROOT, then PATH, then where `topoform install-pulumi`
and the official installer put it — and, when it is nowhere, raise
PulumiMissing naming both fixes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Mapping

from .errors import PULUMI_INSTALL_COMMAND, EngineError, PulumiMissing


def pinned_cli_version() -> str:
    """The CLI version matching the installed Pulumi SDK (what `install-pulumi` installs)."""
    from importlib.metadata import version

    return version("pulumi")


def install_root(version: str | None = None, home: str | os.PathLike | None = None) -> Path:
    """Where `install-pulumi` puts the CLI: ~/.pulumi/versions/<version> (the SDK's own default)."""
    base = Path(home) if home else Path.home()
    return base / ".pulumi" / "versions" / (version or pinned_cli_version())


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_pulumi_root(environ: Mapping[str, str] | None = None) -> str | None:
    """The root (a dir holding bin/pulumi) to use, "" for `pulumi` on PATH; raise PulumiMissing if none."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("TOPOFORM_PULUMI_ROOT")
    if explicit:
        if _executable(Path(explicit) / "bin" / "pulumi"):
            return explicit
        raise PulumiMissing(f"TOPOFORM_PULUMI_ROOT={explicit} has no executable bin/pulumi",
                            "point it at a Pulumi installation, or unset it to use `pulumi` from PATH")
    if shutil.which("pulumi", path=environ.get("PATH")):
        return ""
    home = environ.get("HOME")
    candidates = [install_root(home=home), Path(home or Path.home()) / ".pulumi"]
    for root in candidates:
        if _executable(root / "bin" / "pulumi"):
            return str(root)
    raise missing_cli_error()


def missing_cli_error() -> PulumiMissing:
    return PulumiMissing(
        "the Pulumi CLI is not installed; `preview`, `up`, `destroy`, `refresh` and `outputs` drive it "
        "through the Pulumi Automation API",
        f"install it with `{PULUMI_INSTALL_COMMAND}` (then open a new shell), or run "
        f"`topoform install-pulumi` (Pulumi {pinned_cli_version()} under ~/.pulumi/versions). "
        "`validate`, `plan`, `graph`, `report` and `eject` work without it",
    )


def pulumi_command(root: str | None):
    """A PulumiCommand for `root` ("" = PATH); a missing or broken binary becomes PulumiMissing."""
    from pulumi.automation import PulumiCommand

    try:
        return PulumiCommand(root=root or None)
    except FileNotFoundError:
        raise missing_cli_error() from None
    except Exception as exc:  # noqa: BLE001 — InvalidVersionError, a crashing binary: explain, don't trace
        raise EngineError(f"the Pulumi CLI could not be used: {exc}",
                          "install a current one with `topoform install-pulumi`") from None


def install_cli(root: str | None = None, version: str | None = None,
                installer: Callable | None = None):
    """Download and install the pinned CLI with the official script (network needed)."""
    from urllib.error import URLError

    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    version = version or pinned_cli_version()
    target = Path(root) if root else install_root(version)
    install = installer or PulumiCommand.install
    try:
        return install(root=str(target), version=VersionInfo.parse(version)), target
    except URLError as exc:
        raise EngineError(f"could not download the Pulumi installer: {exc.reason}",
                          f"check the network, or install by hand: `{PULUMI_INSTALL_COMMAND} -s -- --version {version}`"
                          ) from None
    except (OSError, ValueError) as exc:
        raise EngineError(f"installing Pulumi {version} into {target} failed: {exc}",
                          f"install by hand: `{PULUMI_INSTALL_COMMAND} -s -- --version {version}`") from None
    except Exception as exc:  # noqa: BLE001 — CalledProcessError from the install script
        output = getattr(exc, "output", b"") or b""
        detail = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output)
        raise EngineError(f"the Pulumi install script failed: {exc}",
                          f"install by hand: `{PULUMI_INSTALL_COMMAND} -s -- --version {version}`",
                          detail=detail.strip()[-2000:] or None) from None
