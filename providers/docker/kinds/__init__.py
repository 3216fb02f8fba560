"""One module per component kind on the Docker target.

Each has `build(ctx, component)` (add the component's resources to the Plan),
`attribute(ctx, component, attr)` (the Plan string of `${kind.name.attr}`)
and `endpoint(ctx, component)` (where other containers reach it); `ctx` is a
`DockerContext`. Each also carries the facts the analyses read: `AVAILABILITY`
(one container's figure, `facts.estimate`) and `facts(ctx, component, table)`
(how many copies run where). The target's kind table finds each module by
its section name (providers/base.py `kind_table`): a new kind's module is
all this package needs.
"""
