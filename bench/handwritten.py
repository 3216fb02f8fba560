"""The baseline: the hand-written Pulumi program a user would write instead.

From a compiled Plan this writes, into a directory, what an engineer writing
Pulumi by hand would have: `infra.py`, one plain SDK call per resource
(`aws.sqs.Queue("queue-jobs-0", visibility_timeout_seconds=30, ...)`, no
Topoform import, no ComponentResources), and `test_infra.py`, unit tests in
the style Pulumi documents (https://www.pulumi.com/docs/using-pulumi/testing/unit/):
a `pulumi.runtime.Mocks` subclass returning the inputs plus an id,
`pulumi.runtime.set_mocks(...)` before `import infra`, and test functions
decorated with `@pulumi.runtime.test` that check inputs through
`Output.all(...).apply(...)`.

The mock also returns, per resource, the computed outputs the program reads
(an ACM certificate's `domain_validation_options`, ...) from a literal table
written beside it; without them a hand-written program reading
`cert.domain_validation_options[0]` fails under the documented mock, and a
user would add exactly such a table.

The test checks the same thing the Topoform-side tests check (see
`run.py`): every resource of the Plan's most common type received the
top-level plain inputs the Plan gave it.
"""

from __future__ import annotations

import keyword
import os
import re
from typing import Any

from topoform.providers.plan import REFERENCE_RE, Plan, Resource, referenced_names

_IDENTIFIER_JUNK = re.compile(r"[^0-9a-zA-Z_]")
_ATTR_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_ALIASES = {"aws": "aws", "docker": "docker", "random": "random", "tls": "tls"}


def sdk_call(token: str) -> tuple[str, str]:
    """(`import pulumi_aws as aws`, `aws.sqs.Queue`) for a type token."""
    package, module_path, class_name = token.split(":")
    module = module_path.split("/")[0]
    alias = _ALIASES.get(package, package.replace("-", "_"))
    path = alias if module == "index" else f"{alias}.{module}"
    return f"import pulumi_{package.replace('-', '_')} as {alias}", f"{path}.{class_name}"


class _Writer:
    """Python source for Plan values, as a person would type them."""

    def __init__(self) -> None:
        self.variables: dict[str, str] = {}
        self.taken: set[str] = set()
        self.uses_json = False

    def variable(self, name: str) -> str:
        base = _IDENTIFIER_JUNK.sub("_", name)
        if not base or base[0].isdigit() or keyword.iskeyword(base):
            base = "r_" + base
        candidate, n = base, 2
        while candidate in self.taken:
            candidate, n = f"{base}_{n}", n + 1
        self.taken.add(candidate)
        self.variables[name] = candidate
        return candidate

    def reference(self, name: str, attr: str) -> str:
        code = self.variables[name]
        for field_name, index in _ATTR_STEP.findall(attr):
            code += f"[{index}]" if index else f".{field_name}"
        return code

    def string(self, text: str) -> str:
        if "${" not in text:
            return repr(text)
        parts: list[str] = []
        literal_run = ""
        last = 0
        for match in REFERENCE_RE.finditer(text):
            literal_run += text[last:match.start()]
            if match.group(1) is None:
                literal_run += "${"
            else:
                if literal_run:
                    parts.append(repr(literal_run))
                literal_run = ""
                parts.append(self.reference(match.group(1), match.group(2)))
            last = match.end()
        literal_run += text[last:]
        if literal_run:
            parts.append(repr(literal_run))
        if len(parts) == 1:
            return parts[0]
        return f"pulumi.Output.concat({', '.join(parts)})"

    def value(self, value: Any) -> str:
        if isinstance(value, str):
            return self.string(value)
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, dict):
            if len(value) == 1:
                key, inner = next(iter(value.items()))
                if key == "$json":
                    if referenced_names(inner):
                        return f"pulumi.Output.json_dumps({self.value(inner)})"
                    self.uses_json = True
                    return f"json.dumps({self.value(inner)})"
                if key == "$asset":
                    return f"pulumi.FileAsset({inner!r})"
                if key == "$archive":
                    return f"pulumi.FileArchive({inner!r})"
                if key == "$secret":
                    return f"pulumi.Output.secret({self.value(inner)})"
            return "{" + ", ".join(f"{k!r}: {self.value(v)}" for k, v in value.items()) + "}"
        return repr(value)


def program_source(plan: Plan) -> tuple[str, dict[str, str]]:
    """The text of `infra.py` and the variable holding each resource."""
    writer = _Writer()
    imports = {"import pulumi"}
    body: list[str] = []
    for resource in plan.ordered():
        import_line, call = sdk_call(resource.type)
        imports.add(import_line)
        args = [repr(resource.name)]
        args += [f"{key}={writer.value(value)}" for key, value in resource.properties.items()]
        options = _options(resource, writer)
        if options:
            args.append(f"opts=pulumi.ResourceOptions({options})")
        variable = writer.variable(resource.name)
        body.append(f"{variable} = {call}(\n    " + ",\n    ".join(args) + ")")
    outputs = [f"pulumi.export({name!r}, {writer.value(value)})" for name, value in plan.outputs.items()]
    if writer.uses_json:
        imports.add("import json")
    head = '"""Written by hand (well: by bench/handwritten.py) — the same resources as the Plan."""\n'
    text = head + "\n".join(sorted(imports)) + "\n\n" + "\n".join(body) + "\n\n" + "\n".join(outputs) + "\n"
    return text, writer.variables


