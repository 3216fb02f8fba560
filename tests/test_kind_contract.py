"""Every component kind of dsl/kinds.py is handled by every stage that must know it.

Adding a kind starts with its registry entry; this test then names each place
still missing it: each target's module for it (`providers/<target>/kinds/<section>.py`,
built or `REFUSED`, with the facts the analyses read), the mock outputs the
testing API needs for what the kind builds, the diagram's shapes, the JSON
schema editors read, and `report`'s figures. Nothing here names a kind: the
blueprint each kind is compiled from is its registry entry's `example`, or
the first example in blueprints/ that holds one.
"""

from __future__ import annotations

import ast
import glob
import importlib
import os
from functools import cache

import pytest

from topoform.cli.schema import blueprint_schema
from topoform.dsl.kinds import BY_SECTION, REGISTRY
from topoform.dsl.validate import validate_file, validate_text
from topoform.mock_outputs import COMPUTED
from topoform.providers import TARGETS, analysed_plan, compile_plan
from topoform.providers.base import COMPONENT_TYPES, PREFIX, refusal
from topoform.providers.plan import REFERENCE_RE, Availability, Facts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The hot-DR design holds most kinds: tried first, so most kinds share one compile.
HOT_DR = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
SECTIONS = [kind.section for kind in REGISTRY]
# Outputs every resource has under mocks whatever its type (api/mock_outputs.py `computed_outputs`).
GENERIC = {"id", "urn"}
AWS_GENERIC = {"arn", "name"}


@cache
def _example_file(path: str):
    return validate_file(path).blueprint


@cache
def every_kind(section: str = "services"):
    """A valid blueprint holding a component of `section`: the kind's `example`, else an example file."""
    kind = BY_SECTION[section]
    if kind.example:
        bp = validate_text(kind.example, f"<{section} example in dsl/kinds.py>").blueprint
        assert bp is not None, f"the `example` of {section} in dsl/kinds.py is not a valid blueprint"
        return bp
    examples = [HOT_DR] + sorted(set(glob.glob(os.path.join(ROOT, "blueprints", "*.yaml"))) - {HOT_DR})
    for path in examples:
        bp = _example_file(path)
        if bp is not None and getattr(bp, section):
            return bp
    pytest.fail(f"no example holds a {kind.word}: give its dsl/kinds.py entry an `example` "
                "(a small blueprint holding one)")


@cache
def plan(target: str, section: str = "services"):
    return compile_plan(every_kind(section), target)


def module_of(target: str, section: str):
    return importlib.import_module(f"topoform.providers.{target}.kinds.{section}")


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
    assert spec is not None, f"providers/{target}/__init__.py has no TARGET"
    assert list(spec.kinds) == SECTIONS, "the kind table follows the registry, one module per kind"
    module = module_of(target, section)
    assert spec.kinds[section] is module
    refused = refusal(module)
    if refused is not None:
        assert refused.reason, f"providers/{target}/kinds/{section}.py: REFUSED gives no reason"
    else:
        assert callable(module.build) and callable(module.attribute)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_every_kind_module_carries_its_facts(target, section):
    module = module_of(target, section)
    where = f"providers/{target}/kinds/{section}.py"
    assert isinstance(module.AVAILABILITY, Availability), f"{where}: AVAILABILITY is one copy's Availability"
    assert module.AVAILABILITY.source and module.AVAILABILITY.label, f"{where}: AVAILABILITY names no source"
    for variant, figure in getattr(module, "AVAILABILITY_VARIANTS", {}).items():
        assert isinstance(figure, Availability) and figure.source, f"{where}: variant {variant} has no source"
    assert callable(module.facts), f"{where} has no facts(ctx, component, table)"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_every_kind_has_availability_facts_on_every_target(target, section):
    recorded = analysed_plan(every_kind(section), target)
    assert recorded.defaults[section] is module_of(target, section).AVAILABILITY
    for component in getattr(every_kind(section), section).values():
        facts = recorded.components[component.ref].facts
        assert isinstance(facts, Facts), f"{component.ref} has no facts on {target}"
        assert set(facts.copies) == set(facts.basis) == set(facts.availability) == {"primary", "dr"}
        assert all(copies >= 1 for copies in facts.copies.values())


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_report_lists_every_kinds_figure(target, section):
    """`report` cites the kind's per-copy figure. (Whether its components are counted on a request
    path is an analysis extra, providers/insight/topology.py: docs/ARCHITECTURE.md.)"""
    from topoform.providers.insight.report import build_report

    listed = {row["kind"]: row for row in build_report(every_kind(section), target)["availability"]["defaults"]}
    assert section in listed, f"report --json lists no per-copy figure for {section} on {target}"
    assert listed[section]["source"] == module_of(target, section).AVAILABILITY.source


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("section", SECTIONS)
def test_what_every_kind_builds_has_mock_outputs(target, section):
    """Each output of a kind's resources that another resource reads exists under mocks."""
    if refusal(module_of(target, section)) is not None:
        return  # the target builds nothing of it
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
    from topoform.providers.docker import TARGET
    from topoform.providers.docker import facts as docker_facts

    built: list[str] = []

    def toy(module):  # docker's facts, with a build that only counts
        return SimpleNamespace(build=lambda ctx, component: built.append(component.ref),
                               attribute=lambda ctx, component, attr: "",
                               AVAILABILITY=module.AVAILABILITY, facts=module.facts,
                               AVAILABILITY_VARIANTS=getattr(module, "AVAILABILITY_VARIANTS", {}))

    def record(ctx):
        assert len(built) == sum(1 for _ in ctx.bp.components())
        docker_facts.record(ctx)

    class Context(BuildContext):
        target = "toy"

    kinds = {section: toy(module) for section, module in TARGET.kinds.items()}
    target = Target("toy", lambda bp, stack: Context(bp, stack, kinds), kinds, facts=record)
    compiled = compile_target(target, every_kind())
    assert built and all(compiled.components[ref].facts is not None for ref in built)
    assert compiled.defaults == analysed_plan(every_kind(), "docker").defaults
    assert list(compiled.defaults)[0] == "dns"  # what is not a kind first (providers/docker/facts.py)


