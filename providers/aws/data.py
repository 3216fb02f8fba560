"""AWS data stores: RDS, Aurora DSQL, ElastiCache, SQS (see compiler.py for the contract).

Every store is private and encrypted: it lives in the private subnets, its
security group admits only the services that reference it, storage is
encrypted at rest and connections in transit (RDS parameter groups refuse
plain connections; ElastiCache and SQS speak TLS). No password is in the
Plan: RDS manages each master password in Secrets Manager
(`manage_master_user_password`), services receive it through ECS `secrets`
(`data_secrets()`), and URLs carry only the user name.

Names are a pure function of the blueprint (`db-users`, `db-users-replica-1`,
`db-orders-shard-0`, and `dr-db-users` for the DR site's copy, like
compiler.py's `dr-` names), so `data_attribute()` answers before the store is
compiled: services are compiled first and read our URLs.

The kinds live in databases.py, caches.py and queues.py; this module holds
what they share: sites, attributes, access and secrets. It uses from
compiler.py `self.network(site)`, `self.security_group(component, site)`,
`self.allow(source, target, port, site)` and the ECS task role
`svc-NAME-task-role`.
"""

from __future__ import annotations

from typing import Any

from topoform.dsl.models import Cache, Component, Database, Queue, Service
from topoform.providers.plan import ref

from .caches import CacheMixin
from .databases import DatabaseMixin
from .queues import QueueMixin, policy_document
from .store_access import StoreAccess, store_access
from .store_catalog import CACHE_PORT, ENGINE_PORT, MASTER_USERNAME, URL_SCHEME

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DSQL_DATABASE = "postgres"  # DSQL has one database; applications use schemas inside it
DSQL_USER = "admin"  # authenticated with an IAM token (dsql:DbConnectAdmin), never a password
DSQL_PORT = 5432
SQS_PORT = 443
PASSWORD_SOURCES = ("url", "reader_url", "host", "shard_urls")


def task_role_name(service_ref: str) -> str:
    """The ECS task role compiler.py creates per service (`services.worker` → `svc-worker-task-role`)."""
    return f"svc-{service_ref.partition('.')[2]}-task-role"


