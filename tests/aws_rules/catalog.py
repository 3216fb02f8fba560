"""What AWS accepts, read from libraries that track it rather than copied here.

- botocore's service models (the AWS API definitions every SDK is generated
  from): enums and numeric limits, e.g. `elbv2` ProtocolEnum, `route53` TTL.
- cfn-lint's schema extensions (updated from the AWS APIs): the RDS and
  ElastiCache engine versions AWS offers, and Fargate's cpu/memory pairs.
  Read as data files: they are JSON Schema fragments, evaluated with
  `jsonschema` where they are schemas.

The only hand-kept tables are the ones no library carries, each with its page.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema


@functools.lru_cache(maxsize=None)
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def enum(service: str, shape: str) -> frozenset[str]:
    """The values botocore's model of `service` allows for `shape`."""
    return frozenset(_model(service).shape_for(shape).enum)


def limits(service: str, shape: str) -> tuple[int, int]:
    """(min, max) botocore's model of `service` gives `shape`."""
    meta = _model(service).shape_for(shape).metadata
    return meta["min"], meta["max"]


def _cfn_lint_extension(resource: str, name: str) -> Any:
    # find_spec locates the package without importing cfn-lint (and its
    # dependencies): only its data files are read.
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("cfn-lint is not installed: `pip install cfn-lint` (the test extra)")
    root = Path(next(iter(spec.submodule_search_locations)))
    return json.loads((root / "data" / "schemas" / "extensions" / resource / f"{name}.json").read_text())


def _engine_table(resource: str, name: str, key: str) -> dict[str, frozenset[str]]:
    """Engine → versions, from a cfn-lint `if Engine const … then/if EngineVersion enum` list."""
    table: dict[str, frozenset[str]] = {}
    for branch in _cfn_lint_extension(resource, name)["allOf"]:
        engine = branch["if"]["properties"]["Engine"].get("const")
        if engine:
            holder = branch[key]["properties"]["EngineVersion"]
            table[engine] = frozenset(holder["enum"])
    return table


@functools.lru_cache(maxsize=None)
def rds_versions() -> dict[str, frozenset[str]]:
    """Engine versions RDS offers (DescribeDBEngineVersions, as cfn-lint records it)."""
    return _engine_table("aws_rds_dbinstance", "engine_version", "then")


@functools.lru_cache(maxsize=None)
def rds_deprecated_versions() -> dict[str, frozenset[str]]:
    """Versions RDS has deprecated (no new instances), as cfn-lint records them."""
    return _engine_table("aws_rds_dbinstance", "engine_version_deprecated", "if")


@functools.lru_cache(maxsize=None)
def elasticache_versions() -> dict[str, frozenset[str]]:
    return _engine_table("aws_elasticache_cachecluster", "engine_version", "then")


def offered(version: str, versions: frozenset[str]) -> bool:
    """A version AWS accepts: listed, or a major/minor prefix of a listed one
    (RDS and ElastiCache take `8.0` and pick the default minor)."""
    return version in versions or any(v.startswith(version + ".") for v in versions)


@functools.lru_cache(maxsize=None)
def _fargate_sizes() -> list[tuple[str, dict[str, Any]]]:
    schema = _cfn_lint_extension("aws_ecs_taskdefinition", "fargate_cpu_memory")
    return [(next(iter(size["properties"]["Cpu"]["then"]["enum"])), size["properties"]["Memory"]["then"])
            for size in schema["then"]["anyOf"]]


def fargate_pair_valid(cpu: str, memory: str) -> bool:
    """Whether Fargate runs a task of `cpu` units and `memory` MiB (cfn-lint's table)."""
    return any(cpu == size and jsonschema.Draft7Validator(mem).is_valid(int(memory))
               for size, mem in _fargate_sizes())


# ---------------------------------------------------------------- tables no library carries

