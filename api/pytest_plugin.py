"""pytest plugin (entry point `pytest11`): a `synth` fixture for blueprint tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def synth():
    """`synth(path, target=..., variables=...)`: the blueprint's program run under mocks."""
    from topoform.testing import synth as run

    return run
