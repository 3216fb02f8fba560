"""The blueprint JSON Schema (`topoform schema`): its defaults are values a blueprint may hold.

An editor that fills in defaults from the schema must produce a blueprint
that still validates, and means the same.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic_core import PydanticUndefined

from topoform.cli.schema import blueprint_schema
from topoform.dsl import models
from topoform.dsl.loader import load_text
from topoform.dsl.schema import written_default
from topoform.dsl.validate import validate_file, validate_text

ROOT = Path(__file__).parent.parent
BLUEPRINTS = sorted((ROOT / "blueprints").glob("*.yaml")) + sorted((ROOT / "tests" / "golden" / "valid").glob("*.yaml"))
SCHEMA = blueprint_schema()
DEFS = SCHEMA["$defs"]


def _models() -> list[type[BaseModel]]:
    return [m for m in vars(models).values()
            if isinstance(m, type) and issubclass(m, models.StrictModel) and m is not models.StrictModel
            and m.__module__ == models.__name__]


def _schema_defaults() -> list[tuple[str, str, dict]]:
    found = []
    for name, node in [("Blueprint", SCHEMA), *DEFS.items()]:
        for prop, schema in node.get("properties", {}).items():
            if "default" in schema:
                found.append((name, prop, schema))
    return found


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = DEFS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_schema_has_defaults_to_check():
    assert len(_schema_defaults()) > 100


@pytest.mark.parametrize("model, prop, schema", _schema_defaults(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_default_matches_its_own_property_schema(model, prop, schema):
    shape = {k: v for k, v in schema.items() if k != "default"}
    jsonschema.Draft202012Validator({**shape, "$defs": DEFS}).validate(schema["default"])


def _field_defaults():
    for model in _models():
        for name, info in model.model_fields.items():
            if info.default is not PydanticUndefined and info.default is not None:
                yield pytest.param(model, name, info, id=f"{model.__name__}.{name}")


@pytest.mark.parametrize("model, name, info", _field_defaults())
def test_every_default_written_in_yaml_loads_back_to_the_default(model, name, info):
    written = written_default(info)
    loaded = load_text(yaml.safe_dump({name: written}), "d.yaml")
    assert loaded.diagnostics == []
    strict = TypeAdapter(info.rebuild_annotation(), config=ConfigDict(strict=True))
    assert strict.validate_python(loaded.data[name]) == info.default


def test_unit_defaults_are_written_with_their_units():
    props = {(m, p): s["default"] for m, p, s in _schema_defaults()}
    assert props[("Backup", "interval")] == "1d"
    assert props[("Cache", "memory")] == "256MiB"
    assert props[("CdnTtl", "default")] == "1h"
    assert props[("Service", "memory")] == "512MiB"
    assert props[("Queue", "retention")] == "4d"


def _fill(data, schema: dict) -> None:
    """What an editor does: every property the schema gives a default and the file leaves out, filled in."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        options = [_resolve(o) for o in schema["anyOf"]]
        kind = dict if isinstance(data, dict) else list if isinstance(data, list) else None
        wanted = {dict: "object", list: "array"}.get(kind)
        schema = next((o for o in options if o.get("type") == wanted or (wanted == "object" and "properties" in o)),
                      {})
    if isinstance(data, dict):
        for prop, sub in schema.get("properties", {}).items():
            if prop in data:
                _fill(data[prop], sub)
            elif sub.get("default") is not None:
                data[prop] = copy.deepcopy(sub["default"])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, value in data.items():
                if key not in schema.get("properties", {}):
                    _fill(value, extra)
    elif isinstance(data, list) and isinstance(schema.get("items"), dict):
        for item in data:
            _fill(item, schema["items"])


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_blueprint_with_every_default_filled_in_is_valid_and_means_the_same(path, tmp_path):
    original = validate_file(str(path))
    assert original.ok
    data = load_text(path.read_text(encoding="utf-8")).data  # keys as Topoform reads them (`on:` is "on")
    _fill(data, SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(data)
    filled = validate_text(yaml.safe_dump(data, sort_keys=False), str(path), base_dir=str(path.parent))
    assert filled.diagnostics == []
    assert filled.blueprint.model_dump() == original.blueprint.model_dump()


SHORT = {
    "blueprint": "s",
    "services": {"api": {"image": "x", "port": 80, "health": "/healthz"},
                 "w": {"image": "x", "consumes": "queues.jobs"}},
    "load_balancers": {"web": {"listeners": [80, 443], "routes": ["services.api"], "sticky_sessions": True,
                               "health_check": "/healthz"},
                       "l4": {"layer": 4, "targets": ["services.api", {"target": "services.api", "port": 81}]}},
    "cdns": {"c": {"mode": "pull", "origin": "load_balancers.web", "ttl": "2h30m"}},
    "dns": {"zone": "example.com", "records": [
        {"name": "www", "endpoints": ["cdns.c"]},
        {"name": "api", "routing": "failover", "health_check": "/up",
         "endpoints": [{"target": "load_balancers.web", "role": "primary"},
                       {"value": "192.0.2.1", "role": "secondary"}]}]},
    "queues": {"jobs": {"retention": "3d 12h"}},
}


def test_the_schema_offers_every_shorthand_as_an_alternative():
    jsonschema.Draft202012Validator(SCHEMA).validate(SHORT)
    assert validate_text(yaml.safe_dump(SHORT), "s.yaml").ok


@pytest.mark.parametrize("path, bad", [
    (("load_balancers", "web", "listeners"), ["80"]),
    (("load_balancers", "l4", "targets"), ["service.api"]),
    (("services", "api", "health"), "healthz"),
    (("load_balancers", "web", "sticky_sessions"), "yes"),
    (("cdns", "c", "ttl"), "2 hours"),
    (("services", "w", "consumes"), "jobs"),
])
def test_the_schema_still_refuses_what_neither_form_takes(path, bad):
    data = copy.deepcopy(SHORT)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = bad
    assert not jsonschema.Draft202012Validator(SCHEMA).is_valid(data)
    assert not validate_text(yaml.safe_dump(data), "s.yaml").ok


def test_the_schema_in_the_repository_is_the_one_topoform_prints():
    # Editors may point `$schema` at schemas/blueprint.schema.json in a checkout.
    import json

    written = json.loads((ROOT / "schemas" / "blueprint.schema.json").read_text(encoding="utf-8"))
    assert written == SCHEMA, "regenerate it: topoform schema -o schemas/blueprint.schema.json"