# DB parameter group families. AWS lists them per engine version in
# "Working with parameter groups" (aws rds describe-db-engine-versions
# --query DBParameterGroupFamily): PostgreSQL 10+ by major, 9.x by major.minor;
# MySQL and MariaDB by major.minor.
RDS_FAMILY_DOC = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/parameter-groups-overview.html"


RDS_FAMILIES = frozenset(
    [f"postgres9.{m}" for m in (3, 4, 5, 6)] + [f"postgres{m}" for m in range(10, 19)]
    + [f"mysql{v}" for v in ("5.5", "5.6", "5.7", "8.0", "8.4")]
    + [f"mariadb{v}" for v in ("10.0", "10.1", "10.2", "10.3", "10.4", "10.5", "10.6", "10.11", "11.4", "11.8")])


def rds_family(engine: str, version: str) -> str:
    parts = version.split(".")
    if engine == "postgres" and int(parts[0]) >= 10:
        return f"postgres{parts[0]}"
    return f"{engine}{'.'.join(parts[:2])}"


# ElastiCache parameter group families: the valid CacheParameterGroupFamily
# values CreateCacheParameterGroup documents (botocore models it as a string).
ELASTICACHE_FAMILY_DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticache-parametergroup.html"
# valkey9: cfn-lint lists Valkey 9.0 as offered, and Valkey families follow the major.
ELASTICACHE_FAMILIES = frozenset({"valkey9", "valkey8", "valkey7", "memcached1.4", "memcached1.5", "memcached1.6", "redis2.6",
                                  "redis2.8", "redis3.2", "redis4.0", "redis5.0", "redis6.x", "redis7"})


def elasticache_family(engine: str, version: str) -> str:
    parts = version.split(".")
    if engine == "redis":
        return {"6": "redis6.x", "7": "redis7"}.get(parts[0], f"redis{parts[0]}.{parts[1] if len(parts) > 1 else 0}")
    if engine == "valkey":
        return f"valkey{parts[0]}"
    return f"memcached{'.'.join(parts[:2])}"


# Predefined ELB security policies ("Security policies for your Application Load
# Balancer" / "… Network Load Balancer"); DescribeSSLPolicies lists the same names.
ELB_SSL_POLICIES_DOC = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html"
ELB_SSL_POLICIES = frozenset({
    "ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
    "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
    "ELBSecurityPolicy-TLS13-1-1-2021-06", "ELBSecurityPolicy-TLS13-1-0-2021-06",
    "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
    "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", "ELBSecurityPolicy-2016-08",
    "ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
    "ELBSecurityPolicy-FS-1-2-Res-2020-10", "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    "ELBSecurityPolicy-FS-1-2-2019-08", "ELBSecurityPolicy-FS-1-1-2019-08",
    "ELBSecurityPolicy-FS-2018-06", "ELBSecurityPolicy-TLS-1-1-2017-01",
    "ELBSecurityPolicy-2015-05", "ELBSecurityPolicy-TLS-1-0-2015-04",
})


@functools.lru_cache(maxsize=None)
def sdk_arguments(token: str) -> frozenset[str]:
    """The arguments the pulumi_aws class of `token` takes (`aws:rds/instance:Instance`).

    Read from the SDK module's source (`pulumi_aws/rds/instance.py`, its
    `_internal_init` signature) rather than imported: importing every
    pulumi_aws module a Plan uses costs seconds. A resource of another provider
    (`random:index/randomPassword:RandomPassword`) takes no pulumi_aws argument.
    """
    package, module_path, _ = token.split(":")
    if package != "aws":
        return frozenset()
    module, file = module_path.split("/")
    spec = importlib.util.find_spec("pulumi_aws")
    root = Path(next(iter(spec.submodule_search_locations)))
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", file).lower()
    source = (root / module / f"{snake}.py").read_text()
    start = source.index("def _internal_init(")
    signature = source[start:source.index("):", start)]
    return frozenset(re.findall(r"^\s+(\w+):", signature, re.MULTILINE))
