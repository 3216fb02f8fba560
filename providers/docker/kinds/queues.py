"""Queues: one RabbitMQ broker per queue on every running site.

A quorum queue with a dead-letter exchange after `max_receives`,
`x-max-length` + `reject-publish` for `max_depth`, single active consumer for
FIFO. Passwords are hashed at container start (`scripts.py`) because they
exist only at deploy time.
"""

from __future__ import annotations

from topoform.dsl.models import Queue
from topoform.providers import facts as common

from .. import configs, images, scripts
from ..containers import APP_USER, health, password_ref, upload
from ..context import DockerContext
from ..endpoint import Endpoint, endpoint_attribute
from ..facts import estimate
from ..sites import PRIMARY, site_suffix

AMQP_PORT = 5672
RABBITMQ_ENTRYPOINT = "/usr/local/bin/topoform-rabbitmq.sh"
RABBITMQ_DEFINITIONS = "/etc/rabbitmq/definitions.json"


def endpoint(ctx: DockerContext, queue: Queue) -> Endpoint:
    return Endpoint("amqp", ctx.names.host(queue), AMQP_PORT)


def url(ctx: DockerContext, queue: Queue) -> str:
    return f"amqp://{APP_USER}:{password_ref(queue)}@{endpoint(ctx, queue).address}/%2F"


def attribute(ctx: DockerContext, queue: Queue, attr: str) -> str:
    return endpoint_attribute(ctx, queue, endpoint(ctx, queue), attr, url(ctx, queue) if attr == "url" else None)


def build(ctx: DockerContext, queue: Queue) -> None:
    prefix, host = ctx.prefix(queue), ctx.names.host(queue)
    password = ctx.containers.password(f"{prefix}-password", queue.protect)
    context = configs.RabbitmqContext(
        port=AMQP_PORT, definitions_path=RABBITMQ_DEFINITIONS,
        users=(configs.RabbitmqUser(APP_USER, "unused: hashed at container start", tags=("administrator",)),),
        queues=(configs.RabbitmqQueue(queue.name, max_depth=queue.max_depth, max_receives=queue.max_receives,
                                      retention=queue.retention, fifo=queue.fifo),),
        consumer_timeout=queue.visibility_timeout if queue.visibility_timeout >= 1 else None,
        salt=b"\0\0\0\0")
    definitions = scripts.rabbitmq_definitions_template(configs.render_rabbitmq_definitions(context), APP_USER)
    uploads = [
        upload("/etc/rabbitmq/rabbitmq.conf", configs.render_rabbitmq_conf(context)),
        upload(scripts.RABBITMQ_DEFINITIONS_TEMPLATE, definitions),
        upload(RABBITMQ_ENTRYPOINT, scripts.rabbitmq_entrypoint(RABBITMQ_DEFINITIONS), executable=True),
    ]
    for site in ctx.sites.running:
        name = f"{prefix}{site_suffix(site)}"
        volume = ctx.containers.volume(f"{name}-data", queue.protect)
        ports = [ctx.publish_public(queue, AMQP_PORT)] if queue.public and site == PRIMARY else []
        ctx.containers.container(
            name, image=images.RABBITMQ, site=site, aliases=[host], envs={"RABBITMQ_PASSWORD": password},
            entrypoints=[RABBITMQ_ENTRYPOINT], command=["rabbitmq-server"], uploads=uploads,
            volumes=[(volume, "/var/lib/rabbitmq")], ports=ports, memory_mb=512, cpus=0.5,
            healthcheck=health("rabbitmq-diagnostics -q ping", 30.0, 10.0, 3, 60.0),
            hostname=host)
    ctx.export_endpoint(endpoint(ctx, queue), url(ctx, queue))
    ctx.export("queue", queue.name)
    if queue.max_receives is not None:
        ctx.export("dead_letter_queue", context.queues[0].dead_letter_queue)


# ---------------------------------------------------------------- facts for the analyses

AVAILABILITY = estimate("RabbitMQ")
facts = common.queues
