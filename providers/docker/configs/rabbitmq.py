"""RabbitMQ for queues: rabbitmq.conf and the definitions.json loaded at boot (users, quorum queues, DLQs)."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

from .rendering import pretty_json, render, to_seconds


def rabbitmq_password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password)).

    ``salt`` is 4 bytes; random unless given (tests pin it for determinism).
    """
    salt = os.urandom(4) if salt is None else salt
    if len(salt) != 4:
        raise ValueError("RabbitMQ salts are 4 bytes")
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


@dataclass(frozen=True)
class RabbitmqUser:
    """A user and its permissions on the context's vhost.

    name / password: credentials (the password is hashed into the definitions).
    tags: e.g. ``("administrator",)``.
    configure / write / read: permission regexes.
    """

    name: str
    password: str
    tags: tuple[str, ...] = ()
    configure: str = ".*"
    write: str = ".*"
    read: str = ".*"


@dataclass(frozen=True)
class RabbitmqQueue:
    """One blueprint queue.

    name: queue name.
    max_depth: queue length limit; with ``x-overflow: reject-publish`` a
        publisher using confirms gets a nack beyond it (back pressure). A
        quorum queue rejects only once it is *over* ``x-max-length``, so that
        is set to max_depth - 1; under concurrent publishers the limit is soft
        (a few in-flight messages may still get in).
    max_receives: deliveries before dead-lettering (``x-delivery-limit`` of a
        quorum queue is the number of *re*-deliveries allowed, so it is set to
        max_receives - 1; see tests). ``None``: no DLQ.
    retention: ``x-message-ttl`` (quorum queues honour it since 3.10).
    fifo: one consumer at a time (``x-single-active-consumer``) keeps order.
    quorum: quorum queue (needed for ``x-delivery-limit``); classic otherwise.
    """

    name: str
    max_depth: int | None = None
    max_receives: int | None = None
    retention: str | float | None = None
    fifo: bool = False
    quorum: bool = True

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.name}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True)
class RabbitmqContext:
    """rabbitmq.conf + definitions.json for one broker.

    port: AMQP port (``listeners.tcp.default``).
    listen: bind address (``None``: all interfaces).
    definitions_path: where definitions.json is mounted.
    vhost: the one vhost.
    users: users with permissions on ``vhost``.
    queues: the queues (with their DLQs).
    consumer_timeout: the closest thing to SQS visibility timeout: an
        unacknowledged delivery older than this closes the consumer's channel
        and the message is redelivered (broker-wide in 3.10). ``None``: default.
    management: set the management listener to ``management_port`` (needs
        the rabbitmq_management plugin, i.e. a ``*-management`` image;
        without the plugin the broker refuses the unknown key).
    salt: fixed 4-byte salt for reproducible hashes (tests); random if ``None``.
    """

    port: int = 5672
    listen: str | None = None
    definitions_path: str = "/etc/rabbitmq/definitions.json"
    vhost: str = "/"
    users: tuple[RabbitmqUser, ...] = ()
    queues: tuple[RabbitmqQueue, ...] = ()
    consumer_timeout: str | float | None = None
    management: bool = False
    management_port: int = 15672
    salt: bytes | None = None


def render_rabbitmq_conf(ctx: RabbitmqContext) -> str:
    """rabbitmq.conf (sysctl format): listener, definitions import, guest off."""
    listener = f"{ctx.listen}:{ctx.port}" if ctx.listen else str(ctx.port)
    timeout_ms = int(to_seconds(ctx.consumer_timeout) * 1000) if ctx.consumer_timeout is not None else None
    return render("rabbitmq.conf.j2", ctx=ctx, listener=listener, consumer_timeout_ms=timeout_ms)


def render_rabbitmq_definitions(ctx: RabbitmqContext) -> str:
    """definitions.json loaded at boot (``load_definitions``): users, vhost, queues, DLQs."""
    if not ctx.users:
        raise ValueError("RabbitMQ definitions need at least one user (guest is loopback-only)")
    users, permissions = [], []
    for u in ctx.users:
        users.append({
            "name": u.name,
            "password_hash": rabbitmq_password_hash(u.password, ctx.salt),
            "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": ",".join(u.tags),
        })
        permissions.append({"user": u.name, "vhost": ctx.vhost, "configure": u.configure, "write": u.write, "read": u.read})
    queues, exchanges, bindings = [], [], []
    for q in ctx.queues:
        args: dict[str, object] = {}
        if q.quorum:
            args["x-queue-type"] = "quorum"
        if q.max_depth is not None:
            if q.max_depth < 1:
                raise ValueError(f"max_depth must be >= 1, but {q.max_depth} was provided")
            # A quorum queue refuses publishes only once it is *over* its limit
            # (rabbit_fifo `is_over_limit` is `ready > max_length` in 3.10 through
            # 4.x; checked on a real 3.10 broker), so it holds limit + 1.
            args["x-max-length"] = q.max_depth - 1 if q.quorum else q.max_depth
            args["x-overflow"] = "reject-publish"
        if q.retention is not None:
            args["x-message-ttl"] = int(to_seconds(q.retention) * 1000)
        if q.fifo:
            args["x-single-active-consumer"] = True
        if q.max_receives is None and q.quorum:
            # RabbitMQ 4.0 gave quorum queues a default delivery limit of 20, after
            # which a message is dropped; a queue without max_receives redelivers
            # without limit (as SQS without a redrive policy): -1 disables it on 4.x.
            args["x-delivery-limit"] = -1
        if q.max_receives is not None:
            if q.max_receives < 1:
                raise ValueError(f"max_receives must be >= 1, but {q.max_receives} was provided")
            if not q.quorum:
                raise ValueError("max_receives needs a quorum queue (classic queues have no delivery limit)")
            args["x-delivery-limit"] = q.max_receives - 1
            args["x-dead-letter-exchange"] = q.dead_letter_exchange
            args["x-dead-letter-routing-key"] = q.dead_letter_queue
        queues.append({"name": q.name, "vhost": ctx.vhost, "durable": True, "auto_delete": False, "arguments": args})
        if q.max_receives is not None:
            exchanges.append({"name": q.dead_letter_exchange, "vhost": ctx.vhost, "type": "direct",
                              "durable": True, "auto_delete": False, "internal": False, "arguments": {}})
            queues.append({"name": q.dead_letter_queue, "vhost": ctx.vhost, "durable": True, "auto_delete": False,
                           "arguments": {"x-queue-type": "quorum", "x-delivery-limit": -1}})
            bindings.append({"source": q.dead_letter_exchange, "vhost": ctx.vhost,
                             "destination": q.dead_letter_queue, "destination_type": "queue",
                             "routing_key": q.dead_letter_queue, "arguments": {}})
    doc = {
        "users": users,
        "vhosts": [{"name": ctx.vhost}],
        "permissions": permissions,
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
    }
    return pretty_json(doc)
