"""One module per component kind on the Docker target.

Each has `build(ctx, component)` (add the component's resources to the Plan),
`attribute(ctx, component, attr)` (the Plan string of `${kind.name.attr}`)
and `endpoint(ctx, component)` (where other containers reach it); `ctx` is a
`DockerContext`. `providers/docker/__init__.py` puts them in the target's
kind table.
"""
