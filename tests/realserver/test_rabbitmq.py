"""rabbitmq-server 3.10 boots with the rendered rabbitmq.conf + definitions.json.

Checks what the blueprint promises: back pressure (a confirmed publish past
``max_depth`` is nacked), dead-lettering after ``max_receives`` deliveries,
FIFO via single active consumer, and that the hashed password logs in.
"""

from __future__ import annotations

import time

import pytest

from topoform.providers.docker.configs import (
    RabbitmqContext, RabbitmqQueue, RabbitmqUser, render_rabbitmq_conf, render_rabbitmq_definitions,
)

from .harness import free_port, require, wait_for

pytestmark = pytest.mark.real_server

import pika  # noqa: E402  (the test extra installs it; a missing client must fail, not skip)

RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the real script; /usr/sbin's wrapper su's to rabbitmq
USER, PASSWORD = "shop", "p@ss wörd"

QUEUES = (
    RabbitmqQueue("orders", max_depth=5, retention="4d"),
    RabbitmqQueue("jobs", max_receives=3),
    RabbitmqQueue("ledger", fifo=True, max_depth=1000, max_receives=5),
)


@pytest.fixture(scope="module")
def broker(module_launcher):
    """A broker on free loopback ports, with its own epmd; yields pika ConnectionParameters."""
    require(RABBIT, "rabbitmq-server")
    epmd = require("epmd", "erlang-base")
    work = module_launcher.workdir
    amqp, dist, epmd_port = free_port(), free_port(), free_port()
    ctx = RabbitmqContext(port=amqp, listen="127.0.0.1", definitions_path=str(work / "definitions.json"),
                          vhost="shop", users=(RabbitmqUser(USER, PASSWORD, tags=("management",)),),
                          queues=QUEUES, consumer_timeout="30m")
    (work / "rabbitmq.conf").write_text(render_rabbitmq_conf(ctx))
    (work / "definitions.json").write_text(render_rabbitmq_definitions(ctx))
    (work / "enabled_plugins").write_text("[].\n")
    for sub in ("mnesia", "log"):
        (work / sub).mkdir()
    # Our own epmd in the foreground, so teardown kills it (rabbit would
    # otherwise spawn a daemonised one that outlives the test).
    module_launcher.start("epmd", [epmd, "-port", str(epmd_port)], wait_port=epmd_port)
    env = {
        "HOME": str(work), "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_NODENAME": f"rabbit-test-{amqp}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp), "RABBITMQ_DIST_PORT": str(dist),
        "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(work / "mnesia"), "RABBITMQ_LOG_BASE": str(work / "log"),
        "RABBITMQ_CONF_ENV_FILE": str(work / "rabbitmq-env.conf"), "RABBITMQ_ADVANCED_CONFIG_FILE": str(work / "advanced.config"),
    }
    proc = module_launcher.start("rabbitmq", [RABBIT], env=env, wait_port=amqp, timeout=90)
    params = pika.ConnectionParameters("127.0.0.1", amqp, "shop", pika.PlainCredentials(USER, PASSWORD),
                                       blocked_connection_timeout=10, socket_timeout=10)
    wait_for(lambda: pika.BlockingConnection(params).close() or True, 30, "AMQP login with the defined user", 0.5)
    yield params
    proc.stop(timeout=20)


def test_publisher_is_refused_beyond_max_depth(broker):
    conn = pika.BlockingConnection(broker)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        for i in range(5):
            ch.basic_publish("", "orders", f"order {i}".encode(), pika.BasicProperties(delivery_mode=2))
        with pytest.raises(pika.exceptions.NackError):
            ch.basic_publish("", "orders", b"order 6", pika.BasicProperties(delivery_mode=2))
        assert ch.queue_declare("orders", passive=True).method.message_count == 5
    finally:
        conn.close()


def test_message_goes_to_dlq_after_max_receives(broker):
    conn = pika.BlockingConnection(broker)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.basic_publish("", "jobs", b"poison", pika.BasicProperties(delivery_mode=2))
        receives = 0
        deadline = time.monotonic() + 20
        idle_since = None
        while time.monotonic() < deadline:
            method, _, body = ch.basic_get("jobs", auto_ack=False)
            if method is None:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 1.0:
                    break
                time.sleep(0.05)
                continue
            idle_since = None
            assert body == b"poison"
            receives += 1
            ch.basic_nack(method.delivery_tag, requeue=True)  # the consumer fails
        assert receives == 3  # SQS maxReceiveCount semantics: received 3 times, then dead-lettered

        def dead_lettered():
            method, props, body = ch.basic_get("jobs.dlq", auto_ack=True)
            return method is not None and body
        assert wait_for(dead_lettered, 10, "the message in jobs.dlq") == b"poison"
    finally:
        conn.close()


def test_fifo_queue_has_single_active_consumer(broker):
    conn = pika.BlockingConnection(broker)
    try:
        ch = conn.channel()
        # Re-declaring with identical arguments succeeds only if the broker
        # holds exactly these (a mismatch closes the channel, checked below).
        ch.queue_declare("ledger", durable=True, arguments={
            "x-queue-type": "quorum", "x-single-active-consumer": True, "x-max-length": 999,
            "x-overflow": "reject-publish", "x-delivery-limit": 4, "x-dead-letter-exchange": "ledger.dlx",
            "x-dead-letter-routing-key": "ledger.dlq"})
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as exc:
            ch.queue_declare("ledger", durable=True, arguments={"x-queue-type": "quorum"})
        assert exc.value.reply_code == 406  # PRECONDITION_FAILED: arguments differ
    finally:
        conn.close()


def test_guest_and_wrong_password_are_refused(broker):
    bad = pika.ConnectionParameters(broker.host, broker.port, "shop", pika.PlainCredentials(USER, "nope"),
                                    connection_attempts=1, socket_timeout=5)
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(bad)
