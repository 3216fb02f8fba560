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


def _generate(components: int, **options) -> str:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.generate(components, **options)


def _blueprints(folder: pathlib.Path, **options) -> dict[int, object]:
    found = {}
    for size in (SMALL, LARGE):
        path = folder / f"gen{size}.yaml"
        path.write_text(_generate(size, **options))
        found[size] = load_blueprint(str(path))
    return found


@pytest.fixture(scope="module")
def blueprints(tmp_path_factory) -> dict[int, object]:
    return _blueprints(tmp_path_factory.mktemp("scaling"))


@pytest.fixture(scope="module")
def dns_fronted(tmp_path_factory) -> dict[int, object]:
    """Every cell behind its own DNS record (too many host ports for docker: aws only)."""
    return _blueprints(tmp_path_factory.mktemp("fronted"), dns_records=10**6, edge_cells=None)


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


@pytest.mark.parametrize("target, shape", [("aws", "blueprints"), ("docker", "blueprints"), ("aws", "dns_fronted")])
def test_fix_reruns_validate_a_bounded_part_of_the_blueprint(target, shape, request, monkeypatch):
    """Measuring each path's fix re-validates text whose total grows with the number of paths,
    not paths × blueprint size (the whole blueprint once per path)."""
    from topoform.dsl import validate as validate_module

    blueprints = request.getfixturevalue(shape)

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
    assert paths[LARGE] / paths[SMALL] <= 2  # the report itself grows linearly here
    ratio = validated[LARGE] / validated[SMALL]
    assert ratio < 1.25 * paths[LARGE] / paths[SMALL], (
        f"fix re-runs validated {validated} characters for {paths} paths: more per path on the larger blueprint")


@pytest.mark.parametrize("target, shape", [("aws", "blueprints"), ("docker", "blueprints"), ("aws", "dns_fronted")])
def test_lint_and_paths_work_grows_linearly(target, shape, request):
    """Lint (its positions) and the path enumeration (its de-duplication) cost O(n) calls."""
    blueprints = request.getfixturevalue(shape)
    for bp in blueprints.values():
        analysed_plan(bp, target)  # the compile is the plan's cost, measured elsewhere
        lint(bp, target)  # and the source tables are built once per blueprint
    work = {size: _calls(lambda: lint(bp, target)) for size, bp in blueprints.items()}
    assert work[LARGE] / work[SMALL] < 2.5, f"lint calls by size: {work}"
    work = {size: _calls(lambda: PathBuilder(bp, target).paths()) for size, bp in blueprints.items()}
    assert work[LARGE] / work[SMALL] < 2.5, f"path-enumeration calls by size: {work}"


def test_a_component_change_is_measured_on_its_linked_part_only(blueprints):
    """The cut-down blueprint of a fix holds the changed component's cell, nothing of the other
    cells (not even those behind DNS records: each record is linked to its own cell only)."""
    bp = blueprints[LARGE]
    data = availability.LinkedGroups(bp).data_around("services.worker-70")
    kept = {f"{section}.{name}" for section in bp.SECTIONS for name in data.get(section, {})}
    assert "services.worker-70" in kept and "queues.jobs-70" in kept
    assert "services.worker-71" not in kept
    assert "load_balancers.edge-0" not in kept and data["dns"]["records"] == []
    assert len(kept) < 11  # its cell (a cell holds 10; its lone `assets` service is a group of its own)
    fronted = availability.LinkedGroups(bp).data_around("cdns.assets-3")
    assert [r["name"] for r in fronted["dns"]["records"]] == ["www3"]


@pytest.mark.parametrize("target", ["aws", "docker"])
@pytest.mark.parametrize("file", ["blueprints/three-tier.yaml", "blueprints/two-region-hot-dr.yaml",
                                  "tests/golden/valid/every-routing-policy.yaml", "generated"])
def test_a_cut_down_rerun_gives_the_figures_of_the_whole_one(file, target, tmp_path, monkeypatch):
    """Every path's fix, measured on the cut-down blueprint, is the one the whole blueprint gives."""
    if file == "generated":
        path = tmp_path / "gen.yaml"
        path.write_text(_generate(120))
        file = str(path)
    bp = load_blueprint(str(ROOT / file))

    def fixes() -> list:
        builder = PathBuilder(bp, target)
        return [(fix, fix and fix.sentence()) for fix in map(builder.best_fix, builder.paths())]

    cut = fixes()
    monkeypatch.setattr(availability.LinkedGroups, "data_around", lambda self, ref, record=None: None)
    whole = fixes()
    assert any(fix is not None for fix, _ in cut)
    assert cut == whole
