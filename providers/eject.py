"""Eject: a Plan as a standalone, readable Pulumi project (the library half of `topoform eject`).

For users who outgrow the DSL: `Pulumi.yaml`, `requirements.txt` and a
`__main__.py` of plain SDK calls — one block per blueprint component, a
comment naming the component and its blueprint line, references as Python
variables (`pulumi.Output.concat` where a reference sits inside text, lifted
`[...]` where it reads into a nested output), `$json` as
`pulumi.Output.json_dumps`, no Topoform import. It registers exactly the
resources of the Plan that `plan`, `synth` and `up` use, with the same names,
types, inputs, parents and options (tests/test_eject.py checks it under
mocks). Files the Plan uploads (`$asset`) are copied into `assets/` so the
project stands alone.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from .plan import referenced_names
from .values import attr_steps, files, lookup_function, special, string_parts

# A token's package → how the ejected program imports its SDK.
SDK_IMPORTS = {
    "aws": ("pulumi_aws", "aws"), "docker": ("pulumi_docker", "docker"),
    "random": ("pulumi_random", "random"), "tls": ("pulumi_tls", "tls"),
}
LINE = 100  # a value fits on one line below this width


# ---------------------------------------------------------------- Python source for Plan values


def string_literal(text: str) -> str:
    """A Python string literal, double-quoted where that needs no escaping."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text and "'" not in text:
        return '"' + literal[1:-1] + '"'
    return literal


def class_path(token: str) -> tuple[str, str]:
    """(`aws.rds.Instance`, sdk package) for `aws:rds/instance:Instance` — the program's lookup, as code."""
    package, module_path, class_name = token.split(":")
    module = module_path.split("/")[0]
    alias = SDK_IMPORTS.get(package, (f"pulumi_{package}", package))[1]
    return (f"{alias}.{class_name}" if module == "index" else f"{alias}.{module}.{class_name}"), package


class Names:
    """Python identifiers for resources and components: readable, valid, unique."""

    RESERVED = {"pulumi", "json", "os", "aws", "docker", "random", "tls", "config", "opts"}

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def allocate(self, wanted: str) -> str:
        base = re.sub(r"\W", "_", wanted).strip("_") or "resource"
        if base[0].isdigit():
            base = "r_" + base
        if keyword.iskeyword(base) or base in self.RESERVED:
            base += "_"
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        return name


