"""What the data-store kinds (kinds/databases.py, caches.py, queues.py) share.

A store is private: its security group admits only the services that
reference it (`admit_users`, from the blueprint's topology). A service's DR
copy reads the DR copies of the stores when the DR site is hot and has
them (`answering_site`); otherwise every site reads the primary's. A
cache's `in_front_of` is a design note, not a connection: it admits nobody. Each
store kind answers `${...}` from a table of its values at a site
(`attribute`), so an answer is the same whenever it is asked.
"""

from __future__ import annotations

from typing import Callable

from topoform.dsl.models import Component

from .context import AwsContext
from .sites import DR, PRIMARY


def password_base(env: str, suffixes: tuple[str, ...]) -> str:
    """The name a store's password variable is built from: `USERS_URL` → `USERS` (`USERS_PASSWORD`).

    Each store kind passes the suffixes its attributes are read under; a name
    that is only a suffix stays whole.
    """
    for suffix in suffixes:
        if env.endswith(suffix) and len(env) > len(suffix):
            return env[: -len(suffix)]
    return env


def answering_site(ctx: AwsContext) -> str:
    """The site whose copy of a store answers `${...}` asked through `ctx`."""
    return DR if ctx.site == DR and ctx.sites.hot_copies else PRIMARY


def attribute(ctx: AwsContext, component: Component, attr: str,
              values: Callable[[AwsContext, Component, str], dict[str, str]]) -> str:
    """One of the `values(ctx, component, site)` a store kind offers, at the asking site."""
    found = values(ctx, component, answering_site(ctx)).get(attr)
    if found is None:
        raise ValueError(f"{component.ref} has no attribute {attr!r} on aws")
    return found


def admit_users(ctx: AwsContext, component: Component, port: int, site: str) -> str:
    """The store's security group on `site`, open on `port` to the services that reference it only."""
    ref = ctx.ref_of(component)
    group = ctx.networks.security_group(ref, site)
    if site == PRIMARY or ctx.sites.hot_copies:
        for service in ctx.access.users(ref):
            ctx.networks.allow(service, ref, port, site)
    return group
