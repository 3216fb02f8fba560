"""`topoform up` on the aws target configures the provider's region.

pulumi-aws refuses to configure its default provider without a region, and
a per-resource `region=` does not count: the deploy writes the blueprint's
`aws.region` to stack config (`aws:region`) before any engine operation.
Driven against the stand-in `pulumi` of tests/test_deploy.py.
"""

from __future__ import annotations

import pytest

import topoform.providers as providers
from test_deploy import Project
from topoform.cli.engine import errors, preflight
from topoform.cli.engine.workspace import target_config

REAL_COMPILE = providers.compile_plan
BLUEPRINT = """\
blueprint: shop
aws: {region: eu-west-1}
services:
  web: {image: "nginx:1.27-alpine", port: 80}
"""
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                   "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                   "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                   "AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.fixture
def aws_project(tmp_path, monkeypatch) -> Project:
    project = Project(tmp_path, monkeypatch)
    project.blueprint.write_text(BLUEPRINT, encoding="utf-8")
    monkeypatch.setattr(providers, "compile_plan", REAL_COMPILE)  # the real aws Plan, with its region
    for name in CREDENTIAL_VARS:
        monkeypatch.delenv(name, raising=False)
    # Only access keys: no profile, no AWS_REGION (the case that failed).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    return project


def config_calls(project: Project) -> list[list[str]]:
    return [c for c in project.commands() if c[:2] == ["config", "set-all"]]


def first_index(project: Project, verb: str) -> int:
    return next(i for i, c in enumerate(project.commands()) if c and c[0] == verb)


def test_preview_runs_with_the_blueprint_region_in_stack_config(aws_project):
    result = aws_project.run("preview", "--target", "aws")
    assert result.exit_code == 0, result.output
    commands = aws_project.commands()
    region_set = next(i for i, c in enumerate(commands) if c[:2] == ["config", "set-all"] and "aws:region=eu-west-1" in c)
    assert region_set < first_index(aws_project, "preview"), "the provider is configured before the engine runs"


def test_up_records_the_region_with_the_blueprint(aws_project):
    result = aws_project.run("up", "--target", "aws", "--yes")
    assert result.exit_code == 0, result.output
    recorded = [c for c in config_calls(aws_project) if any(a.startswith("topoform:blueprint=") for a in c)]
    assert recorded and "aws:region=eu-west-1" in recorded[0]
    assert max(i for i, c in enumerate(aws_project.commands()) if c[:2] == ["config", "set-all"]) < first_index(aws_project, "up")


def test_docker_stacks_get_no_aws_config(tmp_path, monkeypatch):
    project = Project(tmp_path, monkeypatch)
    assert project.run("up", "--yes").exit_code == 0
    assert not any("aws:region" in a for c in config_calls(project) for a in c)


def test_target_config_reads_the_plan_region():
    from topoform.dsl import validate_text

    bp = validate_text(BLUEPRINT, file="shop.yaml", target="aws").blueprint
    assert target_config(REAL_COMPILE(bp, "aws")) == {"aws:region": "eu-west-1"}
    assert target_config(REAL_COMPILE(bp, "docker")) == {}


def test_preflight_names_what_is_missing():
    keys = {"HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"}
    assert "region eu-west-1" in preflight.check_aws(keys, "eu-west-1")
    with pytest.raises(errors.AwsCredentialsMissing) as caught:
        preflight.check_aws(keys, None)
    assert "no AWS region" in caught.value.message and "credentials" not in caught.value.message
    assert "aws.region" in caught.value.hint
    with pytest.raises(errors.AwsCredentialsMissing) as caught:
        preflight.check_aws({"HOME": "/nonexistent"}, "eu-west-1")
    assert "no AWS credentials" in caught.value.message and "region" not in caught.value.message
    assert "us-west-2" in preflight.check_aws({**keys, "AWS_REGION": "us-west-2"}, None)
