"""How the models present themselves as JSON Schema (what `topoform schema` prints).

Two things pydantic cannot know on its own:

- a field that also takes a shorthand (`listeners: [80, 443]`) is expanded
  before validation, so its generated schema shows the long form only;
  `AlsoAccepts` adds the short form as an alternative (anyOf);
- a default is kept as the number the compilers use (86400.0 seconds,
  268435456 bytes), which is not a value a blueprint may hold: an editor that
  fills in defaults would write an invalid file. `written_defaults` rewrites
  each default the way a user writes it (`1d`, `256MiB`), through the field's
  own serializer. A default derived from other fields is left out
  (`derived_default`): no fixed value is right for an editor to fill in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo


class AlsoAccepts:
    """Annotated metadata: the field's JSON Schema is `anyOf: [long form, short]`."""

    __slots__ = ("short",)

    def __init__(self, short: dict[str, Any]):
        self.short = short

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        long = handler(core_schema)
        options = long.get("anyOf")
        if options is None:
            return {"anyOf": [long, self.short]}
        # `X | None`: one flat list of alternatives, null last
        null = [o for o in options if o == {"type": "null"}]
        return {**long, "anyOf": [*(o for o in options if o not in null), self.short, *null]}


def derived_default(field_schema: dict[str, Any]) -> None:
    """`Field(json_schema_extra=...)` of a default that follows from other values
    (a health check timeout from its interval): no one value is right to fill in."""
    field_schema.pop("default", None)


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
