"""A generated matrix of blueprint variants for the AWS rules to run over.

Every value of every dimension below appears, and every pair of values of two
dimensions (but the INDEPENDENT ones) appears together in at least one variant (a greedy pairwise
cover), so a defect that needs two settings at once is reached without the
full product (which would be tens of thousands of Plans).
"""

from __future__ import annotations

import itertools
from pathlib import Path

from topoform.dsl import validate_text

ROOT = Path(__file__).resolve().parents[2]

# Engine majors RDS and ElastiCache offer (11 and 12 are past standard
# support); the rules, not this list, decide which of them AWS still accepts.
DATABASES = [("postgres", v) for v in ("11", "12", "13", "14", "15", "16", "17", "18")] + \
            [("mysql", v) for v in ("5.7", "8.0", "8.4")] + \
            [("mariadb", v) for v in ("10.5", "10.6", "10.11", "11.4")]
CACHES = [("redis", "4.0"), ("redis", "5.0"), ("redis", "6.2"), ("redis", "7.1"),
          ("valkey", "7.2"), ("valkey", "8.0"), ("memcached", "1.6.22")]

DIMENSIONS: dict[str, list] = {
    "database": DATABASES,
    "replicas": [0, 1, 3],
    "sharding": [False, True],
    "multi_az": [False, True],
    "dr": ["none", "backup", "cold", "hot"],
    "tls": [True, False],
    "cdn": ["pull", "push"],
    "cache": [None] + CACHES,
    "layer4": ["tcp", "udp", "tls"],
    "fifo": [False, True],
}


# Dimensions that build separate resources, so their pairs need no variant of
# their own (13 database versions × 8 caches alone would need 104 variants).
INDEPENDENT = [{"database", "cache"}]


def pairwise(dimensions: dict[str, list]) -> list[dict]:
    """Rows covering every pair of values of every two dimensions (greedy, deterministic)."""
    names = list(dimensions)

    def pair(x: str, i: int, y: str, j: int) -> tuple:
        return ((x, i), (y, j)) if names.index(x) < names.index(y) else ((y, j), (x, i))

    uncovered = {pair(a, i, b, j) for a, b in itertools.combinations(names, 2) if {a, b} not in INDEPENDENT
                 for i in range(len(dimensions[a])) for j in range(len(dimensions[b]))}
    rows: list[dict] = []
    while uncovered:
        # Start from an uncovered pair so every row covers at least one.
        (a, i), (b, j) = min(uncovered)
        row = {a: i, b: j}
        for name in names:
            if name not in row:
                row[name] = max(range(len(dimensions[name])), key=lambda k: sum(
                    pair(name, k, other, row[other]) in uncovered for other in row))
        uncovered -= {pair(x, row[x], y, row[y]) for x, y in itertools.combinations(names, 2)}
        rows.append({name: dimensions[name][row[name]] for name in names})
    return rows


