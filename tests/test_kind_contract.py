"""Every component kind of dsl/kinds.py is handled by every stage that must know it.

Adding a kind starts with its registry entry; this test then names each place
still missing it: a target's kind table (built or explicitly `Refused`), the
availability facts each target records, the mock outputs the testing API
needs for what the kind builds, the diagram's shapes, and the JSON schema
editors read.
"""

from __future__ import annotations

import importlib
import os
from functools import cache

import pytest

from topoform.cli.schema import blueprint_schema
from topoform.dsl.kinds import REGISTRY
from topoform.dsl.validate import validate_file
from topoform.mock_outputs import COMPUTED
from topoform.providers import TARGETS, analysed_plan, compile_plan
from topoform.providers.base import COMPONENT_TYPES, PREFIX, Refused
from topoform.providers.plan import REFERENCE_RE, Facts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Blueprints that between them hold a component of every kind, each valid and buildable on both
# targets: the kinds of the hot-DR design, and the API gateway and NoSQL kinds.
EVERY_KIND = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
NEWER_KINDS = os.path.join(ROOT, "blueprints", "api-and-nosql.yaml")
BLUEPRINT_OF = {"api_gateways": NEWER_KINDS, "nosql": NEWER_KINDS}
SECTIONS = [kind.section for kind in REGISTRY]
# Outputs every resource has under mocks whatever its type (api/mock_outputs.py `computed_outputs`).
GENERIC = {"id", "urn"}
AWS_GENERIC = {"arn", "name"}


@cache
def every_kind(section: str = "services"):
    bp = validate_file(BLUEPRINT_OF.get(section, EVERY_KIND)).blueprint
    assert bp is not None
    return bp


@cache
def plan(target: str, section: str = "services"):
    return compile_plan(every_kind(section), target)


def test_the_registry_is_complete_and_consistent():
    assert len(set(SECTIONS)) == len(SECTIONS)
    for kind in REGISTRY:
        assert kind.word and kind.tier in ("edge", "application", "data", "async")
        assert PREFIX[kind.section] == kind.prefix and COMPONENT_TYPES[kind.section] == kind.component_type
        assert kind.component_type.startswith("topoform:index:")
        assert "name" in kind.attributes
    assert len({kind.prefix for kind in REGISTRY}) == len(REGISTRY), "two kinds share a resource-name prefix"
    # The program names each component's ComponentResource `section-name`: a prefix equal to the
    # section would give the component and its first resource the same name.
    assert [kind.section for kind in REGISTRY if kind.prefix == kind.section] == []


def test_the_blueprints_used_here_hold_every_kind():
    assert [section for section in SECTIONS if not getattr(every_kind(section), section)] == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_every_target_builds_or_refuses_every_kind(target, section):
    spec = getattr(importlib.import_module(f"topoform.providers.{target}"), "TARGET", None)
    assert spec is not None, f"providers/{target}/__init__.py has no TARGET kind table"
    entry = spec.kinds.get(section)
    assert entry is not None, f"providers/{target} has no entry for {section}: build it or mark it Refused"
    if isinstance(entry, Refused):
        assert entry.reason
    else:
        assert callable(entry.build) and callable(entry.attribute)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_every_kind_has_availability_facts_on_every_target(target, section):
    facts_module = importlib.import_module(f"topoform.providers.{target}.facts")
    assert section in facts_module.DEFAULTS, f"providers/{target}/facts.py DEFAULTS has no figure for {section}"
    assert facts_module.DEFAULTS[section].source
    assert section in facts_module.KINDS, f"providers/{target}/facts.py KINDS does not describe {section}"
    recorded = analysed_plan(every_kind(section), target)
    for component in getattr(every_kind(section), section).values():
        facts = recorded.components[component.ref].facts
        assert isinstance(facts, Facts), f"{component.ref} has no facts on {target}"
        assert set(facts.copies) == set(facts.basis) == set(facts.availability) == {"primary", "dr"}
        assert all(copies >= 1 for copies in facts.copies.values())


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_what_every_kind_builds_has_mock_outputs(target, section):
    """Each output of a kind's resources that another resource reads exists under mocks."""
    compiled = plan(target, section)
    by_name = {resource.name: resource for resource in compiled.resources}
    refs = {component.ref for component in getattr(every_kind(section), section).values()}
    missing = set()
    for resource in compiled.resources:
        text = str(resource.properties)
        for match in REFERENCE_RE.finditer(text):
            if match.group(1) is None or match.group(1) not in by_name:
                continue
            source = by_name[match.group(1)]
            if source.component not in refs:
                continue
            attr = match.group(2).split(".")[0].split("[")[0]
            known = GENERIC | (AWS_GENERIC if source.type.startswith("aws:") else set())
            if attr in known or attr in source.properties or attr in COMPUTED.get(source.type, {}):
                continue
            missing.add(f"{source.type} {attr} (read as ${{{match.group(1)}.{match.group(2)}}})")
    assert not missing, "add to api/mock_outputs.py COMPUTED:\n" + "\n".join(sorted(missing))


@pytest.mark.parametrize("section", SECTIONS)
def test_every_kind_can_be_drawn(section):
    from topoform.providers.insight import diagram

    shape = next(kind for kind in REGISTRY if kind.section == section).shape
    assert shape in diagram._MERMAID_SHAPES and shape in diagram._DOT_SHAPES, f"graph cannot draw a {shape}"


@pytest.mark.parametrize("section", SECTIONS)
def test_every_kind_is_in_the_json_schema(section):
    schema = blueprint_schema()
    assert section in schema["properties"], f"the blueprint schema has no `{section}` section"
    model = next(kind for kind in REGISTRY if kind.section == section).component_type.rpartition(":")[2]
    assert any(name.lower() == model.lower() for name in schema.get("$defs", {})), \
        f"the schema defines no {model} model for {section}"


def test_compile_target_runs_the_facts_hook_after_the_walk():
    """A ported target's `Target.facts` sees every component built, and its facts land on the Plan."""
    from types import SimpleNamespace

    from topoform.providers.base import BuildContext, Target, compile_target
    from topoform.providers.docker import facts as docker_facts

    built: list[str] = []
    builder = SimpleNamespace(build=lambda ctx, component: built.append(component.ref),
                              attribute=lambda ctx, component, attr: "")

    def record(ctx):
        assert len(built) == sum(1 for _ in ctx.bp.components())
        docker_facts.record(ctx)

    class Context(BuildContext):
        target = "toy"

    kinds = {section: builder for section in SECTIONS}
    toy = Target("toy", lambda bp, stack: Context(bp, stack, kinds), kinds, facts=record)
    compiled = compile_target(toy, every_kind())
    assert all(compiled.components[ref].facts is not None for ref in built)
    assert compiled.defaults == docker_facts.DEFAULTS
