"""Prebuild the stand-in images: ``python -m tests.e2e.images build [TAGS…]`` (from the repository root).

Without TAGS, builds every tag the example blueprints' Plans pin and every known tag of each
recipe. Uses the same engine as the tests (engine.py: an existing one, else the tests' dockerd,
started and stopped here). Exit status 1 with the reason if the engine or a build fails.
"""

from __future__ import annotations

import sys
import time

import click

from ..engine import EngineUnavailable, acquire_engine
from .builder import ImageBuildError, ensure_images
from .contracts import CONTRACTS
from .plans import example_image_tags


def default_tags() -> set[str]:
    tags = example_image_tags()
    for contract in CONTRACTS:
        tags.update(contract.known_tags)
    return tags


@click.group()
def cli() -> None:
    """Stand-in images for the end-to-end tests."""


@cli.command()
@click.argument("tags", nargs=-1)
def build(tags: tuple[str, ...]) -> None:
    """Build TAGS (default: every tag the examples pin), skipping those already current."""
    wanted = set(tags) or default_tags()
    started = time.monotonic()
    try:
        engine = acquire_engine()
    except EngineUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"engine: {engine.description}")
    try:
        built = ensure_images(engine.client, wanted, log=lambda line: click.echo(f"  {line}"))
    except ImageBuildError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    finally:
        engine.release()
    click.echo(f"{len(wanted)} tag(s) current, {len(built)} built, in {time.monotonic() - started:.1f}s")


@cli.command(name="list")
def list_tags() -> None:
    """Show each recipe's tag pattern and stand-in."""
    for contract in CONTRACTS:
        click.echo(f"{contract.tag_pattern:36} {contract.stand_in}")


if __name__ == "__main__":
    cli()
