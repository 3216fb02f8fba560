"""The AWS data tier deploys on the first `pulumi up`: engine versions and
parameter group families, maintenance windows, store passwords.

Plan-level tests: each compiles a small blueprint and checks what RDS,
ElastiCache or Secrets Manager would refuse or get wrong.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from aws_rules import catalog
from topoform.dsl import validate_text
from topoform.providers import compile_plan
from topoform.providers.aws.store_catalog import (
    CACHE_ENGINE_VERSIONS,
    RDS_ENGINE_VERSIONS,
    VersionNotOffered,
    cache_family,
    rds_family,
)
from topoform.providers.base import UnsupportedError

RDS = "aws:rds/instance:Instance"


def compile_aws(text: str):
    result = validate_text(textwrap.dedent(text), file="test.yaml", target="aws")
    assert result.ok, "\n".join(d.render() for d in result.diagnostics)
    return compile_plan(result.blueprint, "aws", "test")


def refusal(text: str) -> str:
    with pytest.raises(UnsupportedError) as caught:
        compile_aws(text)
    return "\n".join(d.message + " | " + (d.hint or "") for d in caught.value.diagnostics)


def database(engine: str, version: str, extra: str = "") -> str:
    return f"""
    blueprint: shop
    services:
      web: {{image: "nginx:1.27", port: 80, env: {{DATABASE_URL: "${{databases.main.url}}"}}}}
    databases:
      main: {{engine: {engine}, version: "{version}"{extra}}}
    """


def cache(engine: str, version: str) -> str:
    return f"""
    blueprint: shop
    services:
      web: {{image: "nginx:1.27", port: 80, env: {{CACHE_URL: "${{caches.hot.url}}"}}}}
    caches:
      hot: {{engine: {engine}, version: "{version}", eviction: allkeys-lru}}
    """


# ---------------------------------------------------------------- families (item 5)

RDS_ENTRIES = [(engine, version) for engine, versions in RDS_ENGINE_VERSIONS.items() for version in versions]
CACHE_ENTRIES = [(engine, version) for engine, versions in CACHE_ENGINE_VERSIONS.items() for version in versions]


@pytest.mark.parametrize("engine,version", RDS_ENTRIES, ids=[f"{e}-{v}" for e, v in RDS_ENTRIES])
def test_every_rds_version_is_offered_and_its_family_documented(engine, version):
    family = rds_family(engine, version)
    assert family == catalog.rds_family(engine, version) and family in catalog.RDS_FAMILIES
    current = catalog.rds_versions()[engine] - catalog.rds_deprecated_versions().get(engine, frozenset())
    assert catalog.offered(version, current), f"RDS creates no new {engine} {version} (cfn-lint's data)"
    plan = compile_aws(database(engine, version))
    assert plan.get("db-main-params").properties["family"] == family


@pytest.mark.parametrize("engine,version", CACHE_ENTRIES, ids=[f"{e}-{v}" for e, v in CACHE_ENTRIES])
def test_every_cache_version_is_offered_and_its_family_documented(engine, version):
    family = cache_family(engine, version)
    assert family == catalog.elasticache_family(engine, version) and family in catalog.ELASTICACHE_FAMILIES
    assert catalog.offered(version, catalog.elasticache_versions()[engine])
    if engine != "memcached":  # memcached takes no eviction policy, hence no parameter group
        assert compile_aws(cache(engine, version)).get("cache-hot-params").properties["family"] == family


@pytest.mark.parametrize("engine,version,family", [
    ("redis", "5.0.6", "redis5.0"), ("redis", "4.0.10", "redis4.0"), ("redis", "6.2", "redis6.x"),
    ("postgres", "16.4", "postgres16"), ("mysql", "8.0.40", "mysql8.0"), ("mariadb", "10.11.9", "mariadb10.11"),
])
def test_full_versions_map_to_their_family(engine, version, family):
    table = cache_family if engine == "redis" else rds_family
    assert table(engine, version) == family


def test_postgres_9_6_is_refused_with_the_versions_rds_offers():
    message = refusal(database("postgres", "9.6"))
    assert "RDS offers no postgres 9.6" in message and "11, 12, 13, 14, 15, 16, 17, 18" in message
    with pytest.raises(VersionNotOffered):
        rds_family("postgres", "9.6")


def test_an_unoffered_cache_version_is_refused_with_the_list():
    message = refusal(cache("redis", "3.2.10"))
    assert "ElastiCache offers no redis 3.2.10" in message and "4.0, 5.0, 6.0, 6.2, 7.0, 7.1" in message
