"""One module per component kind on AWS, each with `build(ctx, component)` and
`attribute(ctx, component, attr)` (the `KindBuilder` of providers/base.py),
and the facts the analyses read: `AVAILABILITY` (the published SLA of one
copy, `AVAILABILITY_VARIANTS` where the product differs) and
`facts(ctx, component, table)`. The target's kind table finds each module by
its section name (providers/base.py `kind_table`).

This package imports nothing, so a kind module can import another (services
→ load_balancers, databases) or a helper (edge.py → load_balancers) without
running the rest.
"""
