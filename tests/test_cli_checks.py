"""What a new user meets on the command line: validate finds what plan refuses, every JSON
output parses, graph formats, preflight lists every missing piece, counts and messages say
what they mean, and the `topoform` package exports its API."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from topoform.cli.engine import cli_binary, errors, preflight
from topoform.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
REFUSED = ROOT / "tests" / "golden" / "invalid" / "target-refusals.yaml"
EXAMPLES = sorted(glob.glob(str(ROOT / "blueprints" / "*.yaml")))
VALID = sorted(glob.glob(str(ROOT / "tests" / "golden" / "valid" / "*.yaml")))
LINT = sorted(glob.glob(str(ROOT / "tests" / "lint" / "*.yaml")))
EVERY = EXAMPLES + VALID + LINT


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity (which Python's json writes and other parsers reject)."""
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------ 1. validate checks what plan refuses


def test_validate_reports_every_refusal_of_every_target_at_once():
    result = run("validate", REFUSED, "--json")
    assert result.exit_code == 2
    found = {(d["line"], d["message"].partition(":")[0]) for d in strict_json(result.stdout)}
    # docker: the host route, the 2-node Galera cluster, the DR endpoint; aws: multi-primary mariadb
    assert found == {(13, "docker target"), (17, "docker target"), (25, "docker target"), (17, "aws target")}
    # each is what `plan` says for that target
    plan = run("plan", REFUSED, "--target", "docker")
    assert plan.exit_code == 2 and "host-based routes" in plan.output and "Galera" in plan.output
    assert "does not run on the dr site" in plan.output


AWS_ONLY_RULE = """\
blueprint: shop
targets: [docker, aws]
services:
  api: {image: "nginx:1.27", port: 80, env: {DB: "${databases.users.url}"}}
databases:
  users: {engine: postgres, version: "16", storage: 10GiB}
"""


def test_other_targets_rerun_only_their_rules(tmp_path, monkeypatch):
    from topoform.dsl import validate as front_end
    from topoform.dsl.validate import for_target, validate_file

    path = tmp_path / "shop.yaml"
    path.write_text(AWS_ONLY_RULE)
    first = validate_file(str(path))
    assert first.ok and first.target == "docker"
    aws = for_target(first, "aws")
    # the same diagnostics as validating for aws from the start: RDS needs 20 GiB, docker does not
    assert [d.render() for d in aws.diagnostics] == [d.render() for d in validate_file(str(path), target="aws").diagnostics]
    assert aws.blueprint is None and any("20" in d.message for d in aws.diagnostics if d.severity == "error")
    loads = []
    real = front_end.load_file
    monkeypatch.setattr(front_end, "load_file", lambda p: loads.append(p) or real(p))
    result = run("validate", path, "--json")
    assert result.exit_code == 2 and len(loads) == 1  # the file is loaded and checked once, not once per target
    assert [d["message"].partition(":")[0] for d in strict_json(result.stdout)] == ["aws target"]


def test_validate_with_a_target_checks_that_target_only():
    result = run("validate", REFUSED, "--target", "docker", "--json")
    messages = [d["message"] for d in strict_json(result.stdout)]
    assert result.exit_code == 2 and len(messages) == 3
    assert not any(m.startswith(("docker target:", "aws target:")) for m in messages)  # one target: no label


def test_validate_strict_fails_on_the_targets_warnings():
    example = ROOT / "blueprints" / "minimal-web.yaml"
    plain = run("validate", example)
    assert plain.exit_code == 0 and "2 target warning(s)" in plain.output  # docker: no alarms; aws: nobody notified
    strict = run("validate", example, "--strict", "--json")
    assert strict.exit_code == 2
    assert any("slos create no alarms" in d["message"] for d in strict_json(strict.stdout))


@pytest.mark.parametrize("command", [["report"], ["report", "--json"], ["graph"]])
def test_report_and_graph_exit_2_where_plan_refuses(command):
    result = run(*command, REFUSED, "--target", "docker")
    assert result.exit_code == 2
    assert "host-based routes" in result.output


