"""How the models present themselves as JSON Schema (what `topoform schema` prints).

A default is kept as the number the compilers use (86400.0 seconds,
268435456 bytes), which is not a value a blueprint may hold: an editor that
fills in defaults would write an invalid file. `written_defaults` rewrites
each default the way a user writes it (`1d`, `256MiB`), through the field's
own serializer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo


def written_default(info: FieldInfo) -> Any:
    """A field's default as a blueprint would write it (JSON mode of the field's serializer)."""
    return TypeAdapter(info.rebuild_annotation()).dump_python(info.default, mode="json")


def written_defaults(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """`model_config["json_schema_extra"]`: every property's default, as written."""
    properties = schema.get("properties", {})
    for name, info in model.model_fields.items():
        prop = properties.get(info.alias or name)
        if isinstance(prop, dict) and "default" in prop:
            prop["default"] = written_default(info)
