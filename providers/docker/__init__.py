"""The Docker target: a blueprint as containers on one Docker engine (a laptop).

Every component becomes pulumi_docker resources (plus pulumi_random passwords
and pulumi_tls certificates); nothing here imports pulumi, the Plan is plain
data that `providers/program.py` registers.

`TARGET` is what `providers.compile_plan` walks: the context factory
(`context.DockerContext` and its collaborators), the kind table (one module
per kind of dsl/kinds.py, `kinds/<section>.py`, found by its section name:
providers/base.py `kind_table`), and the non-component passes: site networks (`networks`), DNS
(`dns`), disaster recovery (`recovery`) and SLOs (`slos`), then each
component's `Facts` for the analyses (`facts`). Nothing else needs a last
pass, so there is no `finish`.
"""

from __future__ import annotations

from functools import partial

from topoform.providers.base import Target, kind_table

from .context import DockerContext
from . import facts
from .dns import dns
from .networks import platform
from .recovery import disaster_recovery
from .slos import slos

# Each kind's module also says where other containers reach it (`endpoint`, context.py).
BUILDERS = kind_table(__name__, also=("endpoint",))

TARGET = Target(
    name="docker",
    # The context dispatches `${kind.name.attr}` and endpoints through the same table.
    context=partial(DockerContext, kinds=BUILDERS),
    kinds=BUILDERS,
    platform=platform,
    dns=dns,
    disaster_recovery=disaster_recovery,
    slos=slos,
    facts=facts.record,
)
