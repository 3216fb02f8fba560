"""`report` grows linearly with the blueprint: work counted on N and 2N components, not timed.

A report of a 5,000-component blueprint once ran past 10 minutes, while `plan` took 1.5 s:
each path's fix was measured by re-validating the whole blueprint (quadratic), and each
lint finding copied the whole source-position table. The counts below are operations,
so the tests hold on a loaded machine; a return of either quadratic doubles their ratio.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import pytest

from topoform.dsl import load_blueprint
from topoform.providers import analysed_plan
from topoform.providers.insight import availability
from topoform.providers.insight.availability import PathBuilder
from topoform.providers.insight.lint import lint

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMALL, LARGE = 400, 800  # past bench/generate.py's 8 DNS-fronted cells, so most cells are alike


def _generate(components: int) -> str:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.generate(components)


@pytest.fixture(scope="module")
def blueprints(tmp_path_factory) -> dict[int, object]:
    folder = tmp_path_factory.mktemp("scaling")
    found = {}
    for size in (SMALL, LARGE):
        path = folder / f"gen{size}.yaml"
        path.write_text(_generate(size))
        found[size] = load_blueprint(str(path))
    return found


def _calls(fn) -> int:
    """Python function calls made by `fn()` (a count of work that does not depend on the machine)."""
    count = 0

    def hook(_frame, event, _arg):
        nonlocal count
        if event == "call":
            count += 1

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        fn()
    finally:
        sys.setprofile(previous)
    return count


@pytest.mark.parametrize("target", ["aws", "docker"])
def test_fix_reruns_validate_a_bounded_part_of_the_blueprint(blueprints, target, monkeypatch):
    """Measuring each path's fix re-validates text whose total grows with the number of paths,
    not paths × blueprint size (the whole blueprint once per path)."""
    from topoform.dsl import validate as validate_module

    validated: dict[int, int] = {}
    real = validate_module.validate_text

    def counting(text, *args, **kwargs):
        validated[size] += len(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(validate_module, "validate_text", counting)
    paths: dict[int, int] = {}
    for size, bp in blueprints.items():
        validated[size] = 0
        builder = PathBuilder(bp, target)
        found = builder.paths()
        for path in found:
            builder.best_fix(path)
        paths[size] = len(found)
    assert validated[SMALL] > 0, "no fix was measured: the test measures nothing"
    assert paths[LARGE] / paths[SMALL] < 2  # the report itself grows linearly here
    ratio = validated[LARGE] / validated[SMALL]
    assert ratio < 1.25 * paths[LARGE] / paths[SMALL], (
        f"fix re-runs validated {validated} characters for {paths} paths: more per path on the larger blueprint")


@pytest.mark.parametrize("target", ["aws", "docker"])
def test_lint_and_paths_work_grows_linearly(blueprints, target):
    """Lint (its positions) and the path enumeration (its de-duplication) cost O(n) calls."""
    for bp in blueprints.values():
        analysed_plan(bp, target)  # the compile is the plan's cost, measured elsewhere
        lint(bp, target)  # and the source tables are built once per blueprint
    work = {size: _calls(lambda: lint(bp, target)) for size, bp in blueprints.items()}
    assert work[LARGE] / work[SMALL] < 2.5, f"lint calls by size: {work}"
    work = {size: _calls(lambda: PathBuilder(bp, target).paths()) for size, bp in blueprints.items()}
    assert work[LARGE] / work[SMALL] < 2.5, f"path-enumeration calls by size: {work}"


def test_a_component_change_is_measured_on_its_linked_part_only(blueprints):
    """The cut-down blueprint of a fix holds the changed component's cell and the DNS-fronted
    cells the global sections name, nothing of the other cells."""
    bp = blueprints[LARGE]
    data = availability.LinkedGroups(bp).data_around("services.worker-70")
    kept = {f"{section}.{name}" for section in bp.SECTIONS for name in data.get(section, {})}
    assert "services.worker-70" in kept and "queues.jobs-70" in kept
    assert "services.worker-71" not in kept
    assert "load_balancers.edge-0" in kept  # named by a DNS record: kept with the global sections
    assert len(kept) < 150