@dataclass
class Writer:
    """Renders Plan property values as Python expressions over the resource variables."""

    variables: dict[str, str]  # resource name → Python variable
    assets: dict[str, str] = field(default_factory=dict)  # absolute path → path in the project

    def reference(self, name: str, attr: str) -> str:
        var = self.variables[name]
        steps = attr_steps(attr)
        first, rest = steps[0][0], steps[1:]
        code = f"{var}.{first}"
        for field_name, index in rest:
            # Outputs lift `[...]`: a nested value read without an apply callback.
            code += f"[{index}]" if index is not None else f"[{string_literal(field_name)}]"
        return code

    def string(self, text: str, indent: int) -> str:
        if "${" not in text:
            return self.text(text, indent)
        parts = string_parts(text)
        if len(parts) == 1:
            only = parts[0]
            return self.text(only, indent) if isinstance(only, str) else self.reference(only.name, only.attr)
        items: list[str] = []
        for part in parts:
            if isinstance(part, str):  # one argument per source line keeps a templated config file readable
                items += [string_literal(line) for line in part.splitlines(keepends=True)]
            else:
                items.append(self.reference(part.name, part.attr))
        return self.call("pulumi.Output.concat", items, indent)

    def text(self, text: str, indent: int) -> str:
        """A literal; a multi-line text (a config file) as one line per source line."""
        lines = text.splitlines(keepends=True)
        if len(lines) <= 1:
            return string_literal(text)
        pad = " " * (indent + 4)
        return "(\n" + "".join(f"{pad}{string_literal(line)}\n" for line in lines) + " " * indent + ")"

    def call(self, function: str, items: list[str], indent: int) -> str:
        flat = f"{function}({', '.join(items)})"
        if len(flat) + indent <= LINE and "\n" not in flat:
            return flat
        pad = " " * (indent + 4)
        return f"{function}(\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + ")"

    def value(self, value: Any, indent: int = 0) -> str:
        if isinstance(value, str):
            return self.string(value, indent)
        if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, list):
            items = [self.value(v, indent + 4) for v in value]
            flat = "[" + ", ".join(items) + "]"
            if len(flat) + indent <= LINE and "\n" not in flat:
                return flat
            pad = " " * (indent + 4)
            return "[\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + "]"
        if isinstance(value, dict):
            form = special(value)
            if form is not None:
                key, inner = form
                if key == "$json":
                    return self.call("pulumi.Output.json_dumps", [self.value(inner, indent + 4)], indent)
                if key == "$secret":
                    return self.call("pulumi.Output.secret", [self.value(inner, indent + 4)], indent)
                if key == "$lookup":
                    package, module, name = lookup_function(inner["function"])
                    alias = SDK_IMPORTS.get(package, (f"pulumi_{package}", package))[1]
                    where = alias if module == "index" else f"{alias}.{module}"
                    args = [f"{k}={self.value(v, indent + 4)}" for k, v in inner["args"].items()]
                    return self.call(f"{where}.{name}_output", args, indent) + f".{inner['attr']}"
                if key == "$asset":
                    return f"pulumi.FileAsset({string_literal(self.assets.get(inner, inner))})"
                return f"pulumi.FileArchive({string_literal(self.assets.get(inner, inner))})"
            items = [f"{string_literal(str(k))}: {self.value(v, indent + 4)}" for k, v in value.items()]
            flat = "{" + ", ".join(items) + "}"
            if len(flat) + indent <= LINE and "\n" not in flat:
                return flat
            pad = " " * (indent + 4)
            return "{\n" + "".join(f"{pad}{item},\n" for item in items) + " " * indent + "}"
        raise TypeError(f"cannot write {type(value).__name__} values into a program: {value!r}")


# ---------------------------------------------------------------- blocks


@dataclass
class Block:
    title: str
    code: str


def component_order(plan: Any) -> list[tuple[str, list[Any]]] | None:
    """Components so every block only reads resources of earlier blocks; None if they depend in a circle."""
    ordered = list(plan.ordered())
    of = {r.name: r.component for r in ordered}
    comps = list(dict.fromkeys(list(plan.components) + [r.component for r in ordered]))
    needs: dict[str, set[str]] = {c: set() for c in comps}
    for r in ordered:
        for dep in plan.dependencies(r):
            if of[dep] != r.component:
                needs[r.component].add(of[dep])
    done: list[str] = []
    remaining = list(comps)
    while remaining:
        ready = next((c for c in remaining if needs[c] <= set(done)), None)
        if ready is None:
            return None
        done.append(ready)
        remaining.remove(ready)
    return [(c, [r for r in ordered if r.component == c]) for c in done]


def runs(plan: Any) -> list[tuple[str, list[Any]]]:
    """Fallback for components that read each other: few blocks, in a dependency order.

    Stay in the current component while it has a resource whose dependencies
    are all written. Then switch, preferring a component that can now be
    written to its end, else the earliest (in blueprint order) with a ready
    resource. Each return to a component starts a "(continued)" block.
    """
    deps = {r.name: set(plan.dependencies(r)) for r in plan.resources}
    dependents: dict[str, list[str]] = {}
    for name, needs in deps.items():
        for dep in needs:
            dependents.setdefault(dep, []).append(name)
    by_name = {r.name: r for r in plan.resources}
    rank = {ref: i for i, ref in enumerate(plan.components)}
    waiting = {name: len(needs) for name, needs in deps.items()}
    ready: dict[str, list[Any]] = {}  # component → its resources ready to write, in Plan order
    remaining: dict[str, set[str]] = {}
    for r in plan.resources:
        remaining.setdefault(r.component, set()).add(r.name)
        if not waiting[r.name]:
            ready.setdefault(r.component, []).append(r)
    written: set[str] = set()

    def completes(component: str) -> bool:
        names = remaining[component]
        return all(deps[n] <= written | names for n in names)

    groups: list[tuple[str, list[Any]]] = []
    current = None
    while len(written) < len(by_name):
        if not ready.get(current):
            candidates = sorted((c for c, items in ready.items() if items), key=lambda c: rank.get(c, len(rank)))
            if not candidates:
                raise ValueError("dependency cycle in the plan")
            current = next((c for c in candidates if completes(c)), candidates[0])
            groups.append((current, []))
        resource = ready[current].pop(0)
        groups[-1][1].append(resource)
        written.add(resource.name)
        remaining[current].discard(resource.name)
        for name in dependents.get(resource.name, ()):
            waiting[name] -= 1
            if not waiting[name]:
                ready.setdefault(by_name[name].component, []).append(by_name[name])
    return groups


