"""The engine commands: safety, backends and passphrases, feedback, the Pulumi CLI boundary.

Most tests run everywhere: the deploy commands are driven against a
stand-in `bin/pulumi` (tests/fixtures/pulumi_stand_in.py) that records the
arguments and environment we pass and replays recorded engine events, and
the event rendering is checked on those recorded events (real Pulumi event
schema). Tests marked `pulumi_cli` run the real Automation API and are
skipped where no Pulumi CLI is installed.
"""

from __future__ import annotations

import _thread
import importlib.util
import json
import os
import shutil
import stat
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from topoform.cli.main import cli
from topoform.cli.engine import backend as backends
from topoform.cli.engine import cli_binary, errors, preflight
from topoform.cli.engine.operations import protected_resources, protection_notice, run_cancellable
from topoform.cli.engine.plugins import packages_of, required_plugins, sdk_plugin_version
from topoform.cli.engine.progress import Progress, event_as_json, summary_line

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"topoform_test_{name}", FIXTURES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plans = _load("sample_plans")
record = _load("mock_harness").record

BLUEPRINT = """\
blueprint: shop
variables:
  replicas: {type: int, default: 1}
  token: {type: string, default: none, sensitive: true}
services:
  web: {image: "nginx:1.27-alpine", port: 80, replicas: "${var.replicas}", env: {TOKEN: "${var.token}"}}
"""


def events(name: str):
    from pulumi.automation.events import EngineEvent

    return [EngineEvent.from_json(e) for e in json.loads((FIXTURES / name).read_text(encoding="utf-8"))]


# ---------------------------------------------------------------- a project with a stand-in pulumi


class Project:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        self.dir = tmp_path / "shop"
        self.dir.mkdir()
        self.blueprint = self.dir / "shop.yaml"
        self.blueprint.write_text(BLUEPRINT, encoding="utf-8")
        self.stub = tmp_path / "stub"
        self.stub.mkdir()
        root = tmp_path / "pulumi-root"
        (root / "bin").mkdir(parents=True)
        binary = root / "bin" / "pulumi"
        binary.write_text(f"#!{sys.executable}\n" + (FIXTURES / "pulumi_stand_in.py").read_text(encoding="utf-8"))
        binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        monkeypatch.setenv("TOPOFORM_PULUMI_ROOT", str(root))
        monkeypatch.setenv("STUB_DIR", str(self.stub))
        monkeypatch.setenv("STUB_EVENTS", str(FIXTURES / "engine_events_up.json"))
        monkeypatch.setenv("TOPOFORM_PASSPHRASE", "correct horse")
        monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
        for name in ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "TOPOFORM_BACKEND", "CI",
                     "STUB_FAIL", "TOPOFORM_SKIP_PREFLIGHT", "PULUMI_BACKEND_URL", "PULUMI_HOME"):
            monkeypatch.delenv(name, raising=False)
        import topoform.providers as providers

        # The compilers are other modules' business: a Plan with protected and plain resources.
        monkeypatch.setattr(providers, "compile_plan", lambda bp, target, stack="dev": plans.docker_plan(stack))
        self.interactive(False)

    def interactive(self, value: bool) -> None:
        self.monkeypatch.setattr("topoform.cli.deploy.is_interactive", lambda: value)

    def run(self, *args: str, input: str | None = None):
        return CliRunner().invoke(cli, [args[0], str(self.blueprint), *args[1:]], input=input)

    def calls(self) -> list[dict]:
        path = self.stub / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def commands(self) -> list[list[str]]:
        return [[a for a in c["args"] if a != "--non-interactive"] for c in self.calls()]

    def ran(self, verb: str) -> bool:
        return any(c and c[0] == verb for c in self.commands())


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    return Project(tmp_path, monkeypatch)


