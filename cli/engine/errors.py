"""Failures at the engine boundary, as messages a user can act on.

Everything that can go wrong around a deployment — no Pulumi CLI, no
passphrase, no Docker engine, no AWS credentials, a locked stack, a failed
resource — becomes an `EngineError` with a one-line message, a hint naming
the fix, and the exit status cli/main.py documents (1: deployment or runtime
failure, 2: invalid input). The CLI prints it; no traceback reaches a user.
"""

from __future__ import annotations

EXIT_FAILURE, EXIT_INVALID = 1, 2

PULUMI_INSTALL_COMMAND = "curl -fsSL https://get.pulumi.com | sh"


class EngineError(Exception):
    """A user-facing failure: what happened, what to do, and the exit status."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None,
                 detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # The engine's own words (stderr tail), shown under the message.
        self.detail = detail
        if exit_code is not None:
            self.exit_code = exit_code


class PulumiMissing(EngineError):
    """No Pulumi CLI where we looked; the Automation API drives that binary."""


class PassphraseMissing(EngineError):
    """The passphrase secrets provider needs a passphrase and none was given."""


class DockerMissing(EngineError):
    """The docker target needs a reachable Docker engine."""


class AwsCredentialsMissing(EngineError):
    """The aws target needs credentials the AWS SDK can find."""


class PrerequisitesMissing(EngineError):
    """Several of the above at once (cli/engine/preflight.py `check_all`): each with its fix."""


class StackLocked(EngineError):
    """Another update holds the backend's lock on this stack."""


class StackNotDeployed(EngineError):
    """An operation that reads a stack found none."""


class ConfirmationRefused(EngineError):
    """`up`/`destroy` without `--yes` where nobody can answer, or the answer was no."""

    exit_code = EXIT_INVALID


class Cancelled(EngineError):
    """The user pressed Ctrl-C."""

    exit_code = 130


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in (text or "").strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def split_command_output(text: str) -> tuple[str, str]:
    """(stdout, stderr) of a CommandError, whose text is `code: N / stdout: ... / stderr: ...`."""
    head, _, stderr = text.partition("\n stderr: ")
    _, _, stdout = head.partition("\n stdout: ")
    return stdout, stderr


def from_command_error(exc: Exception, stack: str, project: str, workdir: str) -> EngineError:
    """The Automation API's exception for a failed `pulumi` run, explained."""
    from pulumi.automation import errors as auto_errors

    stdout, stderr = split_command_output(str(exc))
    detail = _tail(stderr) or _tail(stdout) or str(exc)
    if isinstance(exc, auto_errors.ConcurrentUpdateError):
        return StackLocked(
            f"stack {project}/{stack} is locked: another update is running on it",
            "wait for it to finish; if that run was killed, release the lock with "
            f"`pulumi cancel --stack {stack}` run in {workdir} (same backend and passphrase)",
            detail=detail,
        )
    if isinstance(exc, auto_errors.StackNotFoundError):
        return StackNotDeployed(f"stack {project}/{stack} does not exist in this backend",
                                "deploy it first: topoform up BLUEPRINT --stack " + stack, detail=detail)
    if isinstance(exc, auto_errors.InlineSourceRuntimeError):
        return EngineError("the Pulumi program failed while registering resources",
                           "this is a Topoform bug if `topoform plan` succeeds; please report it", detail=detail)
    if "passphrase" in stderr.lower() and ("incorrect" in stderr.lower() or "decrypt" in stderr.lower()):
        return PassphraseMissing("the passphrase does not decrypt this stack's secrets",
                                 "set TOPOFORM_PASSPHRASE to the passphrase the stack was created with",
                                 detail=detail)
    if "protected" in stderr and ("delete" in stderr or "destroy" in stderr):
        return EngineError("the engine refused to delete protected resources",
                           "set `protect: false` on those components, run `topoform up`, then destroy again; "
                           "or pass --exclude-protected to keep them", detail=detail)
    return EngineError("the Pulumi engine reported a failure", None, detail=detail)
