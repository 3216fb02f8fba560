"""`plan`'s plain-text output: widths, whole names, colour, the summary, and streaming."""

from __future__ import annotations

import fcntl
import io
import os
import re
import struct
import termios
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoform.cli.plan_text import text_width, use_color, write_plan_text
from topoform.dsl.diagnostics import Diagnostic, Position
from topoform.dsl.validate import validate_file
from topoform.providers import compile_plan
from topoform.providers.plan import REFERENCE_RE, ComponentInfo, Plan, Resource, referenced_names

ROOT = Path(__file__).resolve().parent.parent
BLUEPRINTS = sorted((ROOT / "blueprints").glob("*.yaml"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_NAME = "svc-" + "very-long-component-name-" * 3 + "execution-policy"


def compiled(path: Path, target: str) -> Plan:
    result = validate_file(str(path), {}, target)
    assert result.blueprint is not None, [d.render() for d in result.diagnostics]
    return compile_plan(result.blueprint, target, "dev")


def small_plan() -> Plan:
    """Two services, a queue, a platform added to after the queue, one protected resource."""
    plan = Plan("shop", "aws", "dev")
    for ref, kind, line in [("platform", "Platform", 1), ("services.web", "Service", 4),
                            ("services.api", "Service", 9), ("queues.jobs", "Queue", 14),
                            ("slos", "Slos", 20)]:
        plan.components[ref] = ComponentInfo(ref, f"topoform:index:{kind}", Position("shop.yaml", line, 1))
    plan.add(Resource("aws:ec2/vpc:Vpc", "net-vpc", "platform", {}))
    plan.add(Resource("aws:ecs/service:Service", "svc-web", "services.web",
                      {"queue": "${queue-jobs.url}", "literal": "$${not-a-ref.id}"}, depends_on=["net-vpc"]))
    plan.add(Resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", LONG_NAME, "services.web",
                      {"role": "${svc-web.id}"}))
    plan.add(Resource("aws:ecs/service:Service", "svc-api", "services.api", {}, depends_on=["net-vpc"]))
    plan.add(Resource("aws:sqs/queue:Queue", "queue-jobs", "queues.jobs", {}, protect=True))
    plan.add(Resource("aws:ecs/cluster:Cluster", "ecs-cluster", "platform", {}))
    plan.outputs["services.web.url"] = "http://web"
    plan.warnings.append(Diagnostic("shop.yaml", 20, 1, "warning", "slos create no alarms here", "try aws"))
    return plan


def render(plan: Plan, width: int, color: bool = False) -> str:
    out = io.StringIO()
    write_plan_text(plan, out, width=width, color=color)
    return out.getvalue()


def tokens(line: str) -> list[str]:
    return [t.rstrip(",") for t in line.split() if t not in ("←", "<-")]


def check_layout(text: str, plan: Plan, width: int) -> None:
    lines = text.splitlines()
    for line in lines:
        # Longer than the width only for one unbreakable token (after its indent and arrow).
        assert len(line) <= width or len(tokens(line)) == 1, (width, line)
    words = {t for line in lines for t in tokens(line)}
    for resource in plan.resources:
        assert resource.name in words, f"{resource.name} is not shown whole at {width} columns"
        assert resource.type in words, f"{resource.type} is not shown whole at {width} columns"


@pytest.mark.parametrize("width", [80, 100, 140])
@pytest.mark.parametrize("target", ["docker", "aws"])
@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.stem)
def test_blueprints_fit_every_width_with_whole_names(path, target, width):
    plan = compiled(path, target)
    text = render(plan, width)
    check_layout(text, plan, width)
    # Every dependency is listed, in full.
    words = {t for line in text.splitlines() for t in tokens(line)}
    for resource in plan.resources:
        assert set(plan.dependencies(resource)) <= words


@pytest.mark.parametrize("width", [80, 100, 140])
def test_types_are_aligned_within_a_component(width):
    plan = compiled(ROOT / "blueprints" / "three-tier.yaml", "aws")
    text = render(plan, width)
    names = {r.name: r.type for r in plan.resources}
    for block in text.split("\n\n")[1:-1]:  # the components, between the title and the summary
        columns = set()
        for line in block.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and names.get(parts[0]) == parts[1]:  # name and type on one line
                columns.add(line.index(parts[1], len(line) - len(line.lstrip()) + len(parts[0])))
        assert len(columns) <= 1, (width, block)


