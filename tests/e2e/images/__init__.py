"""Stand-in images for the end-to-end tests (see contracts.py and docs/IMAGES.md).

``ensure_images(client, tags)`` makes every tag exist on the engine, built offline from Debian
packages; ``python -m tests.e2e.images build [TAGS…]`` prebuilds them.
"""

from .builder import ImageBuildError, ensure_images
from .contracts import CONTRACTS, Contract, contract_for

__all__ = ["CONTRACTS", "Contract", "ImageBuildError", "contract_for", "ensure_images"]
