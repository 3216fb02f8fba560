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
