"""Live feedback from the engine's event stream, Terraform-style.

The Automation API hands us typed `EngineEvent`s (pulumi.automation.events)
as the engine works. `Progress` turns them into one line per resource step
(`+ creating db-users …`, `+ created db-users (3s)`), property diffs with
`--diff`, the engine's warnings and errors, a per-component rollup and a
summary line a Terraform user reads at a glance:
"Plan: 3 to add, 1 to change, 0 to destroy." Only real (custom) resources
are counted — not the stack, providers or our component wrappers.

`event_as_json` writes an event back in the engine's own JSON schema (the
`--event-log` wire form), for `--json` in CI. This module imports nothing
of Pulumi's: it reads events by attribute, so recorded events and live ones
render the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping

# Step ops (pulumi.automation.events.OpType values) → what they mean to a reader.
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "read-replacement",
               "import-replacement"}
VERBS = {
    "create": ("+", "creating", "created"),
    "update": ("~", "updating", "updated"),
    "delete": ("-", "deleting", "deleted"),
    "replace": ("+-", "replacing", "replaced"),
    "create-replacement": ("++", "creating replacement", "created replacement"),
    "delete-replaced": ("--", "deleting original", "deleted original"),
    "read": (">", "reading", "read"),
    "refresh": ("~", "refreshing", "refreshed"),
    "import": ("=", "importing", "imported"),
    "discard": ("-", "discarding", "discarded"),
}
# Steps with no line of their own: `same` changes nothing; `replace` is the logical
# step between "creating replacement" and "deleting original", already shown.
QUIET_OPS = {"same", "replace"}
PLANNED = {"create": "create", "update": "update", "delete": "delete", "replace": "replace",
           "create-replacement": "create replacement", "delete-replaced": "delete original",
           "read": "read", "refresh": "refresh", "import": "import", "discard": "discard"}
DIFF_SIGNS = {"add": "+", "add-replace": "+", "delete": "-", "delete-replace": "-", "update": "~",
              "update-replace": "~"}


def resource_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _is_real(type_token: str, custom: bool | None) -> bool:
    """A cloud/Docker resource, not the stack, a provider instance or a component wrapper."""
    if type_token.startswith(("pulumi:pulumi:", "pulumi:providers:")):
        return False
    if custom is not None:
        return bool(custom)
    return not type_token.startswith("topoform:")


def _short(value: Any, limit: int = 70) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str) if not isinstance(value, str) \
        else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _lookup(data: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a detailed-diff path (`tags.env`, `ports[0].internal`) in inputs, or a sentinel."""
    value: Any = data or {}
    for part in path.replace("]", "").replace("[", ".").split("."):
        if part == "":
            continue
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


_MISSING = object()


@dataclass
class Tally:
    """What happened to each resource, by URN; the counts a summary line reports."""

    ops: dict[str, set[str]] = field(default_factory=dict)
    component_of: dict[str, str] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def record(self, urn: str, op: str, component: str) -> None:
        self.ops.setdefault(urn, set()).add(op)
        self.component_of.setdefault(urn, component)

    @staticmethod
    def outcome(ops: set[str]) -> str:
        if ops & REPLACE_OPS:
            return "replace"
        for op in ("create", "update", "delete", "import", "read", "refresh", "discard"):
            if op in ops:
                return op
        return "same"

    def counts(self, urns: Any = None) -> dict[str, int]:
        counts = {"add": 0, "change": 0, "destroy": 0, "replace": 0, "import": 0, "read": 0, "same": 0,
                  "failed": 0}
        for urn, ops in self.ops.items():
            if urns is not None and urn not in urns:
                continue
            if urn in self.failed:
                counts["failed"] += 1  # a failed step changed nothing the summary can promise
                continue
            outcome = self.outcome(ops)
            if outcome == "replace":
                # Terraform counts a replacement as one add and one destroy.
                counts["replace"] += 1
                counts["add"] += 1
                counts["destroy"] += 1
            elif outcome == "create":
                counts["add"] += 1
            elif outcome == "update":
                counts["change"] += 1
            elif outcome in ("delete", "discard"):
                counts["destroy"] += 1
            elif outcome == "import":
                counts["import"] += 1
            elif outcome in ("read", "refresh"):
                counts["read"] += 1
            else:
                counts["same"] += 1
        return counts

    def by_component(self) -> dict[str, dict[str, int]]:
        rollup: dict[str, dict[str, int]] = {}
        for component in dict.fromkeys(self.component_of.values()):
            urns = {u for u, c in self.component_of.items() if c == component}
            rollup[component] = self.counts(urns)
        return rollup


