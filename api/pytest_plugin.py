"""pytest plugin (entry point `pytest11`): a `synth` fixture for blueprint tests.

It also hides the DeprecationWarnings pulumi_aws emits on import (its own use
of deprecated APIs, nothing a blueprint's author can act on), so a user's test
run shows only their own warnings — the filter this repository's pytest
configuration has, applied for every project that installs Topoform.
"""

from __future__ import annotations

import pytest

PROVIDER_WARNINGS = ("ignore::DeprecationWarning:pulumi_aws", "ignore::DeprecationWarning:pulumi_aws.*")


def pytest_configure(config: pytest.Config) -> None:
    # Appended to the ini filters, so a user's own `filterwarnings` (and -W) still decide the rest.
    for line in PROVIDER_WARNINGS:
        config.addinivalue_line("filterwarnings", line)


@pytest.fixture
def synth():
    """`synth(path, target=..., variables=...)`: the blueprint's program run under mocks."""
    from topoform.testing import synth as run

    return run
