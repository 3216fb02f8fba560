"""One module per component kind on AWS, each with `build(ctx, component)` and
`attribute(ctx, component, attr)` (the `KindBuilder` of providers/base.py).

This package imports nothing, so a kind module can import another (services
→ load_balancers, databases) or a helper (edge.py → load_balancers) without
running the rest.
"""
