"""Running one engine operation: errors explained, Ctrl-C handled, protection listed.

`run_cancellable` runs the Automation API call in a worker thread so the
main thread can catch Ctrl-C. The `pulumi` process shares our terminal's
process group, so it receives the same SIGINT and cancels the update
cleanly itself (finishing in-flight operations, writing state, releasing
the backend's lock); we keep waiting for it. A second Ctrl-C stops waiting
and exits 130 — as with Pulumi, the stack may then hold pending operations
that `topoform refresh` reconciles.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from .errors import Cancelled, EngineError, from_command_error

T = TypeVar("T")


def run_cancellable(fn: Callable[[], T], notify: Callable[[str], None], *, poll: float = 0.2) -> T:
    """`fn()` in a worker thread; first Ctrl-C: wait for a clean cancel; second: give up (exit 130)."""
    outcome: dict[str, Any] = {}
    # An Event, not Thread.join: a join interrupted by Ctrl-C can leave
    # is_alive() wrongly False on CPython 3.11 (gh-90882).
    done = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="topoform-engine", daemon=True).start()
    interrupted = False
    while True:
        try:
            if done.wait(poll):
                break
        except KeyboardInterrupt:
            if interrupted:
                raise Cancelled("stopped waiting for the engine; the stack may have pending operations",
                                "run `topoform refresh` to reconcile the state with what exists") from None
            interrupted = True
            notify("Cancelling: the engine finishes the operations in flight, saves the state and releases "
                   "the lock. Press Ctrl-C again to stop waiting.")
    if interrupted and "error" in outcome:
        # The engine stopped because we asked: its failure report is the cancellation.
        raise Cancelled("the update was cancelled; the state records everything that was done",
                        "run the command again to finish, or `topoform destroy` to remove what was created")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def engine_call(fn: Callable[[], T], *, stack: str, project: str, workdir: str,
                notify: Callable[[str], None]) -> T:
    """Run an engine call, turning the Automation API's exceptions into EngineErrors."""
    from pulumi.automation import errors as auto_errors

    try:
        return run_cancellable(fn, notify)
    except EngineError:
        raise
    except auto_errors.CommandError as exc:
        raise from_command_error(exc, stack, project, workdir) from None
    except FileNotFoundError as exc:
        if getattr(exc, "filename", None) and str(exc.filename).endswith("pulumi"):
            from .cli_binary import missing_cli_error

            raise missing_cli_error() from None
        raise


@dataclass(frozen=True)
class Protected:
    name: str
    type: str
    component: str


def protected_resources(plan: Any) -> list[Protected]:
    """The Plan's resources that `destroy` will not delete (Pulumi `protect`)."""
    return [Protected(r.name, r.type, r.component) for r in plan.resources if r.protect]


def protection_notice(protected: list[Protected], stack: str, limit: int = 15) -> list[str]:
    """What is protected and how to release it, as lines for the terminal."""
    if not protected:
        return []
    width = max(len(p.name) for p in protected[:limit])
    type_width = max(len(p.type) for p in protected[:limit])
    components = list(dict.fromkeys(p.component for p in protected))
    lines = [f"{len(protected)} resource(s) hold data and are protected; `destroy` will not delete them:"]
    shown = protected[:limit]
    lines += [f"  🔒 {p.name:<{width}}  {p.type:<{type_width}}  {p.component}" for p in shown]
    if len(protected) > limit:
        lines.append(f"  … and {len(protected) - limit} more (`topoform plan` marks every one with 🔒)")
    lines += [
        "To delete them as well: set `protect: false` on " + ", ".join(components)
        + f" in the blueprint, run `topoform up BLUEPRINT --stack {stack}` (it only lifts the protection), "
        "then destroy again.",
        "To delete everything else and keep them: topoform destroy BLUEPRINT --exclude-protected",
    ]
    return lines