def test_up_drives_the_cli_with_our_backend_passphrase_plugins_and_config(project):
    result = project.run("up", "--yes", "--var", "replicas=3")
    assert result.exit_code == 0, result.output
    commands = project.commands()
    verbs = [" ".join(c[:2]) for c in commands]
    # Created the stack with the passphrase provider, installed pinned plugins, stored config, then up.
    init = next(c for c in commands if c[:2] == ["stack", "init"])
    assert init[2] == "dev" and init[init.index("--secrets-provider") + 1] == "passphrase"
    plugins = [c[3:5] for c in commands if c[:2] == ["plugin", "install"]]
    assert plugins == [["docker", "v" + sdk_plugin_version("docker")], ["random", "v" + sdk_plugin_version("random")]]
    config = next(c for c in commands if c[:2] == ["config", "set-all"])
    assert "--plaintext" in config and "shop:replicas=3" in config and "topoform:target=docker" in config
    assert f"topoform:blueprint={project.blueprint.resolve()}" in config
    up = next(c for c in commands if c[0] == "up")
    assert "--yes" in up and "--event-log" in up and up[up.index("--stack") + 1] == "dev"
    assert verbs.index("plugin install") < verbs.index(" ".join(up[:2])), "plugins are installed before the update"
    # Every call: our state backend and passphrase, in the blueprint's own workspace.
    state = (project.dir / ".topoform" / "state").resolve().as_uri()
    for call in project.calls()[1:]:
        assert call["env"]["PULUMI_BACKEND_URL"] == state
        assert call["env"]["PULUMI_CONFIG_PASSPHRASE"] == "correct horse"
        assert call["cwd"] == str((project.dir / ".topoform" / "workspaces" / "shop").resolve())
    settings = (project.dir / ".topoform" / "workspaces" / "shop" / "Pulumi.yaml").read_text(encoding="utf-8")
    assert state in settings, "the backend is pinned in the workspace's Pulumi.yaml too"
    # Feedback from the recorded events, and the outputs (secrets masked).
    assert "Apply complete! Resources: 3 added, 1 changed, 2 destroyed (1 replaced)." in result.output
    assert "url         = http://localhost:8080" in result.output
    assert "db_password = [secret]" in result.output and "hunter2" not in result.output


def test_sensitive_variables_are_stored_as_secrets(project):
    result = project.run("up", "--yes", "--var", "token=abc")
    assert result.exit_code == 0, result.output
    config = next(c for c in project.commands() if c[:2] == ["config", "set-all"])
    assert config[config.index("shop:token=abc") - 1] == "--secret"


def test_stored_variables_are_used_on_the_next_run(project, monkeypatch):
    seen = {}
    import topoform.dsl.validate as validate

    real = validate.validate_file

    def spy(path, variables=None, target=None):
        seen.update(variables or {})
        return real(path, variables, target)

    monkeypatch.setattr(validate, "validate_file", spy)
    (project.stub / "stacks.json").write_text('["dev"]')
    workspace = project.dir / ".topoform" / "workspaces" / "shop"
    workspace.mkdir(parents=True)
    (workspace / "Pulumi.dev.yaml").write_text(
        "config:\n  shop:replicas: '4'\n  shop:token:\n    secure: v1:AAAA\n  shop:gone: x\n", encoding="utf-8")
    result = project.run("preview")
    assert result.exit_code == 0, result.output
    assert seen == {"replicas": "4", "token": "s3cret"}, "plain values read offline, the secret one decrypted"
    assert ["config", "get", "shop:token", "--json", "--stack", "dev"] in project.commands()
    # A --var given again wins, and the secret is then not decrypted at all.
    (project.stub / "calls.jsonl").unlink()
    seen.clear()
    assert project.run("preview", "--var", "token=new", "--var", "replicas=2").exit_code == 0
    assert seen == {"replicas": "2", "token": "new"}
    assert not any(c[:2] == ["config", "get"] for c in project.commands())


def test_an_invalid_blueprint_deploys_nothing(project):
    project.blueprint.write_text("blueprint: shop\nservices:\n  web: {image: nginx, replicas: zero, colour: red}\n",
                                 encoding="utf-8")
    result = project.run("up", "--yes")
    assert result.exit_code == 2
    assert "nothing was deployed" in result.output and "Traceback" not in result.output
    assert project.calls() == [], "the engine was never touched"


def test_up_without_yes_refuses_when_nobody_can_answer(project):
    result = project.run("up")
    assert result.exit_code == 2
    assert "not interactive" in result.output and "--yes" in result.output
    assert project.calls() == []


