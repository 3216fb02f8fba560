"""Validating and compiling grow linearly with the blueprint: work counted on N and 2N
components, not timed (the counts hold on a loaded machine).

Both stages are one walk over the blueprint and the Plan. What would break that — a
lookup of every resource per resource, a rescan of the Plan until nothing changes —
makes the count at 2N more than twice the count at N.
"""

from __future__ import annotations

import pytest

from topoform.dsl.validate import validate_text
from topoform.providers import compile_plan
from test_report_scaling import LARGE, SMALL, _calls, _generate

# Twice the components, at most this many times the work (the cells are alike, so ~2).
LINEAR = 2.2


@pytest.fixture(scope="module")
def texts() -> dict[tuple[int, str], str]:
    shapes = {"cells": {}, "dns_fronted": {"dns_records": 10**6, "edge_cells": None}}
    return {(size, shape): _generate(size, **options) for size in (SMALL, LARGE) for shape, options in shapes.items()}


@pytest.mark.parametrize("shape", ["cells", "dns_fronted"])
def test_validate_is_linear(texts, shape):
    calls = {size: _calls(lambda: validate_text(texts[size, shape], "bench.yaml")) for size in (SMALL, LARGE)}
    assert calls[LARGE] <= LINEAR * calls[SMALL], calls


# dns_fronted on aws: a new zone, so the certificate deferral walks the whole Plan.
@pytest.mark.parametrize("target, shape", [("docker", "cells"), ("aws", "cells"), ("aws", "dns_fronted")])
def test_compile_is_linear(texts, target, shape):
    blueprints = {size: validate_text(texts[size, shape], "bench.yaml").blueprint for size in (SMALL, LARGE)}
    plans = {}

    def compiled(size):
        plans[size] = compile_plan(blueprints[size], target, "dev")

    calls = {size: _calls(lambda: compiled(size)) for size in (SMALL, LARGE)}
    assert len(plans[LARGE].resources) >= 1.9 * len(plans[SMALL].resources)
    assert calls[LARGE] <= LINEAR * calls[SMALL], calls
    if shape == "dns_fronted":
        assert "dns.delegation" in plans[LARGE].outputs  # the deferral ran