def blueprint_text(n: int, v: dict) -> str:
    engine, version = v["database"]
    replication = (f"replication: {{mode: primary-replica, replicas: {v['replicas']}}}" if v["replicas"] else "")
    sharding = "sharding: {shards: 2, key: id}" if v["sharding"] else ""
    listeners = ("[{port: 80, redirect_to_https: true}, {port: 443, tls: true}]" if v["tls"] else "[{port: 80}]")
    cdn = ("{mode: pull, origin: load_balancers.edge, ttl: {default: 1h}}" if v["cdn"] == "pull"
           else "{mode: push, content: ./static}")
    cache_env = cache = ""
    if v["cache"]:
        cache_engine, cache_version = v["cache"]
        eviction = "" if cache_engine == "memcached" else ", eviction: allkeys-lru"  # a parameter group
        cache = (f"caches:\n  hot: {{engine: {cache_engine}, version: \"{cache_version}\", replicas: "
                 f"{min(v['replicas'], 1)}{eviction}}}\n")
        cache_env = ', CACHE_URL: "${caches.hot.url}"'
    # NLB health checks are TCP: behind a UDP listener they need a TCP port of the
    # service (the compiler refuses the UDP-only form; tests/test_aws_rules.py checks it).
    l4_check = "\n    health_check: {port: 5001}" if v["layer4"] == "udp" else ""
    dr = (f"disaster_recovery: {{strategy: {v['dr']}, region: us-west-2}}\n" if v["dr"] != "none" else "")
    return f"""blueprint: m{n}
targets: [aws]
aws: {{region: us-east-1, availability_zones: 2}}
services:
  web: {{image: nginx:1.27-alpine, port: 80, env: {{DATABASE_URL: "${{databases.main.url}}", QUEUE_URL: "${{queues.jobs.url}}"{cache_env}}}}}
  l4: {{image: haproxy:2.9, port: 5000}}
  worker: {{image: python:3.12-slim, consumes: [queues.jobs]}}
load_balancers:
  edge:
    listeners: {listeners}
    routes: [{{path: /*, target: services.web}}]
  l4:
    layer: 4
    listeners: [{{port: 5000, protocol: {v['layer4']}}}]
    targets: [{{target: services.l4}}]{l4_check}
cdns:
  site: {cdn}
dns:
  zone: m{n}.example.com
  delegated: true  # the second stage: the first leaves CloudFront out (providers/aws/certificates.py)
  records:
    - {{name: www, endpoints: [{{target: cdns.site}}]}}
    - {{name: app, endpoints: [{{target: load_balancers.edge}}]}}
databases:
  main: {{engine: {engine}, version: "{version}", multi_az: {str(v['multi_az']).lower()}, {replication}{', ' if replication and sharding else ''}{sharding}}}
{cache}queues:
  jobs: {{fifo: {str(v['fifo']).lower()}, max_receives: 3, consumers: [services.worker]}}
{dr}"""


# A balancer only a pull CDN fronts (tests add a zone, or a DR site, to it).
CLOUDFRONT_PULL = """blueprint: cfonly
targets: [aws]
aws: {region: us-east-1}
services:
  web: {image: nginx:1.27-alpine, port: 80}
load_balancers:
  edge: {listeners: [{port: 80}], routes: [{path: /*, target: services.web}]}
cdns:
  site: {mode: pull, origin: load_balancers.edge}
"""

# Designs the pairwise rows do not reach: Aurora DSQL (postgres multi-primary).
EXTRA = {
    "dsql": """blueprint: dsql
targets: [aws]
aws: {region: us-east-1}
services:
  api: {image: python:3.12-slim, port: 8080, env: {DATABASE_URL: "${databases.ledger.url}"}}
load_balancers:
  edge: {listeners: [{port: 80}], routes: [{path: /*, target: services.api}]}
databases:
  ledger: {engine: postgres, replication: {mode: multi-primary, replicas: 1}}
""",
}


# Drills (providers/aws/drills.py): every fault on the hot-DR example (its second, delegated stage, so the
# balanced service is built), and a chosen few without stop conditions.
EXTRA["drills-hot-dr"] = ((ROOT / "blueprints/two-region-hot-dr.yaml").read_text(encoding="utf-8")
                          .replace("  zone: shop.example.com\n", "  zone: shop.example.com\n  delegated: true\n")
                          + "\ndrills: true\n")
EXTRA["drills-chosen"] = ((ROOT / "blueprints/three-tier.yaml").read_text(encoding="utf-8")
                          + "\ndrills: {components: [services.api, databases.catalog], duration: 90s, stop_on_slos: false}\n")


def variants() -> dict[str, str]:
    """name → blueprint text of every matrix variant."""
    texts = {f"m{n:02d}-" + "-".join(_label(k, val) for k, val in row.items()): blueprint_text(n, row)
             for n, row in enumerate(pairwise(DIMENSIONS))}
    return {**texts, **EXTRA}


def _label(key: str, value) -> str:
    if isinstance(value, tuple):
        return "".join(value)
    if isinstance(value, bool):
        return key if value else f"no{key}"
    return f"{key}{value}" if isinstance(value, int) or value is None else str(value)


def load(text: str, name: str):
    """The validated Blueprint of a variant; content paths resolve against blueprints/."""
    result = validate_text(text, file=f"{name}.yaml", base_dir=str(ROOT / "blueprints"), target="aws")
    if not result.ok:
        raise ValueError(f"matrix variant {name} is invalid:\n" + "\n".join(d.render() for d in result.diagnostics))
    return result.blueprint