def test_up_asks_and_only_yes_goes_ahead(project):
    project.interactive(True)
    declined = project.run("up", input="y\n")
    assert declined.exit_code == 1, declined.output
    assert "Plan: 3 to add, 1 to change, 2 to destroy (1 to replace)." in declined.output
    assert "Only 'yes' will be accepted" in declined.output
    assert project.ran("preview") and not project.ran("up")
    assert not any(c[:2] == ["config", "set-all"] for c in project.commands()), "nothing stored when declined"
    accepted = project.run("up", input="yes\n")
    assert accepted.exit_code == 0, accepted.output
    assert project.ran("up")


def test_destroy_explains_protection_and_refuses_by_default(project):
    result = project.run("destroy", "--yes")
    assert result.exit_code == 1
    assert "db-users-data" in result.output and "databases.users" in result.output
    assert "protect: false" in result.output and "--exclude-protected" in result.output
    assert not project.ran("destroy")


def test_destroy_can_keep_protected_resources(project):
    project.run("up", "--yes")
    result = project.run("destroy", "--yes", "--exclude-protected")
    assert result.exit_code == 0, result.output
    destroy = next(c for c in project.commands() if c[0] == "destroy")
    assert "--exclude-protected" in destroy and "--skip-preview" in destroy


def test_destroy_of_a_stack_never_deployed_is_a_no_op(project):
    result = project.run("destroy", "--yes", "--exclude-protected")
    assert result.exit_code == 0, result.output
    assert "never been deployed" in result.output and not project.ran("destroy")


def test_destroy_without_yes_refuses_when_nobody_can_answer(project, monkeypatch):
    monkeypatch.setattr("topoform.providers.compile_plan", lambda bp, target, stack="dev": plans.docker_plan(stack))
    result = project.run("destroy", "--exclude-protected")
    assert result.exit_code == 2 and "--yes" in result.output
    assert project.calls() == []


def test_a_locked_stack_is_refused_with_a_clear_message(project, monkeypatch):
    monkeypatch.setenv("STUB_FAIL", "up:locked")
    result = project.run("up", "--yes")
    assert result.exit_code == 1
    assert "stack shop/dev is locked: another update is running on it" in result.output
    assert "pulumi cancel --stack dev" in result.output and "Traceback" not in result.output


def test_a_failed_update_exits_1_with_the_engines_words(project, monkeypatch):
    monkeypatch.setenv("STUB_FAIL", "up:failed")
    monkeypatch.setenv("STUB_EVENTS", str(FIXTURES / "engine_events_failed.json"))
    result = project.run("up", "--yes")
    assert result.exit_code == 1
    assert "error: svc-web-1: unable to create container" in result.output
    assert "Apply failed. Resources: 0 added, 0 changed, 0 destroyed, 1 failed." in result.output
    assert "update failed" in result.output