def test_a_long_name_moves_its_type_to_a_continuation_line():
    plan = small_plan()
    text = render(plan, 80)
    check_layout(text, plan, 80)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if LONG_NAME in line)
    assert lines[at].strip() == LONG_NAME
    assert lines[at + 1].strip().startswith("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    # Its dependency follows, whole.
    assert "svc-web" in tokens(lines[at + 2])


def test_dependencies_wrap_to_the_width_and_are_never_cut():
    plan = Plan("wide", "docker", "dev")
    plan.components["platform"] = ComponentInfo("platform", "topoform:index:Platform", Position("w.yaml", 1, 1))
    deps = [f"dependency-number-{i}" for i in range(40)]
    for name in deps:
        plan.add(Resource("docker:index/network:Network", name, "platform", {}))
    plan.add(Resource("docker:index/container:Container", "app", "platform", {}, depends_on=deps))
    for width in (80, 100, 140):
        text = render(plan, width)
        check_layout(text, plan, width)
        start = text.index("app ")
        listed = [t for line in text[start:].split("\n\n")[0].splitlines() for t in tokens(line)]
        assert listed[2:] == sorted(deps)  # name, type, then every dependency (sorted)


def test_heading_has_the_kind_and_the_blueprint_line():
    plan = small_plan()
    plan.components["queues.jobs"].source = Position("other.yaml", 3, 3)
    text = render(plan, 100)
    assert text.splitlines()[0] == "shop · aws · stack dev  (shop.yaml)"
    assert "\nservices.web  Service · line 4\n" in text
    assert "\nqueues.jobs  Queue · other.yaml:3\n" in text  # another file than the title's


def test_components_group_their_resources_in_blueprint_order():
    text = render(small_plan(), 100)
    blocks = text.split("\n\n")[1:-1]
    assert [b.split()[0] for b in blocks] == ["platform", "services.web", "services.api", "queues.jobs"]
    # ecs-cluster was added after the queue, and is shown with the platform.
    assert "ecs-cluster" in blocks[0]
    assert "queue-jobs [protected]" in blocks[3]


def test_summary_counts_kinds_types_outputs_and_warnings():
    text = render(small_plan(), 100)
    summary = text.split("\n\n")[-1].splitlines()
    assert summary == [
        "6 to add, 0 to change, 0 to destroy (3 blueprint components + platform)",
        "  components    2 Service, 1 Platform, 1 Queue",
        "  resources     2  aws:ecs/service:Service",
        "                1  aws:ec2/vpc:Vpc",
        "                1  aws:ecs/cluster:Cluster",
        "                1  aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "                1  aws:sqs/queue:Queue",
        "  no resources  slos",
        "  outputs       1 (see --json)",
        "1 warning:",
        "  shop.yaml:20:1: warning: slos create no alarms here",
        "    hint: try aws",
        "Deploy with: topoform up --target aws",
    ]


def test_summary_of_a_compiled_plan_adds_up():
    plan = compiled(ROOT / "blueprints" / "three-tier.yaml", "aws")
    summary = render(plan, 140).split("\n\n")[-1]
    assert summary.startswith(f"{len(plan.resources)} to add, 0 to change, 0 to destroy")
    counted = [int(m) for m in re.findall(r"^ {2}(?:resources {5}| {14})\s*(\d+)  \S+$", summary, re.M)]
    assert sum(counted) == len(plan.resources)


class Stream(io.StringIO):
    def __init__(self, tty: bool, encoding: str = "utf-8") -> None:
        super().__init__()
        self.tty, self._encoding = tty, encoding

    def isatty(self) -> bool:
        return self.tty

    @property
    def encoding(self) -> str:
        return self._encoding


def test_width_of_a_pipe_and_of_a_terminal():
    pipe, tty = Stream(False), Stream(True)
    assert text_width(pipe, {}) == 100
    assert text_width(pipe, {"COLUMNS": "120"}) == 120
    assert text_width(pipe, {"COLUMNS": "300"}) == 300  # a pipe's COLUMNS is honoured as given
    assert text_width(pipe, {"COLUMNS": "junk"}) == 100
    assert text_width(tty, {"COLUMNS": "200"}) == 140
    assert text_width(tty, {"COLUMNS": "60"}) == 80
    assert text_width(tty, {"COLUMNS": "120"}) == 120


@pytest.mark.parametrize("columns, expected", [(120, 120), (200, 140), (50, 80)])
def test_width_of_a_real_terminal_is_clamped(columns, expected, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    main, side = os.openpty()
    try:
        fcntl.ioctl(side, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        with open(side, "w", closefd=False) as terminal:
            assert text_width(terminal) == expected
    finally:
        os.close(main)
        os.close(side)


def test_colour_only_on_a_terminal():
    assert use_color(Stream(True), {}) is True
    assert use_color(Stream(False), {}) is False
    assert use_color(Stream(True), {"NO_COLOR": "1"}) is False
    assert use_color(Stream(True), {"TERM": "dumb"}) is False
    plan = small_plan()
    piped, terminal = Stream(False), Stream(True)
    write_plan_text(plan, piped, width=100)
    write_plan_text(plan, terminal, width=100)
    assert "\x1b[" not in piped.getvalue()
    assert "\x1b[" in terminal.getvalue()
    # Colour changes nothing else: the same text, the same alignment.
    assert ANSI.sub("", terminal.getvalue()) == piped.getvalue()


def test_a_stream_that_cannot_encode_the_arrow_gets_ascii():
    plan = small_plan()
    out = Stream(False, encoding="ascii")
    write_plan_text(plan, out, width=100)
    out.getvalue().encode("ascii")
    assert "<- net-vpc" in out.getvalue()
    assert out.getvalue().splitlines()[0] == "shop - aws - stack dev  (shop.yaml)"


def test_it_streams_component_by_component():
    """The first component reaches the stream before the last is laid out."""
    events: list[str] = []

    class Recorder(io.StringIO):
        def write(self, text: str) -> int:
            events.append("write:" + text.split("\n", 2)[1 if text.startswith("\n") else 0])
            return super().write(text)

    class Watched(Plan):
        def dependencies(self, resource):
            events.append("render:" + resource.name)
            return super().dependencies(resource)

    plan = compiled(ROOT / "blueprints" / "three-tier.yaml", "docker")
    watched = Watched(plan.blueprint, plan.target, plan.stack, components=plan.components)
    for resource in plan.resources:
        watched.add(resource)
    write_plan_text(watched, Recorder(), width=100)
    first = next(i for i, e in enumerate(events) if e.startswith("write:platform"))
    last_resource = [e for e in events if e.startswith("render:")][-1]
    assert first < events.index(last_resource)
    assert sum(e.startswith("write:") for e in events) >= len({r.component for r in plan.resources})


# providers/plan.py's look-behind-free scan against the look-behind form it
# replaced (slower: `(?<!\$)` keeps the regex engine from its literal-prefix
# search) and against what the program resolves.
PREVIOUS_NAME_RE = re.compile(
    r"(?<!\$)\$\{([a-z0-9][a-z0-9-]*)\.[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*\}")


def resolved(text: str) -> set[str]:
    """What the program resolves: REFERENCE_RE left to right, escapes skipped."""
    return {m.group(1) for m in REFERENCE_RE.finditer(text) if m.group(1)}


REFERENCE_TEXT = st.lists(st.sampled_from(["$", "$$", "${", "$${", "{", "}", ".", "[0]", "a", "db-1", "x_y", "-", " "]),
                          max_size=30).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(REFERENCE_TEXT, st.text(alphabet="${}.[]ab-01_Xy ", max_size=40)))
def test_reference_scan_equals_the_look_behind_form_and_the_resolver(text):
    assert referenced_names(text) == set(PREVIOUS_NAME_RE.findall(text)) == resolved(text)