def test_a_kinds_own_example_is_the_blueprint_it_is_checked_with(monkeypatch):
    """A kind no example in blueprints/ holds names a small blueprint in its registry entry."""
    from dataclasses import replace

    example = "blueprint: one-queue\nqueues:\n  jobs:\n    kind: message\n"
    monkeypatch.setitem(BY_SECTION, "queues", replace(BY_SECTION["queues"], example=example))
    bp = every_kind.__wrapped__("queues")
    assert bp.blueprint == "one-queue" and list(bp.queues) == ["jobs"]
    assert analysed_plan(bp, "aws").components["queues.jobs"].facts is not None


def test_a_missing_kind_module_is_a_loud_import_error(monkeypatch):
    """A registered kind a target has no module for stops the target loading, naming the file to add."""
    from topoform.dsl.kinds import Kind
    from topoform.providers.base import kind_table

    absent = Kind("absent_things", "absent thing", "absent", "topoform:index:Absent", "data", "database")
    monkeypatch.setattr("topoform.providers.base.REGISTRY", REGISTRY + (absent,))
    with pytest.raises(ImportError, match=r"absent_things kind \(absent thing\).*"
                                          r"providers/docker/kinds/absent_things\.py"):
        kind_table("topoform.providers.docker")


def test_a_kind_module_without_its_facts_is_a_loud_import_error(monkeypatch):
    from topoform.providers.base import kind_table

    monkeypatch.delattr(module_of("aws", "queues"), "AVAILABILITY")
    with pytest.raises(ImportError, match=r"providers/aws/kinds/queues\.py \(the queues kind\) has no AVAILABILITY"):
        kind_table("topoform.providers.aws")


def test_a_refused_kind_is_refused_and_still_analysed(monkeypatch):
    """`REFUSED` in a kind module: every component of it is a diagnostic; its facts still reach `report`."""
    from topoform.providers.base import Refused, UnsupportedError

    monkeypatch.setattr(module_of("docker", "caches"), "REFUSED",
                        Refused("{ref}: caches are not built here", "use a database"), raising=False)
    bp = validate_file(HOT_DR).blueprint
    with pytest.raises(UnsupportedError) as refused:
        compile_plan(bp, "docker")
    messages = [d.message for d in refused.value.diagnostics]
    assert "caches.sessions: caches are not built here" in messages  # (and each `${caches.sessions…}` read)
    assert analysed_plan(bp, "docker").components["caches.sessions"].facts is not None


# ------------------------------------------------------------------ what adding a kind touches

# Modules that implement an optional analysis feature for a kind (docs/ARCHITECTURE.md, "What the
# contract test does not catch"): a kind works without them, counted on no request path.
ANALYSIS_EXTRAS = {
    "providers/insight/topology.py": "where it sits on the request path",
    "providers/insight/diagram.py": "its box text in `graph`",
    "providers/insight/consistency.py": "a data kind's consistency line",
    "providers/insight/lint.py": "its lint rules",
}


def files_of_a_kind(section: str) -> list[str]:
    """The files a new kind touches, from the registry and the targets: the docs' checklist."""
    return ["dsl/kinds.py", "dsl/models.py", *(f"providers/{target}/kinds/{section}.py" for target in TARGETS),
            "api/mock_outputs.py", "schemas/blueprint.schema.json"]


def _names(path: str, section: str) -> bool:
    """Whether the module at `path` names `section`: a string of it (or of one of its components,
    `section.name`), or an attribute of that name (`bp.section`)."""
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                (node.value == section or node.value.startswith(section + ".")):
            return True
        if isinstance(node, ast.Attribute) and node.attr == section:
            return True
    return False


# The kinds added since every stage read the registry: the proof that a kind needs only its files.
ADDED_LAST = [kind.section for kind in REGISTRY[-2:]]


def test_a_kind_needs_at_most_six_files():
    assert all(len(files_of_a_kind(section)) <= 6 for section in SECTIONS)
    for section in SECTIONS:
        assert all(os.path.exists(os.path.join(ROOT, path)) for path in files_of_a_kind(section))


@pytest.mark.parametrize("section", ADDED_LAST)
def test_a_new_kind_needs_only_these_files(section):
    """No module but the kind's own files (and the analysis extras) names one of the newest kinds."""
    naming = set()
    for folder in ("dsl", "providers", "cli", "api"):
        for path in glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True):
            relative = os.path.relpath(path, ROOT)
            if _names(path, section):
                naming.add(relative)
    assert "dsl/kinds.py" in naming  # the scan sees a kind named where it is registered
    assert naming - set(files_of_a_kind(section)) - set(ANALYSIS_EXTRAS) == set(), \
        "only the kind's own files and the analysis extras may name it (docs/ARCHITECTURE.md)"


def test_the_architecture_doc_lists_these_files():
    text = open(os.path.join(ROOT, "docs", "ARCHITECTURE.md"), encoding="utf-8").read()
    checklist = text.split("## How to add a component kind", 1)[1]
    for path in files_of_a_kind("<section>") + list(ANALYSIS_EXTRAS):
        assert f"`{path}`" in checklist, f"docs/ARCHITECTURE.md's checklist does not name {path}"
