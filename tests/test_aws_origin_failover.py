"""With a hot DR site, CloudFront's balancer origin fails over to the DR balancer.

CloudFront fails over through an origin group only for GET, HEAD and OPTIONS and
refuses a group behind a behaviour that allows writes (every balancer behaviour
does), so the origin's name is a Route53 failover pair (providers/aws/edge.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aws_rules import matrix
from topoform.dsl import load_blueprint, validate_text
from topoform.providers import compile_plan

ROOT = Path(__file__).resolve().parents[1]
RECORD = "aws:route53/record:Record"


def _plan(name: str, delegated: bool = True):
    bp = load_blueprint(str(ROOT / "blueprints" / f"{name}.yaml"), target="aws")
    bp.dns.delegated = delegated
    return compile_plan(bp, "aws")


@pytest.fixture(scope="module")
def hot():
    return _plan("two-region-hot-dr")


def test_the_origin_name_fails_over_to_the_dr_balancer(hot):
    for dist in ("cdn-assets-distribution", "rp-front-distribution"):
        origin = next(o for o in hot.get(dist).properties["origins"] if o["origin_id"] == "load_balancers.edge")
        pair = {r.properties["failover_routing_policies"][0]["type"]: r for r in hot.of_type(RECORD)
                if r.properties["name"] == origin["domain_name"]}
        assert set(pair) == {"PRIMARY", "SECONDARY"}, dist
        assert pair["PRIMARY"].properties["aliases"][0]["name"] == "${lb-edge.dns_name}"
        assert pair["SECONDARY"].properties["aliases"][0]["name"] == "${dr-lb-edge.dns_name}"
        assert all(r.properties["aliases"][0]["evaluate_target_health"] for r in pair.values())
        assert {r.properties["set_identifier"] for r in pair.values()} == {"primary", "dr"}


def test_no_origin_group_behind_behaviours_that_take_writes(hot):
    """AWS refuses an origin group as the target of a behaviour allowing POST/PUT/PATCH/DELETE."""
    for dist in hot.of_type("aws:cloudfront/distribution:Distribution"):
        groups = {g["origin_id"] for g in dist.properties.get("origin_groups") or []}
        behaviors = [dist.properties["default_cache_behavior"], *dist.properties["ordered_cache_behaviors"]]
        assert not [b for b in behaviors if b["target_origin_id"] in groups and "POST" in b["allowed_methods"]]


def test_without_hot_dr_the_origin_record_is_simple():
    plan = _plan("three-tier")
    origins = [r for r in plan.of_type(RECORD) if r.name.endswith("-origin-record")]
    assert origins and not any("failover_routing_policies" in r.properties for r in origins)


def test_hot_dr_without_a_zone_says_the_origin_cannot_fail_over():
    text = matrix.CLOUDFRONT_PULL + "disaster_recovery: {strategy: hot, region: us-west-2}\n"
    result = validate_text(text, file="cfonly.yaml", base_dir=str(ROOT / "blueprints"), target="aws")
    assert result.ok, [d.render() for d in result.diagnostics]
    plan = compile_plan(result.blueprint, "aws")
    assert any(w.message.startswith("cdns.site reaches load_balancers.edge by its AWS name, which never fails over")
               for w in plan.warnings)
