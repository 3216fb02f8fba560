"""Stage 4: the Pulumi program — a Plan registered as real SDK resources.

One function serves `up`, `preview`, `synth` (under mocks) and the root
`Pulumi.yaml`: every Plan resource becomes an instance of the typed SDK class
its token names (`aws:rds/instance:Instance` → `pulumi_aws.rds.Instance`),
parented to one ComponentResource per blueprint component, so `pulumi stack`
shows the user's design as a tree.

Special property values (plain data in the Plan, objects here):
- strings with `${RESOURCE.attr}` → that resource's output (concatenated if
  embedded in text); `$${` → a literal `${`;
- `{"$json": value}` → `Output.json_dumps(value)` (ECS container definitions,
  IAM policies, redrive policies);
- `{"$asset": path}` / `{"$archive": path}` → `pulumi.FileAsset` / `FileArchive`;
- `{"$secret": value}` → `Output.secret(value)`;
- `{"$lookup": {function, args, attr}}` → `attr` of the SDK's data-source call
  (`pulumi_aws.ec2.get_managed_prefix_list_output(**args).id`).
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Any

import pulumi

from .plan import Plan, unescape
from .values import attr_steps, lookup_function, special, string_parts

@functools.lru_cache(maxsize=None)
def resource_class(token: str) -> type:
    """The SDK class for a Pulumi type token; TypeError if the SDK has none."""
    try:
        package, module_path, class_name = token.split(":")
    except ValueError:
        raise TypeError(f"{token!r} is not a Pulumi type token (package:module/file:Class)") from None
    module = module_path.split("/")[0]
    python_module = f"pulumi_{package}" + ("" if module == "index" else f".{module}")
    try:
        cls = getattr(importlib.import_module(python_module), class_name)
    except (ImportError, AttributeError):
        raise TypeError(f"no SDK class for {token} (looked for {python_module}.{class_name})") from None
    return cls


def _walk_attr(value: Any, steps: list[tuple[str, int | None]]) -> Any:
    for name, index in steps:
        if value is None:
            return None
        if index is not None:
            value = value[index] if len(value) > index else None
        elif isinstance(value, dict):
            value = value.get(name)
        else:
            value = getattr(value, name, None)
    return value


def _holds_output(value: Any) -> bool:
    if isinstance(value, (pulumi.Output, pulumi.Resource)):
        return True
    if isinstance(value, dict):
        return any(_holds_output(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_output(v) for v in value)
    return False


class _Resolver:
    """Turns Plan property values into Pulumi inputs, given the resources made so far.

    Speed matters here (every Output is an asyncio task in the SDK): a text
    with references is resolved once and the Output shared by every property,
    component output and stack output that repeats it; a `$json` without
    references is dumped here, not through an Output (`Output.json_dumps` of
    plain data gives the same string).
    """

    def __init__(self, created: dict[str, pulumi.Resource]):
        self.created = created
        self._strings: dict[str, Any] = {}

    def output(self, name: str, attr: str) -> Any:
        resource = self.created[name]
        steps = attr_steps(attr)
        first, rest = steps[0][0], list(steps[1:])
        value = resource.id if first == "id" else getattr(resource, first)
        if rest:
            return pulumi.Output.from_input(value).apply(lambda v, rest=rest: _walk_attr(v, rest))
        return value

    def string(self, text: str) -> Any:
        if "${" not in text:
            return text
        try:
            return self._strings[text]
        except KeyError:
            value = self._strings[text] = self._resolve_string(text)
            return value

    def _resolve_string(self, text: str) -> Any:
        parts = [p if isinstance(p, str) else self.output(p.name, p.attr) for p in string_parts(text)]
        if not parts:
            return ""
        if len(parts) == 1:
            return parts[0]  # plain text, or a whole-value reference keeping the output's type
        return pulumi.Output.concat(*parts)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.string(value) if "${" in value else value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, dict):
            form = special(value)
            if form is not None:
                key, inner = form
                if key == "$json":
                    inner = self.value(inner)
                    return pulumi.Output.json_dumps(inner) if _holds_output(inner) else json.dumps(inner)
                if key == "$asset":
                    return pulumi.FileAsset(inner)
                if key == "$archive":
                    return pulumi.FileArchive(inner)
                if key == "$lookup":
                    return _lookup(inner["function"], inner["attr"], inner["args"])
                return pulumi.Output.secret(self.value(inner))
            return {k: self.value(v) for k, v in value.items()}
        return value


@functools.lru_cache(maxsize=None)
def _lookup_once(function: str, attr: str, args: str) -> Any:
    package, module, name = lookup_function(function)
    sdk = importlib.import_module(f"pulumi_{package}" + ("" if module == "index" else f".{module}"))
    return getattr(getattr(sdk, f"{name}_output")(**json.loads(args)), attr)


def _lookup(function: str, attr: str, args: dict) -> Any:
    """A data source's attribute, as an Output; one call per distinct lookup (cleared per run)."""
    return _lookup_once(function, attr, json.dumps(args, sort_keys=True))


def run_plan(plan: Plan, export: bool = True) -> dict[str, Any]:
    """Register every resource of `plan`; returns (and exports) the stack outputs."""
    _lookup_once.cache_clear()  # an Output belongs to one run
    components: dict[str, pulumi.ComponentResource] = {}
    for ref, info in plan.components.items():
        components[ref] = pulumi.ComponentResource(info.type, info.name, None)
    created: dict[str, pulumi.Resource] = {}
    resolve = _Resolver(created)
    for resource in plan.ordered():
        cls = resource_class(resource.type)
        explicit = [created[d] for d in resource.depends_on]
        opts = pulumi.ResourceOptions(
            parent=components.get(resource.component),
            depends_on=explicit or None,
            protect=resource.protect or None,
            additional_secret_outputs=resource.secret_outputs or None,
        )
        props = {key: resolve.value(value) for key, value in resource.properties.items()}
        created[resource.name] = cls(resource.name, opts=opts, **props)
    for ref, info in plan.components.items():
        components[ref].register_outputs({k: resolve.value(v) for k, v in info.outputs.items()})
    outputs = {name: resolve.value(value) for name, value in plan.outputs.items()}
    if export:
        for name, value in outputs.items():
            pulumi.export(name, value)
    return outputs


def literal_value(text: str) -> str:
    """A Plan string with no references, as the program would pass it."""
    return unescape(text)