def _where(position: Any) -> str:
    if position is None:
        return ""
    return f"{os.path.basename(position.file)}:{position.line}"


def render_resource(resource: Any, var: str, parent: str | None, writer: Writer, component_source: Any) -> str:
    path, _ = class_path(resource.type)
    args = [string_literal(resource.name)]
    odd: list[str] = []
    for key, value in resource.properties.items():
        if key.isidentifier() and not keyword.iskeyword(key) and key not in ("opts", "resource_name"):
            args.append(f"{key}={writer.value(value, 4)}")
        else:
            odd.append(f"{string_literal(key)}: {writer.value(value, 8)}")
    if odd:
        args.append("**{" + ", ".join(odd) + "}")
    options = []
    if parent:
        options.append(f"parent={parent}")
    if resource.depends_on:
        options.append("depends_on=[" + ", ".join(writer.variables[d] for d in resource.depends_on) + "]")
    if resource.protect:
        options.append("protect=True")
    if resource.secret_outputs:
        options.append("additional_secret_outputs=" + writer.value(list(resource.secret_outputs), 4))
    args.append(writer.call("opts=pulumi.ResourceOptions", options, 4) if options else "opts=None")
    head = ""
    if resource.source is not None and _where(resource.source) != _where(component_source):
        head = f"# {_where(resource.source)}\n"
    return head + f"{var} = {path}(\n" + "".join(f"    {a},\n" for a in args) + ")"


def build_blocks(plan: Any, writer: Writer, names: Names) -> tuple[list[Block], dict[str, str]]:
    comp_vars: dict[str, str] = {}
    short = [ref.split(".")[-1] for ref in plan.components]
    for ref in plan.components:
        leaf = ref.split(".")[-1]
        comp_vars[ref] = names.allocate(leaf if short.count(leaf) == 1 else ref.replace(".", "_"))
    for r in plan.resources:
        writer.variables[r.name] = names.allocate(r.name)
    groups = component_order(plan) or runs(plan)
    # Components with no resources still exist in the program (and register outputs).
    listed = {c for c, _ in groups}
    groups += [(c, []) for c in plan.components if c not in listed]
    last_block = {c: i for i, (c, _) in enumerate(groups)}
    declared_resources: set[str] = set()
    declared_components: set[str] = set()
    deferred: list[str] = []
    blocks: list[Block] = []
    titled: set[str] = set()
    for i, (ref, members) in enumerate(groups):
        info = plan.components.get(ref)
        lines: list[str] = []
        if ref not in declared_components and info is not None:
            lines.append(f"{comp_vars[ref]} = pulumi.ComponentResource({string_literal(info.type)}, "
                         f"{string_literal(info.name)})")
            declared_components.add(ref)
        for r in members:
            lines.append(render_resource(r, writer.variables[r.name], comp_vars.get(ref), writer,
                                         info.source if info else None))
            declared_resources.add(r.name)
        if info is not None and last_block[ref] == i:
            needed = referenced_names(info.outputs)
            call = f"{comp_vars[ref]}.register_outputs({writer.value(info.outputs, 0)})"
            if needed <= declared_resources:
                lines.append(call)
            else:
                deferred.append(call)
        where = _where(info.source) if info else ""
        again = " (continued)" if ref in titled else ""
        titled.add(ref)
        title = f"{ref}{again}" + (f"  ·  {where}" if where else "")
        blocks.append(Block(title, "\n".join(lines)))
    if deferred:
        blocks.append(Block("component outputs (they read resources of later components)", "\n".join(deferred)))
    return blocks, comp_vars


