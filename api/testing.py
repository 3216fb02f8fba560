"""Unit-test a blueprint: run the real Pulumi program under mocked providers.

    from topoform.testing import synth
    stack = synth("blueprints/shop.yaml", target="aws")
    stack.has_resource_properties("aws:sqs/queue:Queue", {"fifo_queue": True})

`synth` compiles the blueprint to its Plan and runs the same program `up`
runs, under `pulumi.runtime` mocks: no Pulumi CLI, no credentials, no
network. It records every registration (type, name, inputs, parent,
dependencies) and fills computed outputs (ARNs, endpoints, passwords) with
realistic values, so code reading them is exercised. Each call is isolated;
call it as often as you like in one process.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import pulumi
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import resource as _resource_runtime
from pulumi.runtime import rpc, settings
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.sync_await import _sync_await

from topoform.dsl import Blueprint, load_blueprint
from topoform.dsl.collector import gc_paused
from topoform.providers import compile_plan
from topoform.providers.plan import Plan
from topoform.providers.program import run_plan

from .mock_outputs import computed_outputs, invoke, resource_id

_CAMEL_KEY = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_UPPER = re.compile(r"(?<!^)([A-Z])")


def snake(name: str) -> str:
    return _UPPER.sub(r"_\1", name).lower() if _CAMEL_KEY.match(name) else name


def _normalise(value: Any, keys: bool) -> Any:
    """Engine form → Plan form: integral floats back to ints, camelCase keys to snake_case."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {(snake(k) if keys else k): _normalise(v, keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v, keys) for v in value]
    return value


class Inputs(dict):
    """A resource's inputs as the engine received them; `get` takes snake_case too."""

    def __missing__(self, key: str) -> Any:
        for candidate in self:
            if snake(candidate) == key:
                return dict.__getitem__(self, candidate)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def snake(self) -> dict[str, Any]:
        """The inputs with snake_case keys at every level (the Plan's spelling)."""
        return _normalise(dict(self), keys=True)


@dataclass
class SynthResource:
    type: str
    name: str
    inputs: Inputs
    outputs: dict[str, Any]
    parent: str | None
    dependencies: list[str]
    custom: bool
    urn: str
    # Pulumi `protect`: the engine refuses to delete it (stateful components).
    protect: bool = False
    # `additional_secret_outputs` as the engine received them (engine spelling, camelCase).
    secret_outputs: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<{self.type} {self.name}>"


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        state = computed_outputs(args.typ, args.name, args.inputs)
        return resource_id(args.typ, args.name, args.inputs), state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return invoke(args.token, args.args), []  # no check failures (the SDK iterates them)


def _run_now(coroutine: Any) -> tuple[bool, Any]:
    """Run a coroutine that awaits nothing pending to its end, here; (False, None) if it would wait."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return True, stop.value
    coroutine.close()
    return False, None


class _RecordingMonitor(_mocks.MockMonitor):
    """Records every registration request, not only the state the mock returned.

    `MockMonitor.RegisterResource` (pulumi 3.272) serialises the mock's state
    through `_sync_await`, a nested run of the event loop per resource, and
    deserialises the inputs we then deserialise again for the result. This
    does the same work once, and serialises synchronously: the state is plain
    data, so the coroutine finishes without waiting on anything (if it would
    wait, the SDK's own path runs instead). The response is the same message.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.requests: list[tuple] = []  # (request, urn, deserialised inputs)

    def RegisterResource(self, request):
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        _mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type, name=request.name, inputs=inputs, provider=request.provider,
            resource_id=request.importId, custom=request.custom or False,
            transforms=_mocks._resolve_callbacks(request.transforms),
        )
        id_, state = self.mocks.new_resource(args)
        done, serialized = _run_now(rpc.serialize_properties(state, {}))
        if not done:
            serialized = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = _mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        self.requests.append((request, urn, inputs))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=serialized)


def _no_stack_trace() -> Any:
    return source_pb2.StackTrace()


@contextmanager
def _fast_registration() -> Iterator[None]:
    """What a run under mocks does not need, switched off for its duration only.

    - the cyclic GC (`gc_paused(freeze=True)`, dsl/collector.py): the SDK allocates several
      futures and tasks per resource, and collections would rescan the growing heap;
    - `_get_stack_trace`: the SDK walks the Python stack (`traceback.extract_stack`)
      for every resource to tell the engine which source line created it; the
      mock monitor ignores it. The SDK has no setting to skip it, so it is
      replaced for the run and put back after.
    """
    original = _resource_runtime._get_stack_trace
    _resource_runtime._get_stack_trace = _no_stack_trace
    try:
        with gc_paused(freeze=True):
            yield
    finally:
        _resource_runtime._get_stack_trace = original


def _name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