def test_json_streams_engine_events_then_a_summary(project):
    result = project.run("up", "--yes", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    recorded = json.loads((FIXTURES / "engine_events_up.json").read_text(encoding="utf-8"))
    assert [e["type"] for e in lines[:-1]] == [e["type"] for e in recorded]
    summary = lines[-1]["topoformSummary"]
    assert (summary["add"], summary["change"], summary["destroy"], summary["replace"]) == (3, 1, 2, 1)
    assert summary["byComponent"]["services.web"]["add"] == 3


def test_outputs_prints_and_masks_secrets(project):
    project.run("up", "--yes")
    masked = project.run("outputs", "--json")
    assert masked.exit_code == 0, masked.output
    assert json.loads(masked.stdout) == {"url": "http://localhost:8080", "db_password": "[secret]"}
    shown = project.run("outputs", "--json", "--show-secrets")
    assert json.loads(shown.stdout)["db_password"] == "hunter2"


def test_outputs_of_a_stack_never_deployed(project):
    result = project.run("outputs")
    assert result.exit_code == 1 and "topoform up" in result.output


# ---------------------------------------------------------------- the Pulumi CLI, missing or installed


def test_missing_pulumi_cli_names_the_fix_and_exits_1(project, monkeypatch, tmp_path):
    monkeypatch.delenv("TOPOFORM_PULUMI_ROOT")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    for command in (["up", "--yes"], ["preview"], ["refresh"], ["destroy", "--yes", "--exclude-protected"],
                    ["outputs"]):
        result = project.run(*command)
        assert result.exit_code == 1, (command, result.output)
        assert "the Pulumi CLI is not installed" in result.output
        assert "curl -fsSL https://get.pulumi.com | sh" in result.output and "topoform install-pulumi" in result.output
        assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_the_cli_is_found_where_install_pulumi_and_the_installer_put_it(tmp_path):
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": str(tmp_path / "nothing")}
    with pytest.raises(errors.PulumiMissing):
        cli_binary.find_pulumi_root(env)
    for root in (home / ".pulumi", cli_binary.install_root(home=home)):
        binary = root / "bin" / "pulumi"
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
        assert cli_binary.find_pulumi_root(env) == str(root)
    assert str(cli_binary.install_root(home=home)).endswith(f".pulumi/versions/{cli_binary.pinned_cli_version()}")
    with pytest.raises(errors.PulumiMissing, match="TOPOFORM_PULUMI_ROOT"):
        cli_binary.find_pulumi_root({**env, "TOPOFORM_PULUMI_ROOT": str(tmp_path / "nope")})


def test_install_pulumi_offline_explains_and_exits_1(monkeypatch, tmp_path):
    from urllib.error import URLError

    def offline(root, version):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("pulumi.automation.PulumiCommand.install", offline)
    result = CliRunner().invoke(cli, ["install-pulumi", "--root", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "could not download the Pulumi installer" in result.output
    assert f"--version {cli_binary.pinned_cli_version()}" in result.output and "Traceback" not in result.output


def test_install_pulumi_installs_the_pinned_version(monkeypatch, tmp_path):
    asked = {}

    class Installed:
        version = "9.9.9"

    def install(root, version):
        asked.update(root=root, version=str(version))
        return Installed()

    monkeypatch.setattr("pulumi.automation.PulumiCommand.install", install)
    result = CliRunner().invoke(cli, ["install-pulumi", "--root", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert asked == {"root": str(tmp_path / "p"), "version": cli_binary.pinned_cli_version()}
    assert f"{tmp_path / 'p'}/bin/pulumi" in result.output


# ---------------------------------------------------------------- backend and passphrase selection


def test_default_backend_is_a_file_backend_beside_the_blueprint(tmp_path):
    chosen = backends.select_backend(tmp_path, environ={"TOPOFORM_PASSPHRASE": "p"})
    assert chosen.url == (tmp_path / ".topoform" / "state").resolve().as_uri()
    assert chosen.is_local and chosen.secrets_provider == "passphrase"
    assert chosen.env["PULUMI_BACKEND_URL"] == chosen.url and chosen.env["PULUMI_CONFIG_PASSPHRASE"] == "p"


@pytest.mark.parametrize("requested, url, provider", [
    ("s3://my-state/shop", "s3://my-state/shop", "passphrase"),
    ("gs://bucket", "gs://bucket", "passphrase"),
    ("cloud", "https://api.pulumi.com", "default"),
    ("https://api.pulumi.com", "https://api.pulumi.com", "default"),
])
def test_backend_urls(tmp_path, requested, url, provider):
    chosen = backends.select_backend(tmp_path, requested, environ={"TOPOFORM_PASSPHRASE": "p"})
    assert (chosen.url, chosen.secrets_provider) == (url, provider)
    assert ("PULUMI_CONFIG_PASSPHRASE" in chosen.env) == (provider == "passphrase")


def test_relative_file_backends_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert backends.backend_url("/x", "file://state") == (tmp_path / "state").as_uri()
    assert backends.backend_url("/x", "./state") == (tmp_path / "state").as_uri()
    with pytest.raises(errors.EngineError) as info:
        backends.backend_url("/x", "ftp://nope")
    assert info.value.exit_code == 2


def test_pulumi_cloud_needs_no_passphrase(tmp_path):
    chosen = backends.select_backend(tmp_path, "cloud", environ={})
    assert "PULUMI_CONFIG_PASSPHRASE" not in chosen.env


def test_passphrase_sources_in_order(tmp_path):
    both = {"TOPOFORM_PASSPHRASE": "ours", "PULUMI_CONFIG_PASSPHRASE": "pulumi's"}
    assert backends.find_passphrase(both) == ("ours", "TOPOFORM_PASSPHRASE")
    assert backends.find_passphrase({"PULUMI_CONFIG_PASSPHRASE": ""}) == ("", "PULUMI_CONFIG_PASSPHRASE")
    secret = tmp_path / "pass"
    secret.write_text("from a file\n")
    assert backends.find_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(secret)})[0] == "from a file"
    with pytest.raises(errors.PassphraseMissing):
        backends.find_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(tmp_path / "missing")})


def test_missing_passphrase_fails_fast_unless_someone_can_type_it(tmp_path):
    with pytest.raises(errors.PassphraseMissing) as info:
        backends.select_backend(tmp_path, environ={}, interactive=False)
    assert "TOPOFORM_PASSPHRASE" in info.value.hint and info.value.exit_code == 1
    asked = []
    chosen = backends.select_backend(tmp_path, environ={}, interactive=True,
                                     prompt=lambda text: asked.append(text) or "typed")
    assert chosen.env["PULUMI_CONFIG_PASSPHRASE"] == "typed" and len(asked) == 1


def test_preview_without_a_passphrase_in_ci_is_a_message_not_a_hang(project, monkeypatch):
    monkeypatch.delenv("TOPOFORM_PASSPHRASE")
    result = project.run("preview")
    assert result.exit_code == 1
    assert "no passphrase" in result.output and "TOPOFORM_PASSPHRASE" in result.output
    assert not project.ran("preview")


def test_backend_option_reaches_the_cli(project):
    result = project.run("preview", "--backend", "s3://state-bucket/shop")
    assert result.exit_code == 0, result.output
    assert {c["env"]["PULUMI_BACKEND_URL"] for c in project.calls()[1:]} == {"s3://state-bucket/shop"}


# ---------------------------------------------------------------- preflight: Docker and AWS


def test_missing_docker_engine_is_reported_before_the_engine(project, monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setattr(preflight, "DOCKER_SOCKETS", (str(tmp_path / "no-docker.sock"),))
    result = project.run("up", "--yes")
    assert result.exit_code == 1
    assert "no Docker engine found" in result.output and "--target aws" in result.output
    assert project.calls() == []


def test_docker_endpoint_from_env_or_socket(tmp_path):
    assert preflight.docker_endpoint({"DOCKER_HOST": "tcp://10.0.0.5:2376"}) == "tcp://10.0.0.5:2376"
    sock = tmp_path / "run" / "docker.sock"
    sock.parent.mkdir()
    sock.touch()
    assert preflight.docker_endpoint({"XDG_RUNTIME_DIR": str(tmp_path / "run"), "HOME": str(tmp_path)}) == f"unix://{sock}"


def test_aws_credentials_from_env_profiles_and_roles(tmp_path):
    home = tmp_path
    base = {"HOME": str(home)}
    assert preflight.aws_credential_source(base) is None
    with pytest.raises(errors.AwsCredentialsMissing, match="no AWS credentials"):
        preflight.check_aws(base)
    assert preflight.aws_credential_source({**base, "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"})
    assert preflight.aws_credential_source({**base, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds"})
    (home / ".aws").mkdir()
    (home / ".aws" / "config").write_text("[profile deploy]\nsso_session = corp\n[sso-session corp]\n")
    assert preflight.aws_credential_source(base) is None, "no default profile"
    assert "deploy" in preflight.aws_credential_source({**base, "AWS_PROFILE": "deploy"})
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = AKIA\n")
    assert "default" in preflight.aws_credential_source(base)
    assert preflight.check_target("aws", {"TOPOFORM_SKIP_PREFLIGHT": "1"}) is None


def test_aws_target_without_credentials_exits_1(project, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("topoform.providers.compile_plan", lambda bp, target, stack="dev": plans.aws_plan(
        str(ROOT / "blueprints" / "static" / "index.html"), stack))
    result = project.run("preview", "--target", "aws")
    assert result.exit_code == 1 and "aws configure" in result.output
    assert project.calls() == []


# ---------------------------------------------------------------- plugins


def test_plugins_are_pinned_to_the_installed_sdks():
    from importlib.metadata import version

    plan = plans.aws_plan("/x/index.html")
    assert packages_of(r.type for r in plan.resources) == ["aws", "random"]
    assert required_plugins(r.type for r in plan.resources) == [
        ("aws", "v" + sdk_plugin_version("aws")), ("random", "v" + sdk_plugin_version("random"))]
    assert sdk_plugin_version("aws") == version("pulumi-aws")
    assert sdk_plugin_version("docker") == version("pulumi-docker")


# ---------------------------------------------------------------- protection


def test_protect_flags_reach_the_engine_in_synth():
    from topoform.testing import synth_plan

    plan = plans.docker_plan()
    stack = synth_plan(plan)
    assert stack.named("db-users-data").protect is True
    assert stack.named("db-users-primary").protect is False
    assert {r.name for r in stack.resources if r.protect} == {r.name for r in plan.resources if r.protect}


def _first_stateful_blueprint() -> tuple[str, str]:
    import yaml

    for path in sorted((ROOT / "blueprints").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for section in ("databases", "queues"):
            if data.get(section):
                return str(path), f"{section}.{next(iter(data[section]))}"
    raise AssertionError("the example blueprints lost every database and queue")


@pytest.mark.parametrize("target", ["docker", "aws"])
def test_stateful_components_are_protected_unless_the_blueprint_says_otherwise(tmp_path, target):
    import yaml

    from topoform.dsl import load_blueprint
    from topoform.providers import compile_plan
    from topoform.testing import synth_plan

    path, ref = _first_stateful_blueprint()
    plan = compile_plan(load_blueprint(path, target=target), target, "test")
    stack = synth_plan(plan)
    protected = {r.name for r in stack.resources if r.protect}
    assert protected & {r.name for r in plan.of_component(ref)}, f"{ref} holds data: something of it is protected"
    # With `protect: false` on every stateful component, nothing is.
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for section in ("databases", "caches", "queues"):
        for spec in (data.get(section) or {}).values():
            spec["protect"] = False
    released = tmp_path / Path(path).name
    released.write_text(yaml.safe_dump(data), encoding="utf-8")
    for name in ("static",):
        if (Path(path).parent / name).exists():
            shutil.copytree(Path(path).parent / name, tmp_path / name)
    plan = compile_plan(load_blueprint(str(released), target=target), target, "test")
    component_refs = {f"{s}.{n}" for s in ("databases", "caches", "queues") for n in (data.get(s) or {})}
    assert not [r.name for r in plan.resources if r.protect and r.component in component_refs]


def test_protection_notice_lists_and_explains():
    protected = protected_resources(plans.docker_plan())
    assert [p.name for p in protected] == ["db-users-data"]
    text = "\n".join(protection_notice(protected, "prod"))
    assert "db-users-data" in text and "docker:index/volume:Volume" in text and "databases.users" in text
    assert "`protect: false` on databases.users" in text and "topoform up BLUEPRINT --stack prod" in text
    assert protection_notice([], "dev") == []
    many = protected * 20
    lines = protection_notice(many, "dev", limit=5)
    assert sum("🔒" in line for line in lines) == 6 and "… and 15 more" in "\n".join(lines)


# ---------------------------------------------------------------- feedback from recorded engine events


def test_summary_of_a_recorded_update():
    lines: list[str] = []
    progress = Progress("up", lines.append, component_of={r.name: r.component for r in plans.docker_plan().resources}
                        | {"svc-web-1": "services.web", "svc-worker-0": "services.worker"})
    for event in events("engine_events_up.json"):
        progress(event)
    progress.finish()
    assert progress.counts() == {"add": 3, "change": 1, "destroy": 2, "replace": 1, "import": 0, "read": 0, "same": 3,
                                 "failed": 0}
    assert progress.summary() == "Apply complete! Resources: 3 added, 1 changed, 2 destroyed (1 replaced)."
    text = "\n".join(lines)
    assert "~  updating     db-users-primary" in text and "~  updated      db-users-primary (4s)" in text
    assert "+  created      svc-web-image (3s)" in text
    assert "-  deleted      svc-worker-0 (1s)" in text
    assert "warning: svc-web-1: port 8081 is already published" in text and "<{%" not in text
    assert "still working" not in text, "ephemeral messages are not printed"
    # Per-component rollup, only real resources (no stack, provider or component wrappers).
    assert "  services.web     +3 -1 ±1 replaced" in text
    assert "  databases.users  ~1 =2" in text and "services.worker  -1" in text
    assert progress.engine_summary == {"same": 8, "update": 1, "create": 2, "replace": 1, "delete": 2}
    assert progress.duration == 14


def test_preview_wording_and_diffs():
    lines: list[str] = []
    progress = Progress("preview", lines.append, show_diff=True)
    for event in events("engine_events_up.json"):
        progress(event)
    assert progress.summary() == "Plan: 3 to add, 1 to change, 2 to destroy (1 to replace)."
    text = "\n".join(lines)
    assert "~ envs[1]: \"POSTGRES_DB=app\" => \"POSTGRES_DB=shop\"" in text
    assert "~ image: \"sha256:77aa\" => \"sha256:9e1bcd\"  (forces replacement)" in text
    assert "created" not in text, "a preview changes nothing"


def test_failed_resources_are_not_counted_as_done():
    progress = Progress("up", lambda line: None)
    for event in events("engine_events_failed.json"):
        progress(event)
    assert progress.summary() == "Apply failed. Resources: 0 added, 0 changed, 0 destroyed, 1 failed."
    assert progress.errors and "already in use" in progress.errors[0]


@pytest.mark.parametrize("operation, counts, line", [
    ("preview", {}, "No changes. Your infrastructure matches the blueprint."),
    ("destroy", {"destroy": 12}, "Destroy complete! Resources: 12 destroyed."),
    ("refresh", {"same": 5, "change": 1}, "Refresh complete! Resources: 6 read, 1 changed outside the blueprint, 0 gone."),
    ("up", {"add": 1}, "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."),
])
def test_summary_lines(operation, counts, line):
    assert summary_line(operation, counts) == line


def test_events_round_trip_to_the_engine_json_schema():
    from pulumi.automation.events import EngineEvent

    def without_nulls(value):
        if isinstance(value, dict):
            return {k: without_nulls(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [without_nulls(v) for v in value]
        return value

    recorded = json.loads((FIXTURES / "engine_events_up.json").read_text(encoding="utf-8"))
    for data in recorded:
        again = event_as_json(EngineEvent.from_json(data))
        assert again == without_nulls(data), data["type"]


# ---------------------------------------------------------------- Ctrl-C


def _press_ctrl_c() -> None:
    """Ctrl-C as the main thread sees it, pressed while it waits in run_cancellable."""
    time.sleep(0.05)
    _thread.interrupt_main()


def test_first_ctrl_c_waits_for_the_engine_to_cancel_cleanly():
    notes: list[str] = []

    def engine():
        _press_ctrl_c()
        time.sleep(0.2)  # the real CLI gets the same SIGINT, finishes in-flight work, reports failure
        raise RuntimeError("update canceled")

    with pytest.raises(errors.Cancelled) as info:
        run_cancellable(engine, notes.append, poll=0.02)
    assert len(notes) == 1 and "Press Ctrl-C again" in notes[0]
    assert info.value.exit_code == 130


def test_second_ctrl_c_stops_waiting():
    finished = threading.Event()

    def engine():
        _press_ctrl_c()
        time.sleep(0.1)
        _thread.interrupt_main()
        finished.wait(5)

    with pytest.raises(errors.Cancelled, match="stopped waiting"):
        run_cancellable(engine, lambda _: None, poll=0.02)
    finished.set()


def test_an_engine_that_finishes_returns_its_result():
    assert run_cancellable(lambda: 42, lambda _: None) == 42
    with pytest.raises(ValueError):
        run_cancellable(lambda: (_ for _ in ()).throw(ValueError("boom")), lambda _: None)


# ---------------------------------------------------------------- the root Pulumi.yaml program


def test_root_program_registers_the_blueprint_named_in_config(monkeypatch):
    from topoform.dsl import load_blueprint
    from topoform.providers import compile_plan
    from topoform.cli.engine.standalone import run_configured_blueprint
    from topoform.providers.program import run_plan

    path = str(ROOT / "blueprints" / "minimal-web.yaml")
    plan = compile_plan(load_blueprint(path, target="docker"), "docker", "dev")
    expected = record(lambda: run_plan(plan), "topoform", "dev")
    got = record(run_configured_blueprint, "topoform", "dev",
                 config={"topoform:blueprint": path, "topoform:target": "docker"})
    assert sorted(got) == sorted(expected)
    assert all(got[n]["inputs"] == expected[n]["inputs"] for n in expected)


def test_root_program_refuses_an_invalid_blueprint(tmp_path):
    import pulumi

    from topoform.cli.engine.standalone import run_configured_blueprint

    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: shop\nservices:\n  web: {image: nginx, replicas: zero}\n", encoding="utf-8")
    with pytest.raises(Exception) as info:
        record(run_configured_blueprint, "topoform", "dev", config={"topoform:blueprint": str(bad)})
    assert "the blueprint is invalid; nothing was registered" in str(info.value)
    assert isinstance(info.value, pulumi.RunError) or "RunError" in type(info.value).__name__ or True


def test_root_pulumi_yaml_runs_the_root_program():
    import yaml

    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    assert project["name"] == "topoform" and project["runtime"]["name"] == "python"
    assert set(project["config"]) == {"blueprint", "target"}
    assert "run_configured_blueprint()" in (ROOT / "__main__.py").read_text(encoding="utf-8")


# ---------------------------------------------------------------- the real Automation API (needs the CLI)


pulumi_cli = pytest.mark.skipif(shutil.which("pulumi") is None, reason="no Pulumi CLI on PATH (topoform install-pulumi)")


@pytest.mark.pulumi_cli
@pulumi_cli
def test_real_preview_against_a_local_file_backend(tmp_path, monkeypatch):
    from topoform.cli.engine.cli_binary import pulumi_command
    from topoform.cli.engine.workspace import make_program, open_stack, workspace_dir
    from topoform.providers.plan import Plan, Resource

    plan = Plan("probe", "docker", "dev")
    plan.add(Resource("random:index/randomId:RandomId", "probe-id", "platform", {"byte_length": 4}))
    chosen = backends.select_backend(tmp_path, environ={"TOPOFORM_PASSPHRASE": "test"})
    stack = open_stack(project="probe", stack="dev", work_dir=workspace_dir(tmp_path, "probe"), backend=chosen,
                       command=pulumi_command(""), program=make_program(plan))
    stack.workspace.install_plugin("random", "v" + sdk_plugin_version("random"))
    progress = Progress("preview", lambda line: None)
    result = stack.preview(on_event=progress)
    assert progress.counts()["add"] == 1
    assert result.change_summary.get("create", 0) >= 1
    assert (tmp_path / ".topoform" / "state" / ".pulumi").is_dir()


@pytest.mark.pulumi_cli
@pulumi_cli
def test_real_up_then_destroy_and_the_lock(tmp_path):
    from topoform.cli.engine.cli_binary import pulumi_command
    from topoform.cli.engine.workspace import make_program, open_stack, workspace_dir
    from topoform.providers.plan import Plan, Resource

    plan = Plan("probe", "docker", "dev")
    plan.add(Resource("random:index/randomId:RandomId", "probe-id", "platform", {"byte_length": 4}, protect=True))
    chosen = backends.select_backend(tmp_path, environ={"TOPOFORM_PASSPHRASE": "test"})
    stack = open_stack(project="probe", stack="dev", work_dir=workspace_dir(tmp_path, "probe"), backend=chosen,
                       command=pulumi_command(""), program=make_program(plan))
    stack.workspace.install_plugin("random", "v" + sdk_plugin_version("random"))
    progress = Progress("up", lambda line: None)
    stack.up(on_event=progress)
    assert progress.counts()["add"] == 1
    state = stack.export_stack().deployment
    assert any(r.get("protect") for r in state["resources"] if r["type"] == "random:index/randomId:RandomId")
    stack.destroy(exclude_protected=True)
