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


# ---------------------------------------------------------------- windows (item 15)

HOT = """
blueprint: shop
services:
  web: {image: "nginx:1.27", port: 80, env: {DATABASE_URL: "${databases.main.url}"}}
load_balancers:
  edge: {routes: [{target: services.web}]}
databases:
  main: {replication: {mode: primary-replica, replicas: 2}, sharding: {shards: 2, key: id}}
disaster_recovery: {strategy: hot, region: us-west-2}
"""
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def week_spans(window: str) -> list[tuple[int, int]]:
    """A daily `hh:mm-hh:mm` or weekly `ddd:hh:mm-ddd:hh:mm` window as minute spans of the week."""
    start, end = window.split("-")
    if start[:3] in DAYS:
        day = DAYS.index(start[:3])
        begin = day * 1440 + _minutes(start[4:])
        return [(begin, begin + (_minutes(end[4:]) - _minutes(start[4:])) % 1440)]
    return [(d * 1440 + _minutes(start), d * 1440 + _minutes(start) + (_minutes(end) - _minutes(start)) % 1440)
            for d in range(7)]


def test_every_instance_has_explicit_windows_that_do_not_overlap_or_meet_aws_backup():
    plan = compile_aws(HOT)
    instances = plan.of_type(RDS)
    assert {r.name for r in instances} >= {"db-main-shard-0-replica-2", "dr-db-main-shard-1"}
    backup_job = next(r for rule in plan.get("backup-plan-db-main").properties["rules"] for r in [rule])
    hour = int(re.match(r"cron\(0 (\d+) ", backup_job["schedule"]).group(1))
    for db in instances:
        backup, maintenance = db.properties.get("backup_window"), db.properties.get("maintenance_window")
        assert backup and maintenance, f"{db.name}: RDS would pick random windows"
        spans, weekly = week_spans(backup), week_spans(maintenance)
        assert not any(b0 < m1 and m0 < b1 for b0, b1 in spans for m0, m1 in weekly), db.name
        # The daily AWS Backup job starts at least an hour after either window ends.
        for _, end in spans + weekly:
            assert (hour * 60 - end % 1440) % 1440 >= 60, (db.name, backup, maintenance, hour)


def test_the_dr_copy_of_uploaded_content_is_not_force_destroyed():
    plan = compile_aws("""
    blueprint: shop
    cdns:
      media: {mode: push, content: ./static}
    disaster_recovery: {strategy: cold, region: us-west-2}
    """.replace("./static", str(__import__("pathlib").Path(__file__).parents[1] / "blueprints" / "static")))
    buckets = {b.name: b.properties for b in plan.of_type("aws:s3/bucket:Bucket")}
    assert set(buckets) == {"cdn-media-bucket", "dr-cdn-media-bucket"}
    assert all(props["force_destroy"] is False for props in buckets.values())
    assert plan.get("dr-cdn-media-bucket").protect is True


# ---------------------------------------------------------------- passwords (items 1, 10, 11)

def _task_secrets(plan, task: str) -> dict[str, str]:
    from topoform.providers.values import special

    definitions = special(plan.get(task).properties["container_definitions"])[1]
    return {s["name"]: s["valueFrom"] for s in definitions[0]["secrets"]}


def test_replicas_are_of_sources_whose_password_topoform_owns():
    from aws_rules import registry

    plan = compile_aws(HOT)
    rule = {r.id: r for r in registry.all_rules()}["rds-replica-of-managed-password"]
    assert rule.violations(plan) == []
    for db in plan.of_type(RDS):
        assert "manage_master_user_password" not in db.properties, db.name
        if "replicate_source_db" in db.properties:
            assert "password" not in db.properties, f"{db.name} inherits its source's password"
        else:
            assert db.properties["password"] == f"${{{db.name}-password.result}}"
    generator = plan.get("db-main-shard-0-password")
    assert generator.type == "random:index/randomPassword:RandomPassword" and generator.properties["special"] is False
    value = plan.get("db-main-shard-0-password-secret-value").properties
    assert value["secret_string"] == {"$secret": "${db-main-shard-0-password.result}"}


def test_dr_tasks_read_the_password_from_a_secret_in_the_dr_region():
    plan = compile_aws(HOT)
    assert _task_secrets(plan, "svc-web-task")["DATABASE_PASSWORD"] == "${db-main-shard-0-password-secret.arn}"
    assert _task_secrets(plan, "dr-svc-web-task")["DATABASE_PASSWORD"] == "${dr-db-main-shard-0-password-secret.arn}"
    assert plan.get("db-main-shard-0-password-secret").properties["region"] == "us-east-1"
    for i in range(2):
        copy = plan.get(f"dr-db-main-shard-{i}-password-secret-value").properties
        assert copy["region"] == "us-west-2"
        assert copy["secret_string"] == {"$secret": f"${{db-main-shard-{i}-password.result}}"}
    policy = plan.get("dr-svc-web-execution-secrets").properties["policy"]["$json"]
    assert policy["Statement"][0]["Resource"] == ["${dr-db-main-shard-0-password-secret.arn}"]


def test_a_cold_site_keeps_a_copy_of_the_password_too():
    plan = compile_aws(HOT.replace("strategy: hot", "strategy: cold").replace(
        "load_balancers:\n  edge: {routes: [{target: services.web}]}\n", ""))
    assert plan.get("dr-db-main-shard-0-password-secret").properties["region"] == "us-west-2"


def test_plan_says_who_logs_in_and_that_the_password_is_not_rotated():
    plan = compile_aws(HOT)
    messages = {w.message: w.hint for w in plan.warnings}
    login = messages["databases.main: services log in as the RDS master user `app`"]
    assert "CREATE ROLE" in login and "CREATE USER" in login
    rotation = messages["databases.main: the master password is not rotated"]
    assert "aws ecs update-service" in rotation and "--force-new-deployment" in rotation
    assert plan.outputs["databases.main.password_secrets"] == {
        f"db-main-shard-{i}": f"${{db-main-shard-{i}-password-secret.arn}}" for i in range(2)}


def test_dsql_admin_login_is_explained():
    plan = compile_aws("""
    blueprint: shop
    services:
      web: {image: "nginx:1.27", port: 80, env: {DATABASE_URL: "${databases.ledger.url}"}}
    databases:
      ledger: {replication: {mode: multi-primary, replicas: 1}}
    """)
    [warning] = [w for w in plan.warnings if "Aurora DSQL as its `admin` role" in w.message]
    assert "AWS IAM GRANT" in warning.hint and "dsql:DbConnect" in warning.hint