def test_report_json_of_a_refused_design_names_the_refusals():
    data = strict_json(run("report", REFUSED, "--target", "docker", "--json").stdout)
    refused = [f for f in data["lint"] if f["rule"] == "target-refuses"]
    assert len(refused) == 3 and {f["severity"] for f in refused} == {"error"}
    assert data["summary"]["errors"] == 3


def test_validate_stays_quick_and_needs_no_pulumi():
    done = subprocess.run([sys.executable, "-c", "import sys, time; t = time.perf_counter();"
                           "from topoform.cli.main import cli; from click.testing import CliRunner;"
                           "r = CliRunner().invoke(cli, ['validate', 'blueprints/minimal-web.yaml']);"
                           "print(r.exit_code, any(m.startswith('pulumi') for m in sys.modules),"
                           " time.perf_counter() - t)"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    code, heavy, seconds = done.stdout.split()
    assert (code, heavy) == ("0", "False"), done.stderr
    assert float(seconds) < 5.0  # ~0.3 s on an idle machine; generous for a loaded one


# ------------------------------------------------------------------ 2. JSON output always parses


@pytest.mark.parametrize("path", EVERY, ids=[os.path.relpath(p, ROOT) for p in EVERY])
@pytest.mark.parametrize("target", ["docker", "aws"])
def test_every_json_output_parses_strictly(path, target):
    for command in (["report", "--json"], ["validate", "--json"], ["plan", "--json"]):
        result = run(*command, path, "--target", target)
        if result.exit_code == 2 and command[0] == "plan" and not result.stdout.strip():
            continue
        assert result.stdout.strip(), (command, result.output)
        strict_json(result.stdout)


def test_a_component_alone_short_of_100_percent_costs_no_infinity(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("hi")
    bp = tmp_path / "static.yaml"
    bp.write_text("blueprint: static-site\ncdns:\n  media: {mode: push, content: ./site}\n"
                  "dns:\n  zone: example.com\n  records:\n    - {name: www, endpoints: [{target: cdns.media}]}\n")
    result = run("report", bp, "--target", "aws", "--json")
    data = strict_json(result.stdout)
    assert data["availability"]["costliest"]["ref"] == "cdns.media"
    assert data["availability"]["costliest"]["nines"] is None
    text = run("report", bp, "--target", "aws").output
    assert "inf" not in text.replace("info", "") and "the rest of the path is 100%" in text


# ------------------------------------------------------------------ 5. graph formats


def test_graph_refuses_an_extension_it_cannot_write(tmp_path):
    out = tmp_path / "social.jpg"
    result = run("graph", ROOT / "blueprints" / "minimal-web.yaml", "-o", out)
    assert result.exit_code == 2 and not out.exists()
    assert ".mmd" in result.output and ".dot" in result.output and ".svg" in result.output and ".png" in result.output


@pytest.mark.parametrize("extension, head", [(".mmd", "---"), (".mermaid", "---"), (".dot", "digraph"),
                                             (".gv", "digraph")])
def test_graph_takes_the_format_from_the_extension(tmp_path, extension, head):
    out = tmp_path / f"diagram{extension}"
    assert run("graph", ROOT / "blueprints" / "minimal-web.yaml", "-o", out).exit_code == 0
    assert out.read_text().startswith(head)


# ------------------------------------------------------------------ 6. preflight lists everything


def test_preflight_lists_every_missing_piece_with_its_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "DOCKER_SOCKETS", (str(tmp_path / "no-docker.sock"),))
    environ = {"HOME": str(tmp_path), "PATH": str(tmp_path)}
    with pytest.raises(errors.PrerequisitesMissing) as caught:
        preflight.check_all("docker", environ)
    message = caught.value.message
    assert "2 things" in message and "Pulumi CLI" in message and "Docker engine" in message
    assert cli_binary.PULUMI_INSTALL_COMMAND in message and "DOCKER_HOST" in message
    assert caught.value.exit_code == 1


def test_preflight_raises_one_missing_piece_as_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "DOCKER_SOCKETS", (str(tmp_path / "no-docker.sock"),))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pulumi").write_text("#!/bin/sh\n")
    (fake / "pulumi").chmod(0o755)
    with pytest.raises(errors.DockerMissing):
        preflight.check_all("docker", {"HOME": str(tmp_path), "PATH": str(fake)})
    assert preflight.check_all("docker", {"HOME": str(tmp_path), "PATH": str(fake),
                                          "DOCKER_HOST": "unix:///x"}) == "unix:///x"


def test_up_with_neither_docker_nor_the_cli_names_both(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight, "DOCKER_SOCKETS", (str(tmp_path / "no-docker.sock"),))
    for name in ("DOCKER_HOST", "TOPOFORM_PULUMI_ROOT", "TOPOFORM_SKIP_PREFLIGHT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run("preview", ROOT / "blueprints" / "minimal-web.yaml")
    assert result.exit_code == 1
    assert "Pulumi CLI" in result.output and "Docker engine" in result.output


# ------------------------------------------------------------------ 7-9. counts and messages


def test_validate_and_eject_count_the_same_components(tmp_path):
    example = ROOT / "blueprints" / "two-region-hot-dr.yaml"
    assert "11 blueprint components" in run("validate", example).output
    ejected = run("eject", example, "--target", "aws", "-o", tmp_path / "out").output
    assert "for 11 blueprint components + platform, dns, disaster_recovery, slos" in ejected


@pytest.mark.parametrize("command", ["plan", "eject", "report", "graph"])
def test_commands_that_never_deploy_do_not_say_nothing_was_deployed(command, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: Bad_Name\n")
    args = [command, bad] + (["-o", tmp_path / "out"] if command == "eject" else [])
    result = run(*args)
    assert result.exit_code == 2 and "nothing was deployed" not in result.output


def test_init_states_the_name_rule(tmp_path):
    result = run("init", tmp_path / "my.yaml", "--name", "My_App")
    assert result.exit_code == 2
    assert "--name 'My_App'" in result.output and "^[a-z][a-z0-9-]{0,38}$" in result.output
    assert "'my-app'" in result.output and "pass --name" not in result.output


# ------------------------------------------------------------------ 10. the package API


def test_the_package_exports_its_api_lazily():
    done = subprocess.run([sys.executable, "-c", "import sys, topoform; before = sorted(m for m in sys.modules "
                           "if m.startswith('topoform')); bp = topoform.load_blueprint('blueprints/minimal-web.yaml');"
                           "plan = topoform.compile_plan(bp, 'docker'); print(before, type(bp).__name__,"
                           " isinstance(plan, topoform.Plan), issubclass(topoform.UnsupportedError, Exception),"
                           " issubclass(topoform.BlueprintError, Exception), callable(topoform.synth),"
                           " callable(topoform.validate_file))"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.stdout.split() == ["['topoform']", "Blueprint", "True", "True", "True", "True", "True"], done.stderr


def test_the_package_names_what_it_does_not_have():
    import topoform

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        topoform.nope  # noqa: B018
    assert {"load_blueprint", "compile_plan", "synth", "Plan", "Blueprint"} <= set(dir(topoform))


def test_a_users_pytest_run_shows_no_provider_deprecation_warnings(tmp_path):
    (tmp_path / "test_user.py").write_text(
        "import warnings\n\n"
        "def test_imports_the_provider(synth):\n"
        "    import pulumi_aws  # noqa: F401\n"
        "    warnings.warn_explicit('from the provider', DeprecationWarning, 'x.py', 1, module='pulumi_aws.ec2')\n"
        "    warnings.warn('the user\\'s own', DeprecationWarning)\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pulumi_aws" not in done.stdout and "from the provider" not in done.stdout
    assert "the user's own" in done.stdout  # the user's warnings are still shown


# ------------------------------------------------------------------ 3. the best change is measured


def _fixes(path: str, target: str):
    from topoform.dsl.validate import validate_file
    from topoform.providers.insight.availability import PathBuilder

    result = validate_file(path, None, target)
    if not result.ok:
        return None, []
    builder = PathBuilder(result.blueprint, target)
    return result.blueprint, [(p, fix) for p in builder.paths() if (fix := builder.best_fix(p)) is not None]


@pytest.mark.parametrize("path", EXAMPLES + LINT, ids=[os.path.relpath(p, ROOT) for p in EXAMPLES + LINT])
@pytest.mark.parametrize("target", ["docker", "aws"])
def test_the_claimed_change_gives_what_the_changed_blueprint_reports(path, target, tmp_path):
    """Make the change the report proposes, in a file, and run `report` on it: the path's figure
    is the one the report claimed."""
    import copy

    bp, fixes = _fixes(path, target)
    for number, (before_path, fix) in enumerate(fixes[:6]):
        original = bp.model_dump(mode="json", exclude_none=True, by_alias=True)
        data = copy.deepcopy(original)
        assert fix.edit is not None, f"{fix.change}: a proposed change must be a blueprint setting"
        fix.edit(data)
        assert data != original, f"{fix.change} changes nothing"
        changed = Path(bp.base_dir) / f".changed-{os.getpid()}-{number}.json"  # directories resolve as before
        changed.write_text(json.dumps(data))
        try:
            report = strict_json(run("report", changed, "--target", target, "--json").stdout)
        finally:
            changed.unlink()
        refs = set(before_path.refs()) - {"dns"}
        after = [p for p in report["availability"]["paths"]
                 if p["kind"] == before_path.kind and _refs(p["steps"]) - {"dns"} == refs]
        same = [p for p in after if p["entry"] == before_path.entry] or after
        assert same, (fix.change, before_path.name)
        assert min(p["percent"] for p in same) == pytest.approx(fix.after * 100.0, abs=1e-6), fix.change


def _refs(steps) -> set[str]:
    found = set()
    for step in steps:
        if step["type"] == "component":
            found.add(step["ref"])
        else:
            for option in step["options"]:
                found |= _refs(option)
    return found


@pytest.mark.parametrize("path", EXAMPLES + LINT, ids=[os.path.relpath(p, ROOT) for p in EXAMPLES + LINT])
@pytest.mark.parametrize("target", ["docker", "aws"])
def test_the_report_never_proposes_a_change_without_a_setting(path, target):
    """A component's fix is only ever one the target can add a copy of (`Facts.scaling`), and
    when the costliest component has none, the report names that and proposes another."""
    from topoform.providers import analysed_plan

    bp, fixes = _fixes(path, target)
    for _path, fix in fixes:
        if fix.ref is not None:
            assert analysed_plan(bp, target).components[fix.ref].facts.scaling is not None, fix.change
    result = run("report", path, "--target", target)
    for line in result.output.splitlines():
        if line.strip().startswith("fix:"):
            costliest = strict_json(run("report", path, "--target", target, "--json").stdout)["availability"]["costliest"]
            assert analysed_plan(bp, target).components[costliest["ref"]].facts.scaling is not None


def test_a_costliest_component_without_a_setting_gets_another_change():
    """CloudFront has no copy to add: the report says so and proposes a change it can measure."""
    example = ROOT / "blueprints" / "two-region-hot-dr.yaml"
    data = strict_json(run("report", example, "--target", "aws", "--json").stdout)["availability"]["costliest"]
    text = run("report", example, "--target", "aws").output
    assert data["ref"] == "cdns.assets"  # 99.9% per distribution, and CloudFront has no second one to add
    assert data["fix"]["ref"] != data["ref"]
    assert f"no blueprint setting adds a copy of {data['ref']}" in text
