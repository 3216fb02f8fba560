"""The models' compiled validators, kept between processes.

Generating pydantic's core schemas for the 40 models was the largest part of
every command's start-up (about 45 ms of a 0.3 s `validate`). A core schema
is plain data but for references to our own classes and functions, so it
pickles, and pydantic-core builds a validator from one in well under a
millisecond. So the models are declared with `defer_build` (models.py), and
`install` gives each its validator from this cache, or generates them the
usual way and writes the cache for the next process.

The cache file is named by a digest of the Python, pydantic and pydantic-core
versions and of the source of every module the models are made of, so a
changed model or library never loads a stale schema. It lives in the user's
own cache directory (XDG_CACHE_HOME, else ~/.cache): a pickle runs code when
loaded, so it must not be where another user can write. Any failure to read
or write it means generating the schemas, as with no cache. Only validators
come from it; a serializer or JSON Schema is generated when first asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from typing import Any

import pydantic
import pydantic_core
from pydantic import BaseModel
from pydantic_core import SchemaValidator

# The modules whose source shapes the models' schemas: models.py and what it builds on.
SOURCES = ("models.py", "units.py", "shorthands.py", "schema.py", "kinds.py")


def cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(f"{sys.version}|{pydantic.VERSION}|{pydantic_core.__version__}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in SOURCES:
        with open(os.path.join(here, name), "rb") as handle:
            digest.update(handle.read())
    return os.path.join(base, "topoform", f"validators-{digest.hexdigest()[:24]}.pickle")


def install(models: list[type[BaseModel]]) -> bool:
    """Give every model its validator; True if they came from the cache."""
    path = None
    try:
        path = cache_path()
        with open(path, "rb") as handle:
            cached = pickle.load(handle)
        validators = {model: SchemaValidator(*cached[model.__qualname__]) for model in models}
    except Exception:  # no cache yet, unreadable, truncated, or of other models: generate
        _generate(models, path)
        return False
    for model, validator in validators.items():
        model.__pydantic_validator__ = validator  # what model_validate and __init__ call
    return True


def _generate(models: list[type[BaseModel]], path: str | None) -> None:
    """Build every validator the usual way, and cache them at `path` (None: nowhere to)."""
    arguments = {}
    for model in models:
        model.model_rebuild()
        # What pydantic-core's own pickling rebuilds a validator from: (schema, config, …).
        schema, *rest = model.__pydantic_validator__.__reduce__()[1]
        arguments[model.__qualname__] = (_without_metadata(schema), *rest)
    if path is None:
        return
    partial = None
    try:
        data = pickle.dumps(arguments, protocol=pickle.HIGHEST_PROTOCOL)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        # Written whole under another name, then renamed: a process reading it never sees half.
        fd, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".validators-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
        partial = None
        _forget_old(path)
    except Exception:  # a read-only home, a full disk, a schema that does not pickle: no cache
        if partial is not None:
            with contextlib.suppress(OSError):
                os.remove(partial)


def _forget_old(path: str, keep: int = 8) -> None:
    """Remove all but the newest `keep` caches: each change to a model writes another."""
    folder = os.path.dirname(path)
    caches = [os.path.join(folder, name) for name in os.listdir(folder)
              if name.startswith("validators-") and name.endswith(".pickle")]
    for old in sorted(caches, key=os.path.getmtime, reverse=True)[keep:]:
        os.remove(old)


def _without_metadata(schema: Any) -> Any:
    """The core schema without pydantic's `metadata` entries: they hold JSON Schema hooks
    (closures, which do not pickle), and pydantic-core never reads them. A schema is a dict
    with a string `type`; a mapping of field names is not, so a field named `metadata` stays."""
    if isinstance(schema, dict):
        schema_node = isinstance(schema.get("type"), str)
        return {key: _without_metadata(value) for key, value in schema.items()
                if not (schema_node and key == "metadata")}
    if isinstance(schema, (list, tuple)):
        return type(schema)(_without_metadata(value) for value in schema)
    return schema