def summary_line(operation: str, counts: Mapping[str, int], failed: int = 0, cancelled: bool = False) -> str:
    """Terraform's wording for the operation, with Pulumi's replace count where there is one."""
    add, change, destroy = counts.get("add", 0), counts.get("change", 0), counts.get("destroy", 0)
    replaced = counts.get("replace", 0)
    note = f" ({replaced} replaced)" if replaced and operation != "preview" else (
        f" ({replaced} to replace)" if replaced else "")
    if operation == "preview":
        if not (add or change or destroy):
            return "No changes. Your infrastructure matches the blueprint."
        return f"Plan: {add} to add, {change} to change, {destroy} to destroy{note}."
    if operation == "destroy":
        head = "Destroy cancelled." if cancelled else ("Destroy failed." if failed else "Destroy complete!")
        tail = f", {failed} failed" if failed else ""
        return f"{head} Resources: {destroy} destroyed{tail}."
    if operation == "refresh":
        head = "Refresh failed." if failed else "Refresh complete!"
        return (f"{head} Resources: {counts.get('read', 0) + counts.get('same', 0) + change + destroy} read, "
                f"{change} changed outside the blueprint, {destroy} gone.")
    head = "Apply cancelled." if cancelled else ("Apply failed." if failed else "Apply complete!")
    tail = f", {failed} failed" if failed else ""
    return f"{head} Resources: {add} added, {change} changed, {destroy} destroyed{note}{tail}."


def rollup_text(counts: Mapping[str, int]) -> str:
    parts = []
    for key, sign in (("add", "+"), ("change", "~"), ("destroy", "-")):
        if counts.get(key):
            parts.append(f"{sign}{counts[key]}")
    if counts.get("replace"):
        parts.append(f"±{counts['replace']} replaced")
    if counts.get("same"):
        parts.append(f"={counts['same']}")
    if counts.get("failed"):
        parts.append(f"✗{counts['failed']} failed")
    return " ".join(parts) or "no changes"