# ---------------------------------------------------------------- the project


def collect_assets(plan: Any) -> list[str]:
    """Every file the Plan uploads (`$asset`, `$archive`), once, in Plan order."""
    return list(dict.fromkeys(path for r in plan.resources for path in files(r.properties)))


def asset_destinations(paths: list[str]) -> dict[str, str]:
    """Absolute asset paths → `assets/…` in the project, keeping their layout below a common folder."""
    absolute = [p for p in paths if os.path.isabs(p)]
    if not absolute:
        return {}
    parents = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    common = os.path.commonpath(parents) if len(parents) > 1 else parents[0]
    return {p: "assets/" + (os.path.relpath(p, common).replace(os.sep, "/") if p != common
                            else os.path.basename(p)) for p in absolute}


def requirements(packages: list[str]) -> list[str]:
    """Pins to the SDKs this Plan was compiled against (argument names differ between majors)."""
    from importlib.metadata import PackageNotFoundError, version

    def pinned(dist: str, exact: bool) -> str:
        try:
            v = version(dist)
        except PackageNotFoundError:
            return dist
        return f"{dist}=={v}" if exact else f"{dist}>={v},<{int(v.split('.')[0]) + 1}"

    lines = [pinned("pulumi", exact=False)]
    for package in packages:
        module = SDK_IMPORTS.get(package, (f"pulumi_{package}", package))[0]
        lines.append(pinned(module.replace("_", "-"), exact=True))
    return lines


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("topoform.providers").joinpath(f"templates/{name}").read_text(encoding="utf-8")),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False,
    )


def render_project(plan: Any, *, blueprint_file: str, region: str | None = None,
                   description: str | None = None) -> dict[str, str]:
    """File name → text of the ejected project (assets excepted; see `asset_destinations`)."""
    from topoform import __version__

    names = Names()
    writer = Writer({}, asset_destinations(collect_assets(plan)))
    blocks, _ = build_blocks(plan, writer, names)
    packages = sorted({r.type.split(":")[0] for r in plan.resources} - {"pulumi", "topoform"})
    imports = ["import pulumi"] + [
        f"import {SDK_IMPORTS.get(p, (f'pulumi_{p}', p))[0]} as {SDK_IMPORTS.get(p, (f'pulumi_{p}', p))[1]}"
        for p in packages]
    exports = [(name, writer.value(value, 4)) for name, value in plan.outputs.items()]
    env = _environment()
    context = dict(
        blueprint=plan.blueprint, target=plan.target, stack=plan.stack, version=__version__,
        blueprint_file=os.path.basename(blueprint_file), description=description or "",
        resource_count=len(plan.resources), component_count=len(plan.components),
        imports=imports, blocks=blocks, exports=exports, region=region if plan.target == "aws" else None,
        requirements=requirements(packages), string_literal=string_literal,
        json_string=lambda text: json.dumps(text, ensure_ascii=False),
    )
    return {
        "__main__.py": env.get_template("eject_main.py.j2").render(**context).rstrip("\n") + "\n",
        "Pulumi.yaml": env.get_template("eject_pulumi.yaml.j2").render(**context),
        "requirements.txt": env.get_template("eject_requirements.txt.j2").render(**context),
        ".gitignore": "venv/\n__pycache__/\n",
    }


def write_project(plan: Any, out_dir: str, *, blueprint_file: str, region: str | None = None,
                  description: str | None = None) -> list[str]:
    files = render_project(plan, blueprint_file=blueprint_file, region=region, description=description)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        written.append(path)
    for source, dest in asset_destinations(collect_assets(plan)).items():
        target = os.path.join(out_dir, dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif os.path.exists(source):
            shutil.copy2(source, target)
        written.append(target)
    return written
