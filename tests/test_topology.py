"""dsl/topology.py: one topology per blueprint, the same however it is built."""

from __future__ import annotations

import glob
import os
import textwrap

import pytest

from topoform.dsl.topology import Read, build, topology
from topoform.dsl.validate import validate_file, validate_text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLUEPRINTS = sorted(glob.glob(os.path.join(ROOT, "blueprints", "*.yaml"))
                    + glob.glob(os.path.join(ROOT, "tests", "golden", "valid", "*.yaml")))

SHOP = """
    blueprint: shop
    services:
      web:
        image: nginx:1.27
        port: 80
        command: ["serve", "--cache=${caches.hot.host}"]
        env:
          DB: "${databases.users.url}"
          LITERAL: "$${databases.users.url}"
          READS: "${databases.users.reader_url}"
      worker:
        image: busybox:1.36
        consumes: [queues.jobs]
        env: {Q: "${queues.jobs.url}", WEB: "${services.web.url}"}
    databases:
      users: {replication: {mode: primary-replica, replicas: 1}}
    caches:
      hot: {in_front_of: databases.users}
    queues:
      jobs: {consumers: [services.web, services.worker]}
    disaster_recovery: {strategy: hot, region: us-west-2}
"""


@pytest.fixture(scope="module")
def shop():
    result = validate_text(textwrap.dedent(SHOP))
    assert result.blueprint is not None, result.diagnostics
    return result.blueprint


def test_reads_follow_env_keys_then_the_command(shop):
    assert topology(shop).reads_of("services.web") == (
        Read("services.web", "databases.users", "url", "DB"),
        Read("services.web", "databases.users", "reader_url", "READS"),
        Read("services.web", "caches.hot", "host", None),
    )
    assert topology(shop).reads_of("services.web")[2].key == "command"


def test_readers_stores_consumers_and_sites(shop):
    found = topology(shop)
    assert found.users("databases.users") == ["services.web"]
    assert found.users("services.web") == ["services.worker"]
    assert [read.target for read in found.store_reads("services.worker")] == ["queues.jobs"]
    assert found.consumers_of("queues.jobs") == ("services.web", "services.worker")
    assert found.in_front_of == {"caches.hot": "databases.users"}
    assert found.hot_dr and found.has_dr_site and found.running_sites == ("primary", "dr")


def test_validate_builds_it_once_and_later_stages_reuse_it(shop):
    assert topology(shop) is topology(shop)


@pytest.mark.parametrize("path", BLUEPRINTS, ids=os.path.basename)
def test_built_by_validate_or_by_scanning_the_blueprint_alike(path):
    bp = validate_file(path).blueprint
    assert bp is not None
    validated, scanned = topology(bp), build(bp)
    assert validated.reads == scanned.reads and validated.readers == scanned.readers
    assert validated.consumers == scanned.consumers and validated.in_front_of == scanned.in_front_of
    assert set(validated.fields) == set(scanned.fields)