@dataclass
class SynthStack:
    """What the program registered. Assertion helpers match partially, CDK-style."""

    plan: Plan
    resources: list[SynthResource]
    components: list[SynthResource]
    outputs: dict[str, Any]
    _by_name: dict[str, SynthResource] = field(default_factory=dict, repr=False)

    def of_type(self, token: str) -> list[SynthResource]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> SynthResource:
        try:
            return self._by_name[name]
        except KeyError:
            close = [n for n in self._by_name if name in n or n in name][:5]
            raise KeyError(f"no resource named {name!r}" + (f"; close: {', '.join(close)}" if close else "")) from None

    def __iter__(self) -> Iterator[SynthResource]:
        return iter(self.resources)

    def find(self, token: str, partial: dict[str, Any] | None = None) -> list[SynthResource]:
        """Resources of `token` whose inputs contain `partial` (snake_case keys, nested)."""
        return [r for r in self.of_type(token) if not mismatch(partial or {}, r.inputs.snake())]

    def has_resource_properties(self, token: str, partial: dict[str, Any]) -> SynthResource:
        """Assert one resource of `token` matches `partial`; on failure, say where the closest differs."""
        candidates = self.of_type(token)
        if not candidates:
            present = sorted({r.type for r in self.resources})
            raise AssertionError(f"no resource of type {token}; types present: {', '.join(present)}")
        reasons = []
        for resource in candidates:
            problem = mismatch(partial, resource.inputs.snake())
            if problem is None:
                return resource
            reasons.append(f"  {resource.name}: {problem}")
        raise AssertionError(f"no {token} matches {partial!r}:\n" + "\n".join(reasons[:10]))

    def resource_count_is(self, token: str, count: int) -> None:
        found = len(self.of_type(token))
        if found != count:
            raise AssertionError(f"expected {count} resource(s) of type {token}, found {found}")


def mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """None if `actual` contains `expected` (dicts partially, lists element-wise); else where it differs."""
    where = path or "(top)"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"at {where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            if key not in actual:
                return f"at {path + '.' if path else ''}{key}: missing (has {', '.join(sorted(map(str, actual))) or 'nothing'})"
            problem = mismatch(value, actual[key], f"{path}.{key}" if path else str(key))
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"at {where}: expected {expected!r}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            problem = mismatch(e, a, f"{path}[{i}]")
            if problem:
                return problem
        return None
    if expected != actual:
        return f"at {where}: expected {expected!r}, got {actual!r}"
    return None


def synth_plan(plan: Plan) -> SynthStack:
    """Run the program for an already compiled Plan under mocks."""
    mocks = _Mocks()
    monitor = _RecordingMonitor(mocks)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    project = plan.blueprint
    settings.reset_options(project=project, stack=plan.stack, preview=False)
    pulumi.runtime.set_mocks(mocks, project=project, stack=plan.stack, preview=False, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    result: dict[str, Any] = {}

    def program() -> None:
        outputs = run_plan(plan, export=False)
        result.update(_sync_await(_resolved(outputs)))

    try:
        with _fast_registration():
            _sync_await(_mocks.run_pulumi_func(program))
            resources, components, by_name = _recorded(monitor)
    finally:
        settings.reset_options()
        asyncio.set_event_loop(None)
        loop.close()
    return SynthStack(plan, resources, components, result, by_name)


async def _resolved(outputs: dict[str, Any]) -> dict[str, Any]:
    """The stack outputs' values: one await per Output (`Output.from_input` of the
    whole dict would build an Output per key and per level first)."""
    names = list(outputs)
    values = await asyncio.gather(*(_value_of(outputs[name]) for name in names))
    return dict(zip(names, values))


async def _value_of(value: Any) -> Any:
    if isinstance(value, pulumi.Output):
        return await value.future()
    if isinstance(value, (dict, list)):
        return await pulumi.Output.from_input(value).future()
    return value


def _recorded(monitor: _RecordingMonitor) -> tuple[list[SynthResource], list[SynthResource], dict[str, SynthResource]]:
    resources, components, by_name = [], [], {}
    for request, urn, raw_inputs in monitor.requests:
        state = monitor.resources.get(urn)
        item = SynthResource(
            type=request.type, name=request.name, inputs=Inputs(_normalise(raw_inputs, keys=False)),
            outputs=_normalise(dict(state.state), keys=False) if state else {},
            parent=_name_of(request.parent) if request.parent else None,
            dependencies=sorted(_name_of(d) for d in request.dependencies),
            custom=bool(request.custom), urn=urn, protect=bool(request.protect),
            secret_outputs=list(request.additionalSecretOutputs),
        )
        (resources if item.custom else components).append(item)
        if item.custom:
            by_name[item.name] = item
    return resources, components, by_name


def synth(blueprint: str | Blueprint, target: str | None = None, stack: str = "test",
          variables: dict[str, Any] | None = None) -> SynthStack:
    """Compile `blueprint` (a path or a loaded Blueprint) for `target` and run it under mocks.

    Raises topoform.dsl.BlueprintError (with every diagnostic) for an invalid blueprint.
    """
    if isinstance(blueprint, Blueprint):
        if variables:
            raise ValueError("variables apply when loading; pass a path, or load with variables= first")
        bp = blueprint
    else:
        bp = load_blueprint(str(blueprint), variables=variables, target=target)
    with gc_paused(freeze=True):  # one pause over compile and run: the heap is frozen once
        plan = compile_plan(bp, target or bp.default_target, stack)
        return synth_plan(plan)
