"""`topoform eject`: the ejected program registers exactly the Plan's resources.

Both programs — Topoform's own (`run_plan`, what `up` and `synth` run) and the
ejected `__main__.py` (run with runpy) — are run under the same
`pulumi.runtime` mocks, and their registrations compared: names, types,
inputs, parents, protect, explicit and implied dependencies, secret outputs.
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import os
import runpy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pulumi

from topoform.providers.eject import asset_destinations, collect_assets, render_project, string_literal, write_project
from topoform.cli.main import cli
from topoform.providers.program import run_plan

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASSET = str(ROOT / "blueprints" / "static" / "index.html")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"topoform_test_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plans = _load("sample_plans")


# ---------------------------------------------------------------- harness

record = _load("mock_harness").record


def run_ejected(directory: Path, project: str, stack: str) -> dict[str, dict[str, Any]]:
    main = str(directory / "__main__.py")

    def program() -> None:
        cwd = os.getcwd()
        os.chdir(directory)  # relative asset paths, as under `pulumi up` in the project
        try:
            runpy.run_path(main, run_name="__main__")
        finally:
            os.chdir(cwd)

    return record(program, project, stack)


def assets_as_content(value: Any, base: Path | None = None) -> Any:
    """FileAssets compared by the bytes they upload (the ejected project holds copies)."""
    if isinstance(value, pulumi.FileAsset):
        path = Path(value.path)
        return ("asset", (path if path.is_absolute() else base / path).read_bytes())
    if isinstance(value, dict):
        return {k: assets_as_content(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [assets_as_content(v, base) for v in value]
    return value


def assert_same_registrations(plan, ejected_dir: Path) -> dict[str, dict[str, Any]]:
    original = record(lambda: run_plan(plan), plan.blueprint, plan.stack)
    ejected = run_ejected(ejected_dir, plan.blueprint, plan.stack)
    assert sorted(ejected) == sorted(original), "ejected program registers other resources"
    for name, want in original.items():
        got = ejected[name]
        want = {**want, "inputs": assets_as_content(want["inputs"])}
        got = {**got, "inputs": assets_as_content(got["inputs"], ejected_dir)}
        for key in want:
            assert got[key] == want[key], f"{name}: {key} differs:\n  plan:    {want[key]!r}\n  ejected: {got[key]!r}"
    return original


# ---------------------------------------------------------------- hand-built plans: run everywhere


@pytest.mark.parametrize("make", [lambda: plans.aws_plan(ASSET), plans.docker_plan], ids=["aws", "docker"])
def test_ejected_program_registers_exactly_the_plans_resources(tmp_path, make):
    plan = make()
    write_project(plan, str(tmp_path), blueprint_file="/project/shop.yaml", region="us-east-1")
    registered = assert_same_registrations(plan, tmp_path)
    custom = {n for n, r in registered.items() if r["custom"]}
    assert custom == {r.name for r in plan.resources}
    # Protection and secret outputs survive the ejection (not vacuously: the plans set them).
    assert {n for n, r in registered.items() if r["protect"]} == {r.name for r in plan.resources if r.protect} != set()


def test_ejected_code_is_plain_readable_python(tmp_path):
    plan = plans.aws_plan(ASSET)
    text = render_project(plan, blueprint_file="/project/shop.yaml", region="us-east-1")["__main__.py"]
    ast.parse(text)  # valid Python
    assert "topoform" not in text.replace("topoform:index:", "").replace("topoform eject", "") \
        .replace("Topoform", "").replace("topoform:component", ""), "the ejected program must not use Topoform"
    # One block per component, headed by the component and its blueprint line.
    assert "# ── databases.users  ·  shop.yaml:10 " in text
    assert text.count("# ── services.web") == 1
    assert 'users = pulumi.ComponentResource("topoform:index:Database", "databases-users")' in text
    assert 'db_users = aws.rds.Instance(\n    "db-users",\n    engine="postgres",' in text
    assert "opts=pulumi.ResourceOptions(parent=users, protect=True, additional_secret_outputs=[\"password\"])" in text
    # References are variables; embedded ones concatenated; nested paths lifted; $json and $$ literals.
    assert "password=db_users_password.result," in text
    assert 'pulumi.Output.concat("postgres://app@", db_users.address, ":5432/app")' in text
    assert 'db_users.master_user_secrets[0]["secret_arn"]' in text
    assert "assume_role_policy=pulumi.Output.json_dumps(" in text
    assert '"${not.a.ref}"' in text and "$${" not in text
    assert 'pulumi.FileAsset("assets/index.html")' in text
    assert "opts=pulumi.ResourceOptions(parent=web, depends_on=[db_users])" in text
    assert 'pulumi.export("database_url", ' in text


def test_blocks_follow_dependencies_between_components():
    text = render_project(plans.docker_plan(), blueprint_file="/p/shop.yaml")["__main__.py"]
    order = [text.index(f"# ── {ref}") for ref in ("platform", "databases.users", "caches.web", "services.web")]
    assert order == sorted(order), "a block reads only variables of earlier blocks"
    # Two components named `web` in different sections get distinct variables.
    assert "services_web = pulumi.ComponentResource" in text and "caches_web = pulumi.ComponentResource" in text


def test_project_files_pin_the_sdks_and_region(tmp_path):
    files = render_project(plans.aws_plan(ASSET), blueprint_file="/p/shop.yaml", region="eu-west-1",
                           description="Shop: three tiers")
    import yaml
    project = yaml.safe_load(files["Pulumi.yaml"])
    assert project["name"] == "shop" and project["runtime"]["name"] == "python"
    assert project["config"] == {"aws:region": "eu-west-1"}
    assert project["description"] == "Shop: three tiers"
    from importlib.metadata import version
    reqs = files["requirements.txt"].split()
    assert f"pulumi-aws=={version('pulumi-aws')}" in reqs and f"pulumi-random=={version('pulumi-random')}" in reqs
    assert not any(r.startswith("pulumi-docker") for r in reqs)
    docker_files = render_project(plans.docker_plan(), blueprint_file="/p/shop.yaml", region="eu-west-1")
    assert "config" not in yaml.safe_load(docker_files["Pulumi.yaml"])


def test_assets_are_copied_into_the_project(tmp_path):
    plan = plans.aws_plan(ASSET)
    write_project(plan, str(tmp_path), blueprint_file="/p/shop.yaml")
    assert (tmp_path / "assets" / "index.html").read_bytes() == Path(ASSET).read_bytes()
    assert collect_assets(plan) == [ASSET]


def test_asset_layout_is_kept_below_a_common_folder():
    dests = asset_destinations(["/b/static/index.html", "/b/static/css/site.css", "/b/static/img/a/logo.png"])
    assert dests == {"/b/static/index.html": "assets/index.html", "/b/static/css/site.css": "assets/css/site.css",
                     "/b/static/img/a/logo.png": "assets/img/a/logo.png"}


@pytest.mark.parametrize("text", ["plain", "it's", 'say "hi"', "both ' and \"", "tab\tand\\slash", "ünï ☃"])
def test_string_literals_round_trip(text):
    assert ast.literal_eval(string_literal(text)) == text


def test_templates_ship_as_package_data():
    from importlib import resources
    names = {p.name for p in resources.files("topoform.providers").joinpath("templates").iterdir()}
    assert {"eject_main.py.j2", "eject_pulumi.yaml.j2", "eject_requirements.txt.j2"} <= names


# ---------------------------------------------------------------- the command


def test_eject_command_refuses_an_invalid_blueprint(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: shop\nservices:\n  web: {image: nginx, replicas: zero}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["eject", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "out").exists()


def test_eject_command_writes_the_project(tmp_path, monkeypatch):
    import topoform.providers as providers

    monkeypatch.setattr(providers, "compile_plan", lambda bp, target, stack="dev": plans.docker_plan(stack))
    bp = tmp_path / "shop.yaml"
    bp.write_text("blueprint: shop\nservices:\n  web: {image: 'nginx:1.27-alpine', port: 80}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["eject", str(bp), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"Pulumi.yaml", "__main__.py", "requirements.txt"}
    again = CliRunner().invoke(cli, ["eject", str(bp), "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output


# ---------------------------------------------------------------- every example blueprint, both targets


def _compiled(path: str, target: str):
    from topoform.dsl import load_blueprint
    from topoform.providers import compile_plan

    bp = load_blueprint(path, target=target)
    return compile_plan(bp, target, "test"), bp


@pytest.mark.parametrize("target", ["docker", "aws"])
@pytest.mark.parametrize("blueprint", sorted(glob.glob(str(ROOT / "blueprints" / "*.yaml"))),
                         ids=lambda p: os.path.basename(p))
def test_every_example_blueprint_ejects_to_the_same_resources(tmp_path, blueprint, target):
    plan, bp = _compiled(blueprint, target)
    write_project(plan, str(tmp_path), blueprint_file=blueprint, region=bp.aws.region)
    ast.parse((tmp_path / "__main__.py").read_text(encoding="utf-8"))
    assert_same_registrations(plan, tmp_path)


def test_components_that_read_each_other_get_continued_blocks(tmp_path):
    from topoform.providers.plan import ComponentInfo, Plan, Resource

    plan = Plan("loop", "docker", "test")
    for ref in ("services.a", "services.b"):
        plan.components[ref] = ComponentInfo(ref, "topoform:index:Service")
    plan.add(Resource("docker:index/network:Network", "a-net", "services.a", {"name": "a"}))
    plan.add(Resource("docker:index/network:Network", "b-net", "services.b", {"name": "${a-net.name}-b"}))
    plan.add(Resource("docker:index/volume:Volume", "a-vol", "services.a", {"name": "${b-net.name}-vol"}))
    text = render_project(plan, blueprint_file="/p/loop.yaml")["__main__.py"]
    assert [line[5:15] for line in text.splitlines() if line.startswith("# ── services")] == \
        ["services.a", "services.b", "services.a"]
    assert "# ── services.a (continued)" in text
    write_project(plan, str(tmp_path), blueprint_file="/p/loop.yaml")
    assert_same_registrations(plan, tmp_path)
