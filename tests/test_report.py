"""`topoform report`: availability arithmetic, request paths, fixes, DR
estimates per strategy, consistency lines, every lint rule (tests/lint/), and the JSON form."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli
from topoform.dsl.validate import validate_file, validate_text
from topoform.providers import aws, docker
from topoform.providers.facts import defaults
from topoform.providers.insight.availability import (PathBuilder, format_percent, nines, parallel,
                                                     request_paths, sequence)
from topoform.providers.insight.budgets import budgets_text, downtime, format_budget
from topoform.providers.insight.consistency import consistency
from topoform.providers.insight.lint import RULES, lint, secret_name
from topoform.providers.insight.report import build_report

# Each target's table of one copy's figures, as its facts hook builds it (from its kind modules).
AWS_DEFAULTS = defaults(aws.TARGET.kinds, aws.facts.OTHERS)
DOCKER_DEFAULTS = defaults(docker.TARGET.kinds, docker.facts.OTHERS)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LINT_DIR = os.path.join(ROOT, "tests", "lint")
SCHEMA = os.path.join(ROOT, "schemas", "report.schema.json")
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "blueprints", "*.yaml")))


def blueprint(text: str, target: str = "docker", tmp_path=None):
    result = validate_text(textwrap.dedent(text), target=target)
    assert result.ok, [d.render() for d in result.diagnostics if d.severity == "error"]
    return result.blueprint


# ------------------------------------------------------------------ arithmetic


def test_two_999_parts_in_sequence_give_998001():
    value = sequence([0.999, 0.999])
    assert value == pytest.approx(0.998001, abs=1e-12)
    assert format_percent(value) == "99.8001%"


def test_two_999_parts_in_parallel_give_999999():
    value = parallel([0.999, 0.999])
    assert value == pytest.approx(0.999999, abs=1e-12)
    assert format_percent(value) == "99.9999%"


@pytest.mark.parametrize("fraction, text", [(0.999, "99.90%"), (0.995, "99.50%"), (0.9995, "99.95%"),
                                             (1.0, "100%"), (0.98, "98.00%"), (0.99999, "99.999%")])
def test_percent_formatting_keeps_the_nines_visible(fraction, text):
    assert format_percent(fraction) == text


def test_nines():
    assert nines(0.999) == pytest.approx(3.0)
    assert nines(0.99) == pytest.approx(2.0)
    assert nines(1.0) == float("inf")


def test_downtime_budgets_of_999():
    assert budgets_text(99.9) == {"year": "8h 45m 57s", "month": "43m 49.7s", "week": "10m 4.8s",
                                  "day": "1m 26.4s"}


def test_downtime_budgets_of_9999():
    assert budgets_text(99.99) == {"year": "52m 35.7s", "month": "4m 23s", "week": "1m 0.5s", "day": "8.6s"}


def test_budget_uses_the_gregorian_year():
    assert downtime(0.0)["year"] == pytest.approx(365.2425 * 86400)
    assert downtime(0.0)["month"] == pytest.approx(365.2425 * 86400 / 12)
    assert downtime(100.0)["day"] == 0.0
    assert format_budget(59.96) == "1m"  # rounding carries into the minutes


def test_every_default_has_a_source_for_every_kind_and_target():
    kinds = {"dns", "cdns", "reverse_proxies", "load_balancers", "services", "databases", "caches", "queues"}
    for target, table in (("aws", AWS_DEFAULTS), ("docker", DOCKER_DEFAULTS)):
        assert kinds <= set(table), target
        for default in table.values():
            assert 0 < default.percent <= 100 and default.source and default.label
    assert AWS_DEFAULTS["load_balancers"].percent == 99.99
    assert AWS_DEFAULTS["queues"].percent == 99.9


# ------------------------------------------------------------------ request paths


WEB_DB = """
    blueprint: shop
    services:
      web:
        image: nginx:1.27-alpine
        port: 80
        replicas: 1
        availability: 99.9%
        env: {DATABASE_URL: "${databases.db.url}"}
    load_balancers:
      edge:
        redundancy: none
        availability: 100%
        listeners: [{port: 443, tls: true}]
        routes: [{target: services.web}]
    databases:
      db: {availability: 99.9%}
    slos: {availability: 99.85%}