class Progress:
    """An `on_event` callback that prints progress lines and keeps the tally.

    `component_of` maps resource names to blueprint components (from the
    Plan); without it, the parent component's name in the event is used.
    """

    def __init__(self, operation: str, out: Callable[[str], None], *,
                 component_of: Mapping[str, str] | None = None, show_diff: bool = False,
                 style: Callable[..., str] | None = None, show_info: bool = True):
        self.operation = operation
        self.out = out
        self.component_of = dict(component_of or {})
        self.show_diff = show_diff
        self.style = style or (lambda text, **_: text)
        self.show_info = show_info
        self.tally = Tally()
        self.started: dict[str, int] = {}
        self.engine_summary: Mapping[str, int] | None = None
        self.duration: int | None = None
        self.errors: list[str] = []
        self.cancelled = False

    # ------------------------------------------------------------ dispatch

    def __call__(self, event: Any) -> None:
        if getattr(event, "resource_pre_event", None):
            self._pre(event.resource_pre_event, event.timestamp)
        elif getattr(event, "res_outputs_event", None):
            self._done(event.res_outputs_event, event.timestamp)
        elif getattr(event, "res_op_failed_event", None):
            self._failed(event.res_op_failed_event)
        elif getattr(event, "diagnostic_event", None):
            self._diagnostic(event.diagnostic_event)
        elif getattr(event, "policy_event", None):
            policy = event.policy_event
            self.out(self.style(f"policy {policy.policy_pack_name}/{policy.policy_name} "
                                f"({policy.enforcement_level}): {_plain(policy.message).strip()}", fg="yellow"))
        elif getattr(event, "summary_event", None):
            summary = event.summary_event
            self.engine_summary = {str(_value(k)): v for k, v in (summary.resource_changes or {}).items()}
            self.duration = summary.duration_seconds

    def _component(self, metadata: Any) -> str:
        """The blueprint component: from the Plan, else the parent component resource's name."""
        name = resource_name(metadata.urn)
        if name in self.component_of:
            return self.component_of[name]
        state = metadata.new or metadata.old
        parent = getattr(state, "parent", "") or ""
        if parent and "topoform:" in parent.rsplit("::", 2)[-2]:
            # `component_of` may name component resources too ("databases-users" → "databases.users").
            return self.component_of.get(resource_name(parent), resource_name(parent))
        return "(stack)"

    def _pre(self, pre: Any, timestamp: int) -> None:
        metadata = pre.metadata
        op = str(_value(metadata.op))
        state = metadata.new or metadata.old
        custom = getattr(state, "custom", None) if state is not None else None
        if not _is_real(metadata.type, custom):
            return
        name = resource_name(metadata.urn)
        component = self._component(metadata)
        self.tally.record(metadata.urn, op, component)
        if op in QUIET_OPS:
            return
        self.started[metadata.urn] = timestamp
        sign, doing, _ = VERBS.get(op, ("*", op, op))
        verb = PLANNED.get(op, op) if self.operation == "preview" else doing
        color = {"+": "green", "-": "red", "~": "yellow"}.get(sign[0], "cyan")
        self.out(self.style(f"  {sign:<2} {verb:<12} {name}", fg=color)
                 + self.style(f"  {metadata.type}  [{component}]", dim=True))
        if self.show_diff:
            for line in self.diff_lines(metadata):
                self.out(line)

    def _done(self, outputs_event: Any, timestamp: int) -> None:
        metadata = outputs_event.metadata
        op = str(_value(metadata.op))
        state = metadata.new or metadata.old
        custom = getattr(state, "custom", None) if state is not None else None
        if not _is_real(metadata.type, custom) or op in QUIET_OPS or self.operation == "preview":
            return
        sign, _, done = VERBS.get(op, ("*", op, op))
        began = self.started.get(metadata.urn)
        took = f" ({timestamp - began}s)" if began is not None and timestamp and timestamp >= began else ""
        self.out(f"  {sign:<2} {done:<12} {resource_name(metadata.urn)}{took}")

    def _failed(self, failed_event: Any) -> None:
        metadata = failed_event.metadata
        self.tally.failed.add(metadata.urn)
        self.out(self.style(f"  ✗  failed       {resource_name(metadata.urn)}  {metadata.type}", fg="red", bold=True))

    def _diagnostic(self, diag: Any) -> None:
        if diag.ephemeral:
            return
        message = _plain(diag.message).rstrip()
        if not message:
            return
        where = f"{resource_name(diag.urn)}: " if diag.urn and "pulumi:pulumi:Stack" not in diag.urn else ""
        severity = diag.severity or "info"
        if severity == "error":
            self.errors.append(where + message)
            self.out(self.style(f"error: {where}{message}", fg="red"))
        elif severity == "warning":
            self.out(self.style(f"warning: {where}{message}", fg="yellow"))
        elif self.show_info:
            self.out(f"{where}{message}")

    # ------------------------------------------------------------ diffs

    def diff_lines(self, metadata: Any) -> list[str]:
        """Property changes of one step, `~ key: old => new`, from detailed diffs (else `diffs`)."""
        old_inputs = getattr(metadata.old, "inputs", None) if metadata.old else None
        new_inputs = getattr(metadata.new, "inputs", None) if metadata.new else None
        op = str(_value(metadata.op))
        lines: list[str] = []
        detailed = metadata.detailed_diff or {}
        if detailed:
            for path, prop in sorted(detailed.items()):
                kind = str(_value(prop.diff_kind))
                sign = DIFF_SIGNS.get(kind, "~")
                old, new = _lookup(old_inputs, path), _lookup(new_inputs, path)
                forces = "  (forces replacement)" if kind.endswith("-replace") else ""
                if kind.startswith("add"):
                    value = f": {_short(new)}" if new is not _MISSING else ""
                elif kind.startswith("delete"):
                    value = f": {_short(old)}" if old is not _MISSING else ""
                else:
                    value = (f": {_short(old) if old is not _MISSING else '?'} => "
                             f"{_short(new) if new is not _MISSING else '?'}")
                lines.append(f"      {sign} {path}{value}{forces}")
        elif metadata.diffs:
            for key in metadata.diffs:
                old, new = _lookup(old_inputs, key), _lookup(new_inputs, key)
                lines.append(f"      ~ {key}: {_short(old) if old is not _MISSING else '?'} => "
                             f"{_short(new) if new is not _MISSING else '?'}")
        elif op == "create" and new_inputs:
            for key, value in sorted(new_inputs.items()):
                if not key.startswith("__"):
                    lines.append(f"      + {key}: {_short(value)}")
        return lines

    # ------------------------------------------------------------ the end

    def counts(self) -> dict[str, int]:
        return self.tally.counts()

    def rollup_lines(self) -> list[str]:
        rollup = self.tally.by_component()
        if not rollup:
            return []
        width = max(len(c) for c in rollup)
        return [f"  {component:<{width}}  {rollup_text(counts)}" for component, counts in rollup.items()]

    def summary(self) -> str:
        return summary_line(self.operation, self.counts(), failed=len(self.tally.failed), cancelled=self.cancelled)

    def finish(self) -> None:
        lines = self.rollup_lines()
        if lines:
            self.out("")
            self.out(self.style("By component:", bold=True))
            for line in lines:
                self.out(line)
        self.out("")
        self.out(self.style(self.summary(), bold=True))
        if self.duration:
            self.out(self.style(f"Duration: {self.duration}s", dim=True))

    def as_json(self) -> dict[str, Any]:
        """The summary for `--json`: Topoform's counts and the engine's own."""
        return {"topoformSummary": {
            "operation": self.operation, **self.counts(),
            "byComponent": self.tally.by_component(), "engineResourceChanges": self.engine_summary or {},
            "durationSeconds": self.duration, "message": self.summary(),
        }}


