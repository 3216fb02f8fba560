"""Facts of the API gateway and NoSQL kinds on both targets (see providers/facts.py).

Kept beside the shared facts rather than in each target's facts.py, whose
tables hold one line per kind: the copies, bases and replication of these
kinds read side by side here.

- API gateway: docker runs `replicas` nginx containers per running site;
  aws API Gateway is managed and spread over the zones by AWS.
- NoSQL, aws: DynamoDB and Keyspaces keep three copies across zones
  themselves (managed: the SLA is the copy's figure); a DynamoDB global table
  replica is the hot DR copy; DocumentDB and Neptune are a primary instance
  and `replicas` read replicas across zones (failover promotes one).
- NoSQL, docker: one container per running site, nothing replicated.
"""

from __future__ import annotations

from typing import Any, Mapping

from topoform.dsl.topology import DR, PRIMARY, topology

from . import facts as common
from .plan import Availability, Facts, Replica

AWS_PRODUCT = {"key-value": "dynamodb", "document": "documentdb", "wide-column": "keyspaces", "graph": "neptune"}
DOCKER_PRODUCT = {"key-value": "dynamodb-local", "document": "mongo", "wide-column": "cassandra", "graph": "neo4j"}


def docker_api_gateways(ctx: Any, gateway: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, gateway, table, gateway.replicas, common.plural(gateway.replicas, "replica"),
                                     dr_copy=topology(ctx.bp).hot_dr, scaling="replicas", implementation="nginx")


def aws_api_gateways(ctx: Any, gateway: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, gateway, table, 1, "one managed HTTP API (AWS spreads it over the AZs)",
                                     dr_copy=topology(ctx.bp).hot_dr, managed=True, implementation="apigateway-http")


def docker_nosql(ctx: Any, store: Any, table: Mapping[str, Availability]) -> Facts:
    return common.same_at_both_sites(ctx, store, table, 1, "one container (the image replicates nothing)",
                                     dr_copy=topology(ctx.bp).hot_dr, implementation=DOCKER_PRODUCT[store.model])


def aws_nosql(ctx: Any, store: Any, table: Mapping[str, Availability]) -> Facts:
    hot = topology(ctx.bp).hot_dr
    product = AWS_PRODUCT[store.model]
    figure = common.per_copy(store, table, "nosql", product)
    dr_roles = {"key-value": ("global-table-replica", "the global table replica in the DR region"),
                "wide-column": ("multi-region-replica", "the keyspace's replica in the DR region"),
                "document": ("global-cluster-secondary", "the global cluster's secondary, promoted on failover"),
                "graph": ("global-cluster-secondary", "the global database's secondary, promoted on failover")}
    role, dr_basis = dr_roles[store.model]
    dr_copy = hot and ctx.sites.hot_copies
    dr_replica = (Replica(role, DR, 1, "async"),) if dr_copy else ()
    if store.model in ("key-value", "wide-column"):
        # AWS keeps three copies across zones; the SLA already counts them.
        basis = "one managed table (three copies across the AZs, kept by AWS)"
        return Facts(copies={PRIMARY: 1, DR: 1}, basis={PRIMARY: basis, DR: dr_basis},
                     availability={PRIMARY: figure, DR: figure}, replication=dr_replica,
                     dr_copy=dr_copy, managed=True, implementation=product)
    # The SLA is the cluster's, and holds only with an instance in a second zone:
    # one cluster counts as one copy, its single-AZ form as an unreplicated instance.
    if not store.replicas:
        figure = common.per_copy(store, table, "nosql", f"{product}/single-az")
    basis = "a primary instance" + (f" + {common.plural(store.replicas, 'replica')} in other AZs "
                                    "(the SLA is the cluster's)" if store.replicas else " alone")
    replication = (Replica("read-replica", PRIMARY, store.replicas, "async"),) if store.replicas else ()
    dr_figure = common.per_copy(store, table, "nosql", f"{product}/single-az")  # one instance there
    return Facts(copies={PRIMARY: 1, DR: 1}, basis={PRIMARY: basis, DR: dr_basis},
                 availability={PRIMARY: figure, DR: dr_figure}, replication=replication + dr_replica,
                 dr_copy=dr_copy,
                 # More instances do not change the cluster's SLA: no copy-count fix to offer.
                 scaling=None, implementation=product)
