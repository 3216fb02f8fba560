"""Pulumi program for the repository's Pulumi.yaml: deploy the blueprint named in stack config.

Set `topoform:blueprint` (and optionally `topoform:target`) with
`pulumi config set`, then run `pulumi up`. It registers exactly the
resources `topoform up` would, from the same Plan.
"""

from topoform.cli.engine.standalone import run_configured_blueprint

run_configured_blueprint()