"""


def test_path_is_balancer_service_and_database_in_sequence():
    bp = blueprint(WEB_DB)
    paths = request_paths(bp, "docker")
    assert [p.kind for p in paths] == ["request"]
    path = paths[0]
    assert path.refs() == ["load_balancers.edge", "services.web", "databases.db"]
    assert path.availability == pytest.approx(0.998001)


def test_the_fix_names_a_second_replica_and_the_figure_it_gives():
    bp = blueprint(WEB_DB)
    builder = PathBuilder(bp, "docker")
    path = builder.paths()[0]
    fix = builder.fix_for(path, "services.web")
    assert fix.change == "a second replica of services.web"
    assert fix.after == pytest.approx(0.999999 * 0.999)
    assert fix.sentence() == "a second replica of services.web lifts the path from 99.8001% to 99.8999%"


def test_report_names_the_costliest_component_and_misses_the_slo():
    report = build_report(blueprint(WEB_DB), "docker")
    avail = report["availability"]
    assert avail["composite"]["text"] == "99.8001%"
    assert avail["slo"]["met"] is False
    # web and db cost the same; the one a blueprint change can fix is named
    assert avail["costliest"]["ref"] in ("services.web", "databases.db")
    assert avail["costliest"]["fix"]["to"] > avail["costliest"]["fix"]["from"]
    assert any(f["rule"] == "slo-not-met" for f in report["lint"])


def test_override_replaces_the_default_per_copy():
    bp = blueprint(WEB_DB)
    members = {m.ref: m for m in PathBuilder(bp, "aws").paths()[0].steps}
    assert members["services.web"].percent == 99.9
    assert members["services.web"].source.startswith("`availability:`")
    bp2 = blueprint(WEB_DB.replace("availability: 99.9%\n        env", "env"))
    members2 = {m.ref: m for m in PathBuilder(bp2, "aws").paths()[0].steps}
    assert members2["services.web"].percent == 99.5


def test_copies_per_target():
    bp = blueprint("""
        blueprint: copies
        services:
          web: {image: nginx:1.27-alpine, port: 80, replicas: 3, env: {A: "${databases.db.url}", B: "${caches.c.url}"}}
        load_balancers:
          edge:
            redundancy: active-active
            listeners: [{port: 443, tls: true}]
            routes: [{target: services.web}]
        databases:
          db: {multi_az: true, replication: {mode: primary-replica, replicas: 2}}
        caches:
          c: {eviction: allkeys-lru, replicas: 1}
        aws: {certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/x"}
    """, target="aws")
    docker = {m.ref: m.copies for m in PathBuilder(bp, "docker").paths()[0].steps}
    aws = {m.ref: m.copies for m in PathBuilder(bp, "aws").paths()[0].steps}
    assert docker == {"load_balancers.edge": 2, "services.web": 3, "databases.db": 3, "caches.c": 2}
    # aws: one managed balancer (its SLA covers the zones); multi_az adds a standby
    assert aws == {"load_balancers.edge": 1, "services.web": 3, "databases.db": 4, "caches.c": 2}


FAILOVER = """
    blueprint: dr
    services:
      web: {image: nginx:1.27-alpine, port: 80, replicas: 1}
    load_balancers:
      edge:
        redundancy: active-active
        listeners: [{port: 443, tls: true}]
        routes: [{target: services.web}]
    dns:
      zone: example.com
      records:
        - name: www
          routing: failover
          endpoints:
            - {target: load_balancers.edge, role: primary}
            - {target: load_balancers.edge, role: secondary, site: dr}
    disaster_recovery: {strategy: STRATEGY, region: us-west-2}
"""


def test_hot_dr_site_is_in_parallel_with_the_primary_site():
    bp = blueprint(FAILOVER.replace("STRATEGY", "hot"))
    path = request_paths(bp, "docker")[0]
    site = parallel([0.995] * 2) * 0.995  # balancer pair × one web replica
    assert path.availability == pytest.approx(0.995 * parallel([site, site]))
    assert "DR site" in path.name


@pytest.mark.parametrize("strategy", ["cold", "backup"])
def test_cold_and_backup_sites_add_no_availability(strategy):
    bp = blueprint(FAILOVER.replace("STRATEGY", strategy))
    path = request_paths(bp, "docker")[0]
    assert path.availability == pytest.approx(0.995 * parallel([0.995] * 2) * 0.995)
    assert any("adds no availability" in note for note in path.notes)


def test_without_dr_the_fix_can_be_a_hot_site():
    bp = blueprint(FAILOVER.replace("    disaster_recovery: {strategy: STRATEGY, region: us-west-2}\n", "")
                   .replace("            - {target: load_balancers.edge, role: secondary, site: dr}\n",
                            "            - {target: load_balancers.edge, role: secondary}\n"))
    builder = PathBuilder(bp, "aws")
    path = builder.paths()[0]
    fix = builder.dr_fix(path)
    assert fix is not None and fix.after > fix.before and "hot disaster_recovery" in fix.change


def test_queue_consumers_are_async_paths_not_request_paths():
    bp = blueprint("""
        blueprint: jobs
        services:
          api: {image: nginx:1.27-alpine, port: 80, replicas: 2, public: true, env: {Q: "${queues.jobs.url}"}}
          worker: {image: python:3.12-slim, replicas: 2, consumes: [queues.jobs], env: {D: "${databases.db.url}"}}
        databases:
          db: {replication: {mode: primary-replica, replicas: 1}}
        queues:
          jobs: {max_receives: 3}
    """)
    paths = request_paths(bp, "docker")
    request = [p for p in paths if p.kind == "request"]
    jobs = [p for p in paths if p.kind == "async"]
    assert [p.refs() for p in request] == [["services.api", "queues.jobs"]]
    assert [p.refs() for p in jobs] == [["queues.jobs", "services.worker", "databases.db"]]


def test_balancer_with_two_services_gives_two_paths():
    bp = blueprint("""
        blueprint: two
        services:
          api: {image: a:1, port: 80, replicas: 2}
          web: {image: b:1, port: 80, replicas: 2}
        load_balancers:
          edge:
            redundancy: active-active
            listeners: [{port: 443, tls: true}]
            routes: [{path: /api/*, target: services.api}, {path: /*, target: services.web}]
    """)
    assert [p.refs() for p in request_paths(bp, "docker")] == [
        ["load_balancers.edge", "services.api"], ["load_balancers.edge", "services.web"]]


# ------------------------------------------------------------------ disaster recovery


DR_BASE = """
    blueprint: dr
    services:
      web: {image: nginx:1.27-alpine, port: 80, replicas: 2}
    databases:
      db:
        storage: 50GiB
        replication: {mode: primary-replica, replicas: 1}
        backup: {interval: 6h, point_in_time: PITR}
    dns:
      zone: example.com
      ttl: 30s
      records:
        - name: www
          routing: failover
          health_check: {interval: 10s, failure_threshold: 3}
          endpoints:
            - {target: services.web, role: primary}
            - {target: services.web, role: secondary, site: dr}
    disaster_recovery: {strategy: STRATEGY, region: us-west-2}
"""


@pytest.mark.parametrize("strategy, pitr, rto, rpo", [
    ("backup", "false", 3600 + 50 * 60, 6 * 3600),
    ("backup", "true", 3600 + 50 * 60, 300),
    ("cold", "false", 1800 + 3600 + 50 * 60, 6 * 3600),
    ("hot", "false", 10 * 3 + 30, 1),
])
def test_dr_estimates_per_strategy(strategy, pitr, rto, rpo):
    bp = blueprint(DR_BASE.replace("STRATEGY", strategy).replace("PITR", pitr))
    dr = build_report(bp, "docker")["disaster_recovery"]
    assert dr["strategy"] == strategy
    assert dr["achievable"]["rto"] == pytest.approx(rto)
    assert dr["achievable"]["rpo"] == pytest.approx(rpo)
    assert [s["strategy"] for s in dr["strategies"]] == ["backup", "cold", "hot"]


def test_declared_objectives_are_compared():
    bp = blueprint(DR_BASE.replace("STRATEGY", "hot").replace("PITR", "false")
                   .replace("region: us-west-2}", "region: us-west-2, rto: 5m, rpo: 1m}"))
    dr = build_report(bp, "docker")["disaster_recovery"]
    assert dr["declared"] == {"rto": 300.0, "rpo": 60.0}
    assert dr["meets"] == {"rto": True, "rpo": True}


def test_no_dr_section_still_lists_what_each_strategy_achieves():
    dr = build_report(blueprint(WEB_DB), "docker")["disaster_recovery"]
    assert dr["strategy"] is None and dr["achievable"] is None and len(dr["strategies"]) == 3


# ------------------------------------------------------------------ consistency


def test_consistency_of_a_primary_replica_database():
    bp = blueprint(DR_BASE.replace("STRATEGY", "hot").replace("PITR", "false"))
    [line] = [c for c in consistency(bp, "docker") if c.store == "databases.db"]
    assert line.partition == "CP writes, AP reads"
    assert "strong on `url`" in line.line and "eventual on `reader_url`" in line.line
    assert "cross-region replica" in line.line


def test_consistency_of_multi_primary_per_target():
    text = """
        blueprint: mp
        databases:
          db: {engine: ENGINE, replication: {mode: multi-primary, replicas: 2}}
    """
    galera = consistency(blueprint(text.replace("ENGINE", "mariadb")), "docker")[0]
    dsql = consistency(blueprint(text.replace("ENGINE", "postgres"), target="aws"), "aws")[0]
    assert galera.partition == "CP" and "Galera" in galera.line
    assert dsql.model == "strong" and "DSQL" in dsql.line


def test_a_lone_database_has_no_consistency_line():
    assert consistency(blueprint(WEB_DB), "docker") == []


# ------------------------------------------------------------------ lint: one blueprint per rule


def _expectations(path: str) -> tuple[set[tuple[str, int]], str, dict[str, str]]:
    expected: set[tuple[str, int]] = set()
    target, variables = "docker", {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if match := re.search(r"#\s*expect:\s*([\w, -]+)", line):
                expected |= {(rule.strip(), number) for rule in match.group(1).split(",")}
            if match := re.match(r"#\s*target:\s*(\w+)", line):
                target = match.group(1)
            if match := re.match(r"#\s*vars:\s*(\w+)=(\S+)", line):
                variables[match.group(1)] = match.group(2)
    return expected, target, variables


LINT_FILES = sorted(glob.glob(os.path.join(LINT_DIR, "*.yaml")))


@pytest.mark.parametrize("path", LINT_FILES, ids=[os.path.basename(p) for p in LINT_FILES])
def test_lint_blueprint_gives_exactly_the_marked_findings(path):
    expected, target, variables = _expectations(path)
    result = validate_file(path, variables, target)
    assert result.ok, [d.render() for d in result.diagnostics]
    found = {(f.rule, f.line) for f in lint(result.blueprint, target)}
    assert found == expected


def test_every_rule_has_a_blueprint_and_a_reason():
    names = {os.path.basename(p).split("--")[0].removesuffix(".yaml") for p in LINT_FILES}
    for item in RULES:
        assert item.id in names, f"tests/lint/{item.id}.yaml is missing"
        assert item.severity in ("warning", "info") and len(item.why) > 60


def test_strict_turns_warnings_into_errors_but_not_notes():
    path = os.path.join(LINT_DIR, "at-least-once-delivery.yaml")
    bp = validate_file(path).blueprint
    assert {f.severity for f in lint(bp, "docker", strict=True)} == {"info"}
    path = os.path.join(LINT_DIR, "queue-without-dlq.yaml")
    bp = validate_file(path).blueprint
    assert {f.severity for f in lint(bp, "docker", strict=True)} == {"error"}


@pytest.mark.parametrize("name, secret", [("PASSWORD", True), ("DB_PASSWORD", True), ("apiKey", True),
                                          ("STRIPE_SECRET_KEY", True), ("PASSWORD_FILE", False),
                                          ("TOKEN_URL", False), ("KEY_ID", False), ("PORT", False)])
def test_secret_names(name, secret):
    assert secret_name(name) is secret


# ------------------------------------------------------------------ the command and its JSON


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_report_text_has_every_section():
    result = run("report", os.path.join(LINT_DIR, "single-point-of-failure.yaml"))
    assert result.exit_code == 0, result.output
    for heading in ("Availability", "Disaster recovery", "Consistency", "Lint"):
        assert heading in result.output
    assert "single-point-of-failure" in result.output
    assert re.search(r"single-point-of-failure\.yaml:\d+:\d+: warning:", result.output)


def test_report_strict_exits_2_on_warnings():
    result = run("report", os.path.join(LINT_DIR, "single-point-of-failure.yaml"), "--strict")
    assert result.exit_code == 2
    assert "error:" in result.output
    assert run("report", os.path.join(LINT_DIR, "clean.yaml"), "--strict").exit_code == 0


def test_report_on_an_invalid_blueprint_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: x\nservices:\n  web: {image: a, replicas: lots}\n")
    result = run("report", str(bad))
    assert result.exit_code == 2
    assert "bad.yaml:3" in result.output


def _schema_validator():
    import jsonschema  # in the test extra: a missing install must fail, not skip
    with open(SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _targets(path: str) -> list[str]:
    result = validate_file(path)
    return list(result.blueprint.targets) if result.blueprint is not None else []


@pytest.mark.parametrize("path", EXAMPLES + LINT_FILES,
                         ids=[os.path.relpath(p, ROOT) for p in EXAMPLES + LINT_FILES])
def test_report_json_of_every_blueprint_matches_the_schema(path):
    validator = _schema_validator()
    _, _, variables = _expectations(path)
    targets = _targets(path) if not variables else ["docker"]
    assert targets or variables, f"{path} does not validate"
    for target in targets:
        args = ["report", path, "--json", "--target", target]
        for name, value in variables.items():
            args += ["--var", f"{name}={value}"]
        result = run(*args)
        if result.exit_code == 2 and not result.output.lstrip().startswith("{"):
            continue  # not valid for this target: `validate` reports that, not us
        data = json.loads(result.output)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
        assert data["target"] == target


def test_report_json_is_deterministic():
    path = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
    assert run("report", path, "--json").output == run("report", path, "--json").output


def test_report_is_fast():
    path = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
    bp = validate_file(path).blueprint
    start = time.perf_counter()
    for _ in range(10):
        build_report(bp, "aws")
    assert (time.perf_counter() - start) / 10 < 0.5


def test_report_and_graph_do_not_import_pulumi():
    path = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
    code = textwrap.dedent(f"""
        import sys
        from click.testing import CliRunner
        from topoform.cli.main import cli
        for args in (["report", {path!r}, "--json"], ["graph", {path!r}, "--format", "dot"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
        loaded = sorted(m for m in sys.modules if m == "pulumi" or m.startswith("pulumi_"))
        assert not loaded, loaded
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