def _options(resource: Resource, writer: _Writer) -> str:
    parts = []
    if resource.depends_on:
        parts.append("depends_on=[" + ", ".join(writer.variables[d] for d in resource.depends_on) + "]")
    if resource.protect:
        parts.append("protect=True")
    if resource.secret_outputs:
        parts.append(f"additional_secret_outputs={list(resource.secret_outputs)!r}")
    return ", ".join(parts)


def checked_type(plan: Plan) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The most common resource type, and per resource of it the plain top-level inputs to check."""
    counts: dict[str, int] = {}
    for resource in plan.resources:
        counts[resource.type] = counts.get(resource.type, 0) + 1
    token = max(counts, key=lambda t: (counts[t], t))
    expected = []
    for resource in plan.of_type(token):
        plain = {k: v for k, v in resource.properties.items()
                 if isinstance(v, (int, float, bool)) or (isinstance(v, str) and "${" not in v)}
        expected.append((resource.name, plain))
    return token, expected


TEST_TEMPLATE = '''\
"""Unit tests of infra.py with mocks, as the Pulumi documentation shows them."""
import pulumi

from mock_state import COMPUTED


class MyMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        outputs.update(COMPUTED.get(args.name, {{}}))
        return [args.name + "_id", outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {{}}


pulumi.runtime.set_mocks(MyMocks(), preview=False)

import infra  # noqa: E402  (the program registers its resources on import)

EXPECTED = {expected}


@pulumi.runtime.test
def test_{slug}_inputs():
    names = sorted(EXPECTED)
    resources = [getattr(infra, EXPECTED[name][0]) for name in names]
    checks = []
    for name, resource in zip(names, resources):
        for key in EXPECTED[name][1]:
            checks.append(getattr(resource, key))

    def check(values):
        it = iter(values)
        for name in names:
            for key, want in EXPECTED[name][1].items():
                got = next(it)
                assert got == want, f"{{name}}.{{key}}: expected {{want!r}}, got {{got!r}}"
        return True

    return pulumi.Output.all(*checks).apply(check)
'''


def computed_outputs_read(plan: Plan) -> dict[str, dict[str, Any]]:
    """Per resource, the provider-computed outputs (engine camelCase keys) the program reads."""
    from topoform.mock_outputs import _camel, computed_outputs

    wanted: dict[str, dict[str, int]] = {}  # resource → attribute → highest list index read
    for resource in plan.resources:
        for text in _strings(resource.properties):
            for match in REFERENCE_RE.finditer(text):
                if match.group(1):
                    steps = _ATTR_STEP.findall(match.group(2))
                    index = int(steps[1][1]) if len(steps) > 1 and steps[1][1] else 0
                    attrs = wanted.setdefault(match.group(1), {})
                    attrs[steps[0][0]] = max(attrs.get(steps[0][0], 0), index)
    table: dict[str, dict[str, Any]] = {}
    for name, attrs in wanted.items():
        resource = plan.get(name)
        state = computed_outputs(resource.type, name, {})
        found = {}
        for attr, index in sorted(attrs.items()):
            value = state.get(_camel(attr))
            if attr == "id" or value is None:
                continue
            if isinstance(value, list) and value and len(value) <= index:
                # A provider returns one entry per item (e.g. per certificate name).
                value = value + [value[-1]] * (index + 1 - len(value))
            found[_camel(attr)] = value
        if found:
            table[name] = found
    return table


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def write_project(plan: Plan, directory: str) -> dict[str, Any]:
    """Write infra.py, mock_state.py and test_infra.py into `directory`; returns what was written."""
    os.makedirs(directory, exist_ok=True)
    source, variables = program_source(plan)
    token, expected = checked_type(plan)
    with open(os.path.join(directory, "infra.py"), "w", encoding="utf-8") as handle:
        handle.write(source)
    with open(os.path.join(directory, "mock_state.py"), "w", encoding="utf-8") as handle:
        handle.write('"""Computed outputs the program reads, per resource name (what a provider would return)."""\n')
        handle.write(f"COMPUTED = {computed_outputs_read(plan)!r}\n")
    table = {name: (variables[name], plain) for name, plain in expected}
    slug = re.sub(r"\W+", "_", token.split(":")[-1]).lower()
    with open(os.path.join(directory, "test_infra.py"), "w", encoding="utf-8") as handle:
        handle.write(TEST_TEMPLATE.format(expected=repr(table), slug=slug))
    return {"type": token, "checked": len(expected), "lines": source.count("\n")}
