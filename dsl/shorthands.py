"""Short forms a blueprint may write, each expanded to its long form before validation.

Compilers read the validated models, so a shorthand must leave no trace
there: each function here turns the written short form into the mapping (or
list) the long form would have been, and passes anything else through
unchanged for the model to check and report. The fields that take them are
marked in `models.py` with `short(...)`, which also shows the short form in
the JSON Schema.

| written                        | means                                           |
|--------------------------------|-------------------------------------------------|
| `targets: [services.api]`      | `targets: [{target: services.api}]` (and routes, DNS endpoints) |
| `listeners: [80, 443]`         | `[{port: 80}, {port: 443, tls: true}]`          |
| `health: /healthz`             | `health: {path: /healthz}` (and `health_check`) |
| `sticky_sessions: true`        | `sticky_sessions: {}`: a balancer cookie        |
| `ttl: 1h` on a CDN             | `ttl: {default: 1h}`                            |
| `consumes: queues.jobs`        | `consumes: [queues.jobs]`                       |
"""

from __future__ import annotations

from typing import Any

from .diagnostics import shown

TLS_PORT = 443  # the one port whose short form implies TLS: nothing else is served there


def _neither(value: Any, short: str, long: str, hint: str) -> ValueError:
    # A value that is neither form: name both, so the error does not send the
    # user to the long form alone. The newline splits message and hint.
    return ValueError(f"expected {short} or {long}, but got {shown(value)}\n{hint}")


def target(value: Any) -> Any:
    """`services.api` → `{target: services.api}` (a route takes the default path /*)."""
    if isinstance(value, str):
        return {"target": value}
    if isinstance(value, dict):
        return value
    raise _neither(value, "a reference", "a mapping", "write services.NAME, or {target: services.NAME, port: ...}")


def listener(value: Any) -> Any:
    """`80` → `{port: 80}`; `443` → `{port: 443, tls: true}`. A redirect is only made when asked
    (`{port: 80, redirect_to_https: true}`)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"port": value, "tls": True} if value == TLS_PORT else {"port": value}
    if isinstance(value, dict):
        return value
    hint = f"remove the quotes: {value.strip()}" if isinstance(value, str) and value.strip().isdigit() \
        else "write a port such as 443, or {port: 8443, tls: true}"
    raise _neither(value, "a port", "a mapping", hint)


def health_path(value: Any) -> Any:
    """`/healthz` → `{path: /healthz}`, every other setting at its default."""
    if isinstance(value, str):
        if not value.startswith("/"):
            raise ValueError(f"'{value}' is not an HTTP path\n"
                             f"write the path probed, e.g. /{value.lstrip('/')}, or a mapping "
                             "{path: /healthz, interval: 10s}")
        return {"path": value}
    if value is None or isinstance(value, dict):
        return value
    raise _neither(value, "a path", "a mapping", "write /healthz, or {path: /healthz, interval: 10s}")


def stickiness(value: Any) -> Any:
    """`true` → `{}` (a balancer-generated cookie, or the source address on layer 4); `false` → none."""
    if value is True:
        return {}
    if value is False:
        return None
    if value is None or isinstance(value, dict):
        return value
    raise _neither(value, "true, false", "a mapping", "write true, or {cookie: NAME, duration: 1h}")


def cdn_ttl(value: Any) -> Any:
    """`1h` → `{default: 1h}`: the TTL of responses that set none themselves."""
    if isinstance(value, str):
        return {"default": value}
    if isinstance(value, dict):
        return value
    hint = f"a duration needs a unit, e.g. '{value}s' or '{value}m'" if isinstance(value, (int, float)) \
        and not isinstance(value, bool) else "write 1h, or {default: 1h, max: 1d}"
    raise _neither(value, "a duration", "a mapping", hint)


def one_reference(value: Any) -> Any:
    """`queues.jobs` → `[queues.jobs]`."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return value
    raise _neither(value, "a reference", "a list of them", "write queues.NAME, or [queues.A, queues.B]")