def _value(item: Any) -> Any:
    return item.value if isinstance(item, Enum) else item


def _plain(message: str) -> str:
    """Drop the engine's colour directives (`<{%reset%}>`, `<{%fg 1%}>`)."""
    import re

    return re.sub(r"<\{%[^%]*%\}>", "", message or "")


# ------------------------------------------------------------ JSON, in the engine's schema

_EVENT_KEYS = {
    "cancel_event": "cancelEvent", "stdout_event": "stdoutEvent", "diagnostic_event": "diagnosticEvent",
    "prelude_event": "preludeEvent", "summary_event": "summaryEvent", "resource_pre_event": "resourcePreEvent",
    "res_outputs_event": "resOutputsEvent", "res_op_failed_event": "resOpFailedEvent",
    "policy_event": "policyEvent", "start_debugging_event": "startDebuggingEvent",
}
# Field names the engine spells differently from the camelCase of the Python attribute.
_SPECIAL = {"policy_packs": "PolicyPacks"}


def _camel(name: str) -> str:
    if name in _SPECIAL:
        return _SPECIAL[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_wire(value: Any, top: bool = False) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(_value(k)): _to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        # None is absent on the wire; so is an empty detailedDiff (the SDK fills in `{}`).
        return {_camel(k): _to_wire(v) for k, v in vars(value).items()
                if v is not None and not (k == "detailed_diff" and not v)}
    return value


def event_as_json(event: Any) -> dict[str, Any]:
    """An EngineEvent in the engine's own JSON form (as `pulumi … --event-log` writes it)."""
    data: dict[str, Any] = {"sequence": event.sequence, "timestamp": event.timestamp}
    for attr, key in _EVENT_KEYS.items():
        payload = getattr(event, attr, None)
        if payload is not None:
            data["type"] = key
            data[key] = _to_wire(payload) if attr != "cancel_event" else {}
    return data