class DataMixin(DatabaseMixin, CacheMixin, QueueMixin):
    """compile_databases / compile_caches / compile_queues and their `${...}` attributes."""

    # ---------------------------------------------------------------- sites

    @staticmethod
    def site_copy(name: str, site: str) -> str:
        """The resource name of `name` on `site`: the DR site's copy is `dr-NAME` (as in compiler.py)."""
        return name if site == "primary" else f"dr-{name}"

    def hot_site(self) -> bool:
        """Whether the DR region runs a live copy (services, replicas, caches, queues)."""
        dr = self.bp.disaster_recovery
        return dr is not None and dr.strategy == "hot" and dr.region is not None

    # ---------------------------------------------------------------- attributes

    def data_attribute(self, component: Component, attr: str, site: str = "primary") -> str:
        """The Plan string for `${databases.x.url}` and friends; `site="dr"` reads the hot DR copy."""
        site = "dr" if site == "dr" and self.hot_site() else "primary"
        if isinstance(component, Database):
            values = self._database_values(component, site)
        elif isinstance(component, Cache):
            values = self._cache_values(component, site)
        elif isinstance(component, Queue):
            values = self._queue_values(component, site)
        else:
            raise ValueError(f"{component.ref} is not a data store")
        if attr not in values:
            raise ValueError(f"{component.ref} has no attribute {attr!r} on aws")
        return values[attr]

    def rds_url(self, db: Database, instance: str) -> str:
        tls = "?sslmode=require" if db.engine == "postgres" else ""
        return (f"{URL_SCHEME[db.engine]}://{MASTER_USERNAME}@{ref(instance, 'address')}:{ENGINE_PORT[db.engine]}"
                f"/{db.database_name}{tls}")

    @staticmethod
    def dsql_host(cluster: str, region: str) -> str:
        return f"{ref(cluster, 'identifier')}.dsql.{region}.on.aws"

    def _database_values(self, db: Database, site: str) -> dict[str, str]:
        if self.is_dsql(db):
            _, peer_region = self.dsql_regions(db)[:2]
            local = (self.prefix(db), self.bp.aws.region)
            remote = (self.dsql_peer(db), peer_region)
            if site == "dr":
                local, remote = remote, local
            url = "postgres://{user}@{host}:{port}/{db}?sslmode=require"
            return {
                "url": url.format(user=DSQL_USER, host=self.dsql_host(*local), port=DSQL_PORT, db=DSQL_DATABASE),
                # Both clusters take reads and writes: the other region's endpoint reads too.
                "reader_url": url.format(user=DSQL_USER, host=self.dsql_host(*remote), port=DSQL_PORT,
                                         db=DSQL_DATABASE),
                "host": self.dsql_host(*local),
                "port": str(DSQL_PORT),
                "name": DSQL_DATABASE,
            }
        primaries = [self.site_copy(p, site) for p in self.db_primaries(db)]
        first = primaries[0]
        # On the DR site the local cross-region replica answers (read-only until promoted).
        replicas = self.db_replicas(first, db.replica_count) if site == "primary" else []
        return {
            "url": self.rds_url(db, first),
            "host": ref(first, "address"),
            "port": str(ENGINE_PORT[db.engine]),
            "name": db.database_name,
            # RDS instances have no shared reader endpoint: readers get replica 1
            # (every replica's URL is a stack output for clients that spread reads).
            "reader_url": self.rds_url(db, replicas[0] if replicas else first),
            "shard_urls": ",".join(self.rds_url(db, p) for p in primaries),
        }

    def _cache_values(self, cache: Cache, site: str) -> dict[str, str]:
        name = self.site_copy(self.prefix(cache), site)
        port = CACHE_PORT[cache.engine]
        if cache.engine == "memcached":
            host = ref(name, "cluster_address")
            return {"url": f"memcached://{host}:{port}", "host": host, "port": str(port),
                    "name": ref(name, "cluster_id")}
        host = ref(name, "primary_endpoint_address")
        # rediss: transit encryption is always on.
        return {"url": f"rediss://{host}:{port}/0", "host": host, "port": str(port),
                "name": ref(name, "replication_group_id")}

    def _queue_values(self, queue: Queue, site: str) -> dict[str, str]:
        name = self.queue_names(queue, site)[0]
        return {"url": ref(name, "url"), "host": f"sqs.{self.site_region(site)}.amazonaws.com",
                "port": str(SQS_PORT), "name": ref(name, "name")}

    def export_store(self, component: Component, attrs: tuple[str, ...]) -> None:
        """Component outputs and stack outputs (`databases.users.url`) for the attributes it offers."""
        info = self.plan.components[component.ref]
        for attr in attrs:
            value = self.data_attribute(component, attr)
            info.outputs[attr] = value
            self.plan.outputs[f"{component.ref}.{attr}"] = value
        if isinstance(component, Database) and not self.is_dsql(component) and component.replica_count:
            self.plan.outputs[f"{component.ref}.replica_urls"] = [
                self.rds_url(component, r) for p in self.db_primaries(component)
                for r in self.db_replicas(p, component.replica_count)]

    # ---------------------------------------------------------------- access

    @property
    def store_access(self) -> StoreAccess:
        cached = getattr(self, "_store_access_cache", None)
        if cached is None:
            cached = self._store_access_cache = store_access(self.bp)
        return cached

    def admit_users(self, component: Component, port: int, site: str) -> str:
        """The store's security group on `site`, open on `port` to the services that reference it only."""
        group = self.security_group(component.ref, site)
        if site == "primary" or self.hot_site():
            for service in self.store_access.users(component.ref):
                self.allow(service, component.ref, port, site)
        return group

    def grant_task_role(self, name: str, service_ref: str, statements: list[dict[str, Any]]) -> None:
        """An inline policy on the service's ECS task role (IAM is global: one role serves both sites)."""
        role = task_role_name(service_ref)
        if role not in self.plan:
            raise self.unsupported(
                f"{service_ref} has no task role {role!r} to grant access to {self._component} (a compiler bug)",
                None)
        self.add(ROLE_POLICY, name, {"role": ref(role, "name"), "policy": policy_document(statements)})

    # ---------------------------------------------------------------- secrets

    def data_secrets(self, service: Service) -> list[dict[str, str]]:
        """ECS container `secrets` entries: the RDS password for each env var naming a database.

        `DATABASE_URL: ${databases.users.url}` gives `DATABASE_PASSWORD`, which ECS
        reads when the task starts from the RDS-managed secret (`valueFrom:
        <secret ARN>:password::`, a JSON key of the secret); the password never
        appears in the task definition, the Plan or the state. `shard_urls` gives
        one `…_PASSWORD_<i>` per shard. A replica shares its primary's password.
        """
        memo = self.__dict__.setdefault("_data_secrets_memo", {})
        key = service.ref
        if key in memo:
            return [dict(entry) for entry in memo[key]]  # asked once per site; copies keep callers apart
        entries: dict[str, str] = {}
        for use in self.store_access.uses_of(key):
            db = self.bp.component(use.store)
            if use.env is None or not isinstance(db, Database) or self.is_dsql(db):
                continue
            if use.attr not in PASSWORD_SOURCES:
                continue
            base = use.env
            for suffix in ("_URLS", "_URL", "_HOST"):
                if base.endswith(suffix) and len(base) > len(suffix):
                    base = base[: -len(suffix)]
                    break
            primaries = self.db_primaries(db)
            if use.attr == "shard_urls" and len(primaries) > 1:
                names = [(f"{base}_PASSWORD_{i}", p) for i, p in enumerate(primaries)]
            else:
                names = [(f"{base}_PASSWORD", primaries[0])]
            for secret_name, instance in names:
                if secret_name in service.env:
                    continue  # the user set it; ECS refuses a name in both env and secrets
                entries.setdefault(secret_name, f"{ref(instance, 'master_user_secrets[0].secret_arn')}:password::")
        memo[key] = [{"name": name, "valueFrom": value} for name, value in entries.items()]
        return [dict(entry) for entry in memo[key]]

    def data_secret_arns(self, service: Service) -> list[str]:
        """Secret ARNs the service's ECS execution role must read (secretsmanager:GetSecretValue)."""
        return sorted({entry["valueFrom"].removesuffix(":password::") for entry in self.data_secrets(service)})
