"""`topoform graph`: components grouped by site and tier, edges labelled with their policy,
mermaid/dot text, svg/png through Graphviz, `--resources` from the Plan."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli
from topoform.dsl.validate import validate_file, validate_text
from topoform.providers.insight import diagram as diagram_module
from topoform.providers.insight.diagram import architecture, resources_diagram, short_type, to_dot, to_mermaid
from topoform.providers.plan import Plan, Resource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "blueprints", "two-region-hot-dr.yaml")
EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "blueprints", "*.yaml")))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def shop():
    result = validate_file(EXAMPLE)
    assert result.ok
    return architecture(result.blueprint, "docker")


def edge_labels(diagram) -> dict[tuple[str, str], str]:
    return {(e.source, e.target): e.label for e in diagram.edges}


def test_components_are_grouped_by_site_and_tier(shop):
    clusters = {c.id: c for c in shop.clusters}
    assert {"dns", "site_primary", "site_dr", "primary_edge", "primary_application", "primary_data",
            "primary_async", "dr_edge", "dr_application", "dr_data"} <= set(clusters)
    assert clusters["primary_data"].parent == "site_primary" and clusters["dr_edge"].parent == "site_dr"
    where = {n.id: n.cluster for n in shop.nodes}
    assert where["load_balancers_edge"] == "primary_edge"
    assert where["services_web"] == "primary_application"
    assert where["databases_users"] == where["caches_sessions"] == "primary_data"
    assert where["queues_orders"] == where["services_worker"] == "primary_async"
    # the hot site runs what the Plan builds there: the stateless tier, the cross-region
    # replicas, and (on docker) its own cache, queue and CDN nginx
    assert where["dr__services_web"] == "dr_application"
    assert where["dr__databases_users"] == where["dr__caches_sessions"] == "dr_data"
    assert where["dr__cdns_assets"] == "dr_edge" and where["dr__queues_orders"] == "dr_async"


def test_the_dr_site_is_drawn_from_the_plans_facts():
    """Every component the Plan gives a DR copy is drawn at the DR site, and no other."""
    from topoform.providers import analysed_plan

    bp = validate_file(EXAMPLE).blueprint
    for target in ("docker", "aws"):
        drawn = {n.label[0] for n in architecture(bp, target).nodes if n.id.startswith("dr__")}
        copied = {ref for ref, info in analysed_plan(bp, target).components.items()
                  if info.facts is not None and info.facts.dr_copy}
        assert drawn == copied, target
    # CloudFront is global: no DR copy of a CDN on aws
    assert not any(n.id == "dr__cdns_assets" for n in architecture(bp, "aws").nodes)
    labels = edge_labels(architecture(bp, "docker"))
    assert labels[("dr__caches_sessions", "dr__databases_users")] == "cache-aside"
    assert labels[("dr__services_web", "dr__queues_orders")] == "produces"
    assert labels[("dr__queues_orders", "dr__services_worker")] == "consumes"


def test_edges_carry_the_routing_policy(shop):
    labels = edge_labels(shop)
    assert labels[("dns_0_www", "cdns_assets")] == "weight 90"
    assert labels[("dns_0_www", "load_balancers_edge")] == "weight 10"
    assert labels[("dns_1_api", "load_balancers_edge")] == "primary"
    assert labels[("dns_1_api", "dr__load_balancers_edge")] == "secondary"
    assert labels[("dns_2_eu", "load_balancers_edge")] in ("EU", "default")
    assert labels[("dns_3_fast", "load_balancers_edge")] == "us-east-1"
    assert labels[("load_balancers_edge", "services_web")] == "/api/* w100, /* · round robin"
    assert labels[("caches_sessions", "databases_users")] == "cache-aside"
    assert labels[("queues_orders", "services_worker")] == "consumes"
    assert labels[("services_web", "queues_orders")] == "produces"
    assert labels[("databases_users", "dr__databases_users")] == "async replication"
    # a consumer's own reference to its queue is drawn once, from the queue
    assert ("services_worker", "queues_orders") not in labels


def test_mermaid_text(shop):
    text = to_mermaid(shop)
    assert text.startswith("---\ntitle: shop · docker\n---\nflowchart LR\n")
    assert 'subgraph primary_data["data"]' in text
    assert 'databases_users[("databases.users<br/>postgres 16' in text
    assert 'dns_1_api -.->|"secondary"| dr__load_balancers_edge' in text
    assert text.count("subgraph ") == text.count("\n  end\n") + text.count("\n    end\n") + text.count("\n      end\n")


def test_dot_text(shop):
    text = to_dot(shop)
    assert text.startswith("digraph topoform {")
    assert "subgraph cluster_site_dr {" in text
    assert 'databases_users [label="databases.users\\npostgres 16' in text
    assert 'dns_0_www -> cdns_assets [label="weight 90"];' in text
    assert text.count("{") == text.count("}")


@needs_dot
def test_dot_text_is_accepted_by_graphviz(shop):
    done = subprocess.run(["dot", "-Tsvg"], input=to_dot(shop).encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert b"<svg" in done.stdout


def test_cold_dr_draws_a_recovery_site_fed_by_backups():
    result = validate_text(
        "blueprint: c\ndatabases:\n  db: {backup: {interval: 6h}}\n"
        "disaster_recovery: {strategy: cold, region: us-west-2}\n")
    assert result.ok
    d = architecture(result.blueprint)
    labels = edge_labels(d)
    assert labels[("databases_db", "dr__backup_vault")] == "backup every 6h"
    assert not any(n.id.startswith("dr__databases") for n in d.nodes)


def test_mermaid_labels_are_escaped():
    result = validate_text('blueprint: q\nservices:\n  web: {image: "ghcr.io/a/b:1<2>", port: 80}\n')
    assert result.ok
    text = to_mermaid(architecture(result.blueprint))
    assert "ghcr.io/a/b:1#lt;2#gt;" in text


def test_resources_diagram_from_a_plan():
    plan = Plan("shop", "aws", "dev")
    plan.add(Resource("aws:ec2/vpc:Vpc", "net-vpc", "platform", {}))
    plan.add(Resource("aws:sqs/queue:Queue", "queue-orders", "queues.orders", {"name": "${net-vpc.id}"}))
    d = resources_diagram(plan)
    assert {c.title for c in d.clusters} == {"platform", "queues.orders"}
    assert [(e.source, e.target) for e in d.edges] == [("r_queue_orders", "r_net_vpc")]
    assert "aws sqs.Queue" in to_mermaid(d)
    assert short_type("docker:index/container:Container") == "docker Container"


# ------------------------------------------------------------------ the command


def test_graph_prints_mermaid_by_default():
    result = run("graph", EXAMPLE)
    assert result.exit_code == 0
    assert "flowchart LR" in result.output


def test_graph_format_follows_the_output_extension(tmp_path):
    out = tmp_path / "shop.dot"
    result = run("graph", EXAMPLE, "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text().startswith("digraph topoform {")


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("svg", b"<?xml")])
def test_graph_renders_images_with_graphviz(tmp_path, fmt, magic):
    out = tmp_path / f"shop.{fmt}"
    result = run("graph", EXAMPLE, "--format", fmt, "-o", str(out), "--target", "aws")
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)


def test_graph_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(diagram_module.shutil, "which", lambda name: None)
    result = CliRunner().invoke(cli, ["graph", EXAMPLE, "--format", "svg", "-o", str(tmp_path / "x.svg")])
    assert result.exit_code == 1
    assert "Graphviz" in result.output and "apt-get install graphviz" in result.output
    assert "Traceback" not in result.output


def test_graph_of_an_invalid_blueprint_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: x\nservices:\n  web: {image: a, port: 80, colour: red}\n")
    result = run("graph", str(bad))
    assert result.exit_code == 2
    assert "unknown key 'colour'" in result.output


def test_graph_resources_uses_the_plan(monkeypatch):
    import topoform.providers as providers

    plan = Plan("shop", "docker", "dev")
    plan.add(Resource("docker:index/network:Network", "net", "platform", {}))
    monkeypatch.setattr(providers, "compile_plan", lambda bp, target, stack="dev": plan)
    result = run("graph", EXAMPLE, "--resources")
    assert result.exit_code == 0, result.output
    assert 'r_net["net<br/>docker Network"]' in result.output


def _valid_targets(path: str) -> list[str]:
    result = validate_file(path)
    return list(result.blueprint.targets) if result.ok else []


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_every_example_blueprint_draws(path):
    targets = _valid_targets(path)
    assert targets, f"{path} does not validate"
    for target in targets:
        for fmt in ("mermaid", "dot"):
            result = run("graph", path, "--format", fmt, "--target", target)
            if result.exit_code == 2:
                continue  # not valid for this target (validate says why)
            assert result.exit_code == 0, result.output
            assert ("flowchart LR" if fmt == "mermaid" else "digraph topoform") in result.output


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_every_example_draws_its_resources(path):
    targets = _valid_targets(path)
    result = run("graph", path, "--resources", "--target", targets[0])
    assert result.exit_code == 0, result.output
    assert re.search(r"subgraph c_platform", result.output)


@needs_dot
def test_render_script_writes_the_readme_png(tmp_path):
    script = os.path.join(ROOT, "scripts", "render_diagrams.py")
    done = subprocess.run([sys.executable, script, "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "two-region.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "two-region.mmd").read_text().startswith("---\ntitle: shop · aws")
