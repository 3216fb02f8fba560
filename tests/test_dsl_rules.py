"""Semantic rules (positions and messages are pinned by the golden tests)."""

import pytest

from topoform.dsl.validate import validate_text

SERVICE = "services:\n  web: {image: x, port: 80}\n"


def errors(body: str, target: str | None = None, base_dir: str = ".") -> list[str]:
    result = validate_text("blueprint: r\n" + body, "r.yaml", base_dir=base_dir, target=target)
    return [d.message for d in result.diagnostics]


def test_routes_belong_to_layer_7_and_targets_to_layer_4():
    assert errors(SERVICE + "load_balancers:\n  lb: {layer: 4, routes: [{target: services.web}]}\n") == [
        "`routes` is for layer 7 balancers; a layer 4 balancer takes `targets`"]
    assert errors(SERVICE + "load_balancers:\n  lb: {layer: 4, targets: [{target: services.web}]}\n") == []


@pytest.mark.parametrize("weights, message", [
    ("[0, 0]", "all weights are zero: nothing would receive traffic"),
    ("[-1, 3]", "weight must not be negative, but -1 was given"),
    ("[1, 300]", "weight must be at most 256, but 300 was given"),
])
def test_balancer_weights(weights, message):
    a, b = weights.strip("[]").split(", ")
    body = SERVICE + f"load_balancers:\n  lb:\n    routes:\n      - {{target: services.web, weight: {a}}}\n" \
                     f"      - {{target: services.web, weight: {b}}}\n"
    assert errors(body) == [message]


def test_failover_needs_one_primary_and_one_secondary():
    body = SERVICE + ("load_balancers:\n  lb: {routes: [{target: services.web}]}\n"
                      "dns:\n  zone: a.example\n  records:\n    - name: x\n      routing: failover\n"
                      "      endpoints: [{target: load_balancers.lb, role: primary}]\n")
    assert errors(body) == ["a failover record needs exactly one primary and one secondary endpoint, "
                            "but has 1 primary and 0 secondary"]


def test_push_cdn_content_is_relative_to_the_blueprint(tmp_path):
    (tmp_path / "site").mkdir()
    body = "cdns:\n  c: {mode: push, content: ./site}\n"
    assert errors(body, base_dir=str(tmp_path)) == []
    assert errors(body, base_dir=str(tmp_path / "elsewhere")) == ["content directory './site' does not exist"]


@pytest.mark.parametrize("engine, target, ok", [
    ("mariadb", "docker", True), ("postgres", "docker", False), ("mysql", "docker", False),
    ("postgres", "aws", True), ("mysql", "aws", False), ("mariadb", "aws", False),
])
def test_multi_primary_depends_on_engine_and_target(engine, target, ok):
    body = f"databases:\n  d: {{engine: {engine}, replication: {{mode: multi-primary, replicas: 1}}}}\n"
    assert (errors(body, target=target) == []) is ok


def test_a_sharding_key_without_shards():
    assert errors("databases:\n  d: {sharding: {key: id}}\n") == [
        "sharding key 'id' is set, but the database is not sharded"]


def test_aws_only_rules_do_not_apply_on_docker():
    body = "databases:\n  d: {storage: 5GiB}\n"
    assert errors(body, target="docker") == []
    assert errors(body, target="aws") == ["RDS needs at least 20GiB of storage"]


def test_site_dr_needs_a_recovery_section():
    body = SERVICE + ("load_balancers:\n  lb: {routes: [{target: services.web}]}\n"
                      "dns:\n  zone: a.example\n  records:\n    - name: x\n      routing: latency\n"
                      "      endpoints: [{target: load_balancers.lb, region: us-east-1, site: dr}]\n")
    assert errors(body) == ["`site: dr` needs a `disaster_recovery` section"]
    assert errors(body + "disaster_recovery: {strategy: hot, region: us-west-2}\n") == []


@pytest.mark.parametrize("interval, timeout", [("5s", 2.0), ("10s", 5.0), ("1m", 5.0), ("3s", 1.0), ("1s", 0.5),
                                               ("2s", 1.0)])
def test_a_health_check_timeout_nobody_wrote_fits_the_interval(interval, timeout):
    result = validate_text("blueprint: r\nservices:\n"
                           f"  web: {{image: x, port: 80, health: {{interval: {interval}}}}}\n", "r.yaml")
    assert result.ok, [d.render() for d in result.diagnostics]
    assert result.blueprint.services["web"].health.timeout == timeout
    assert result.blueprint.services["web"].health.model_fields_set == {"interval"}


def test_a_wrong_health_timing_names_the_value_that_was_defaulted():
    result = validate_text("blueprint: r\nservices:\n  web: {image: x, port: 80, health: {timeout: 15s}}\n", "r.yaml")
    [diag] = result.diagnostics
    assert diag.message == "the health check timeout (15s) must be shorter than its interval (10s, the default)"
    assert diag.hint.startswith("write an `interval` longer than the timeout")
    assert errors("services:\n  web: {image: x, port: 80, health: {interval: 5s, timeout: 5s}}\n") == [
        "the health check timeout (5s) must be shorter than its interval (5s)"]


def test_cdn_ttls_name_the_values_that_were_defaulted():
    body = SERVICE + "cdns:\n  c: {mode: pull, origin: services.web, ttl: {min: 2h}}\n"
    assert errors(body) == ["TTLs must satisfy min ≤ default ≤ max, but min 2h, default 1h (the default), "
                            "max 1d (the default) are in force"]


def test_range_sharding_needs_boundaries_rather_than_falling_back_to_a_hash():
    result = validate_text("blueprint: r\ndatabases:\n  d: {sharding: {shards: 2, key: id, strategy: range}}\n", "r.yaml")
    [diag] = result.diagnostics
    assert (diag.line, diag.column, diag.message) == (3, 48, "range sharding needs `boundaries`: the 1 key where 2 shards split")
    assert diag.hint.startswith("e.g. `boundaries: [1000000]`")
    assert errors("databases:\n  d: {sharding: {shards: 2, key: id, strategy: range, boundaries: [100]}}\n") == []


DR = "disaster_recovery: {strategy: backup, rto: 30m, rpo: 1m}\n"


def test_a_type_error_elsewhere_in_a_database_does_not_hide_the_dr_objectives():
    found = errors("databases:\n  main: {engine: mysql, version: 8.0}\n" + DR)
    assert found[0].startswith("databases.main.version: version 8.0 was read as a number")
    assert [m.split(" cannot")[0] for m in found[1:]] == ["declared RTO 30m", "declared RPO 1m"]


@pytest.mark.parametrize("database", [
    "main: {storage: '100'}",                        # the restore time depends on it
    "main: {backup: {interval: daily}}",             # the RPO depends on it
    "main: {engine: mysql}\n  other: 5",              # a database left out may be the slowest to restore
])
def test_dr_objectives_wait_when_a_value_they_read_is_not_as_written(database):
    found = errors(f"databases:\n  {database}\n" + DR)
    assert len(found) == 1 and "cannot be met" not in found[0]
