"""Every AWS rule (tests/aws_rules) over every AWS Plan: the example blueprints,
the valid golden blueprints and the generated matrix of variants.

One test per (rule, Plan); a failure lists each violation as
`resource.property: message` and the documentation the rule comes from.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from aws_rules import Violation, all_rules, catalog, matrix, mutations
from topoform.dsl import load_blueprint
from topoform.providers import compile_plan

ROOT = Path(__file__).resolve().parents[1]
FILES = {f"{p.parent.name}/{p.stem}": p for p in
         sorted((ROOT / "blueprints").glob("*.yaml")) + sorted((ROOT / "tests/golden/valid").glob("*.yaml"))}
VARIANTS = matrix.variants()
RULES = list(all_rules())


# A blueprint whose new hosted zone stages the deploy (providers/aws/certificates.py) is
# checked at both stages: as written (the first `up`) and with `dns.delegated: true` (the next).
DELEGATED = "+delegated"
STAGED = [f"{name}{DELEGATED}" for name, path in FILES.items()
          if "\ndns:" in path.read_text(encoding="utf-8") and "zone_id:" not in path.read_text(encoding="utf-8")]


@functools.lru_cache(maxsize=None)
def plan_of(name: str):
    base = name.removesuffix(DELEGATED)
    if base in FILES:
        bp = load_blueprint(str(FILES[base]), target="aws")
        if name.endswith(DELEGATED):
            bp.dns.delegated = True
        return compile_plan(bp, "aws")
    return compile_plan(matrix.load(VARIANTS[name], name), "aws")


@pytest.mark.parametrize("plan_name", [*FILES, *STAGED, *(f"matrix/{n}" for n in VARIANTS)])
@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_holds(rule, plan_name):
    violations = rule.violations(plan_of(plan_name.removeprefix("matrix/")))
    assert not violations, (f"{rule.id}: {len(violations)} violation(s)\n  " + "\n  ".join(map(str, violations))
                            + f"\n  AWS: {rule.says}\n  see {rule.doc} (data: {rule.source})")


def test_every_rule_names_its_documentation():
    for r in RULES:
        assert r.doc.startswith("https://") and len(r.says) > 40, r.id


def test_matrix_covers_every_value():
    rows = matrix.pairwise(matrix.DIMENSIONS)
    for name, values in matrix.DIMENSIONS.items():
        assert {repr(row[name]) for row in rows} == {repr(v) for v in values}, name


def test_violation_names_resource_and_property():
    assert str(Violation("db-users", "engine_version", "no such version")) == "db-users.engine_version: no such version"


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_notices_a_breaking_change(rule):
    """Each rule's findings change when a Plan is edited the way a bug (or a fix) would."""
    plan_name, mutation = mutations.BREAKS[rule.id]
    plan = plan_of(plan_name)
    assert rule.violations(mutations.mutated(plan, mutation)) != rule.violations(plan)


# A bare PostgreSQL `9` names no family (9.x families are per minor: postgres9.6).
FAMILY_CASES = [("rds", engine, v) for engine in ("postgres", "mysql", "mariadb") for v in
                sorted(catalog.rds_versions()[engine]) if v != "9"] + \
               [("elasticache", engine, v) for engine, versions in sorted(catalog.elasticache_versions().items())
                for v in sorted(versions)]


@pytest.mark.parametrize("service,engine,version", FAMILY_CASES, ids=[f"{e}-{v}" for _, e, v in FAMILY_CASES])
def test_family_table_names_a_documented_family(service, engine, version):
    """Every version AWS lists (cfn-lint's data) maps to a parameter group family AWS documents."""
    if service == "rds":
        assert catalog.rds_family(engine, version) in catalog.RDS_FAMILIES
    else:
        assert catalog.elasticache_family(engine, version) in catalog.ELASTICACHE_FAMILIES
