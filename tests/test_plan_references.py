"""A Resource's references: the fast scan agrees with the program's resolver."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from topoform.providers.plan import REFERENCE_RE, Resource, literal

TEXT = st.text(alphabet="${}.[]ab-01_Xy ", max_size=40)


def resolver_names(text: str) -> set[str]:
    """What providers/program.py resolves: REFERENCE_RE, escapes skipped."""
    return {m.group(1) for m in REFERENCE_RE.finditer(text) if m.group(1)}


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_references_match_what_the_program_resolves(text):
    resource = Resource("t:index/x:X", "r", "platform", {"value": text, "nested": [{"v": text}]})
    assert resource.references() == resolver_names(text)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_literal_text_never_references_anything(text):
    resource = Resource("t:index/x:X", "r", "platform", {"script": literal(text)})
    assert resource.references() == set()


def test_examples():
    props = {"a": "x${db-users.address}:${db-users.port}", "b": ["$${HOME}", {"c": "${cert.domain_validation_options[0].resource_record_name}"}]}
    assert Resource("t:index/x:X", "r", "platform", props).references() == {"db-users", "cert"}


# ------------------------------------------------------------------ ordering


def _recursive_order(plan) -> list[str]:
    """The definition of `Plan.ordered`: each resource after its sorted dependencies, depth first."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name not in done:
            for dep in plan.dependencies(plan.get(name)):
                visit(dep)
            done.append(name)

    for resource in plan.resources:
        visit(resource.name)
    return done


def _plan_of(edges: dict[str, list[str]], by_reference: bool = False):
    from topoform.providers.plan import Plan, ref

    plan = Plan("b", "docker", "dev")
    for name, deps in edges.items():
        if by_reference:
            plan.add(Resource("t", name, "services.x", {"v": [ref(d, "id") for d in deps]}))
        else:
            plan.add(Resource("t", name, "services.x", {}, depends_on=list(deps)))
    return plan


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 25).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.lists(st.integers(0, n - 1), max_size=4), min_size=n, max_size=n),
    st.booleans())))
def test_ordered_is_depth_first_post_order(case):
    n, deps, by_reference = case
    # edges only to lower numbers (no cycle, any shape), added highest first so most dependencies come later
    edges = {f"r{i}": sorted({f"r{d}" for d in ds if d < i}) for i, ds in enumerate(deps)}
    plan = _plan_of(dict(reversed(list(edges.items()))), by_reference)
    order = [r.name for r in plan.ordered()]
    assert order == _recursive_order(plan)
    assert all(order.index(d) < order.index(name) for name, ds in edges.items() for d in ds)


def test_ordered_names_a_cycle_and_a_missing_resource():
    import pytest

    with pytest.raises(ValueError, match="dependency cycle in the plan: a → b → c → a"):
        list(_plan_of({"a": ["b"], "b": ["c"], "c": ["a"]}).ordered())
    with pytest.raises(ValueError, match="b depends on 'gone', which is not in the plan"):
        list(_plan_of({"a": ["b"], "b": ["gone"]}).ordered())
