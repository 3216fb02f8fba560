"""`topoform report`: one plain dict (the `--json` form, schemas/report.schema.json) and its text.

The dict is built once from the Blueprint — availability, disaster recovery,
consistency, lint — and the text is rendered from the dict, so the two
forms cannot disagree. Times are seconds, availabilities percentages.
"""

from __future__ import annotations

import math
from typing import Any

from topoform.dsl.models import Blueprint
from topoform.dsl.recovery import STRATEGIES, achievable
from topoform.dsl.units import format_span

from .availability import (Member, Parallel, PathBuilder, RequestPath, evaluate, format_percent, members,
                           nines, parallel)
from .budgets import budgets_text, downtime
from .consistency import consistency
from .lint import Finding, lint, rules_table

SCHEMA_VERSION = 1


def _percent(fraction: float) -> float:
    return round(fraction * 100.0, 8)


def _nines(fraction: float) -> float | None:
    value = nines(fraction)
    return None if math.isinf(value) else round(value, 4)


def _cost(value: float) -> float | None:
    """Nines a component costs a path; None when the rest of the path is 100% available (the
    cost is then unbounded: JSON has no infinity)."""
    return None if math.isinf(value) else round(value, 4)


def _member(member: Member) -> dict[str, Any]:
    return {
        "type": "component", "ref": member.ref, "site": member.site, "copies": member.copies,
        "copies_basis": member.copies_basis, "per_copy": member.percent,
        "percent": _percent(member.availability), "source": member.source, "source_label": member.source_label,
    }


def _steps(steps) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        if isinstance(step, Member):
            out.append(_member(step))
        else:
            out.append({"type": "parallel", "label": step.label,
                        "options": [_steps(option) for option in step.options],
                        "percent": _percent(_parallel_value(step))})
    return out


def _parallel_value(step: Parallel) -> float:
    return parallel(evaluate(option) for option in step.options)


def _fix(fix) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {"change": fix.change, "ref": fix.ref, "from": _percent(fix.before), "to": _percent(fix.after),
            "sentence": fix.sentence()}


def _path(builder: PathBuilder, path: RequestPath) -> dict[str, Any]:
    costliest = path.costliest()
    value = path.availability
    return {
        "name": path.name, "entry": path.entry, "kind": path.kind,
        "percent": _percent(value), "text": format_percent(value), "nines": _nines(value),
        "steps": _steps(path.steps),
        "costliest": None if costliest is None else {"ref": costliest[0], "nines": _cost(costliest[1])},
        "fix": _fix(builder.best_fix(path)),
        "notes": list(path.notes),
    }


def availability_section(bp: Blueprint, target: str) -> dict[str, Any]:
    builder = PathBuilder(bp, target)
    paths = builder.paths()
    requests = [p for p in paths if p.kind == "request"]
    weakest = min(requests, key=lambda p: p.availability) if requests else None
    slo = bp.slos.availability if bp.slos and bp.slos.availability is not None else None
    composite = None
    costliest = None
    if weakest is not None:
        value = weakest.availability
        composite = {"percent": _percent(value), "text": format_percent(value), "nines": _nines(value),
                     "path": weakest.name, "downtime": downtime(value * 100.0),
                     "downtime_text": budgets_text(value * 100.0)}
        top = weakest.costliest()
        if top is not None:
            member = next(m for m in _all_members(weakest) if m.ref == top[0])
            costliest = {"ref": top[0], "path": weakest.name, "nines": _cost(top[1]),
                         "per_copy": member.percent, "copies": member.copies, "copies_basis": member.copies_basis,
                         "fix": _fix(builder.best_fix(weakest))}
    verdict = None
    if slo is not None:
        met = None if weakest is None else weakest.availability * 100.0 >= slo - 1e-9
        verdict = {"percent": slo, "met": met, "downtime": downtime(slo), "downtime_text": budgets_text(slo)}
    return {
        "target": target,
        "composite": composite,
        "slo": verdict,
        "costliest": costliest,
        "paths": [_path(builder, p) for p in paths],
        "defaults": [{"kind": kind, "percent": d.percent, "source": d.source}
                     for kind, d in builder.plan.defaults.items()],
        "assumptions": [
            "components on a path are in sequence (A = A1 × A2); copies are in parallel "
            "(A = 1 − (1 − A1)(1 − A2))",
            "failures are independent and failover is instant, so parallel figures are upper bounds",
            "the composite is the weakest request path: every path must meet the objective",
        ],
    }


def _all_members(path: RequestPath) -> list[Member]:
    return members(path.steps)


def _achieved(bp: Blueprint, strategy: str, target: str | None) -> dict[str, Any]:
    """`achievable` plus what the target records it takes its DR databases to take writes (hot DR)."""
    got = achievable(bp, strategy)
    figures = {"rto": got.rto, "rpo": got.rpo, "rto_basis": got.rto_basis, "rpo_basis": got.rpo_basis}
    if strategy == "hot" and target is not None and bp.databases:
        from topoform.providers import analysed_plan

        plan = analysed_plan(bp, target)
        delays = [(info.facts.promotion, info.facts.promotion_basis) for ref, info in plan.components.items()
                  if ref.startswith("databases.") and info.facts is not None and info.facts.promotion]
        if delays:
            delay, why = max(delays)
            figures.update(rto=got.rto + delay, rto_basis=f"{got.rto_basis} + {why}")
    return figures


def recovery_section(bp: Blueprint, target: str | None = None) -> dict[str, Any]:
    dr = bp.disaster_recovery
    strategies = [{"strategy": name, **_achieved(bp, name, target)} for name in STRATEGIES]
    section: dict[str, Any] = {"strategy": None, "region": None, "declared": {"rto": None, "rpo": None},
                               "achievable": None, "meets": {"rto": None, "rpo": None},
                               "strategies": strategies, "notes": []}
    if dr is None:
        section["notes"].append("no disaster_recovery section: a lost site or region is restored by hand, "
                                "if backups survived it")
        return section
    got = _achieved(bp, dr.strategy, target)
    section.update({
        "strategy": dr.strategy, "region": dr.region,
        "declared": {"rto": dr.rto, "rpo": dr.rpo},
        "achievable": got,
        "meets": {"rto": None if dr.rto is None else got["rto"] <= dr.rto,
                  "rpo": None if dr.rpo is None else got["rpo"] <= dr.rpo},
    })
    if dr.strategy in ("backup", "cold"):
        section["notes"].append(f"a {dr.strategy} site serves no traffic until it is restored: it adds no availability")
    return section


def build_report(bp: Blueprint, target: str, strict: bool = False) -> dict[str, Any]:
    """The whole report as plain data (what `report --json` prints)."""
    findings = refused_findings(bp, target) + lint(bp, target, strict)
    counts = {level: sum(f.severity == level for f in findings) for level in ("error", "warning", "info")}
    return {
        "schema_version": SCHEMA_VERSION,
        "blueprint": bp.blueprint,
        "file": bp.file,
        "target": target,
        "availability": availability_section(bp, target),
        "disaster_recovery": recovery_section(bp, target),
        "consistency": [item.as_json() for item in consistency(bp, target)],
        "lint": [f.as_json() for f in findings],
        "summary": {"errors": counts["error"], "warnings": counts["warning"], "infos": counts["info"],
                    "strict": strict},
        "rules": rules_table(),
    }


REFUSED_RULE = "target-refuses"


def refused_findings(bp: Blueprint, target: str) -> list[Finding]:
    """What `plan` would refuse on this target, as error findings: the report still prices the
    design as written, but it cannot be built as it stands (so `report` exits 2)."""
    from topoform.providers import refusals

    return [Finding(REFUSED_RULE, "error", d.file, d.line, d.column, f"the {target} target refuses: {d.message}",
                    d.hint) for d in refusals(bp, target)]


# ------------------------------------------------------------------ text


def _steps_text(steps: list[dict[str, Any]]) -> str:
    parts = []
    for step in steps:
        if step["type"] == "component":
            label = step["ref"] + (" @dr" if step["site"] == "dr" else "")
            parts.append(f"{label} ×{step['copies']}" if step["copies"] > 1 else label)
        else:
            parts.append("( " + " ∥ ".join(_steps_text(o) for o in step["options"]) + " )")
    return " → ".join(parts)


def render_text(report: dict[str, Any], console) -> None:
    """Print the report with rich: availability, disaster recovery, consistency, lint."""
    from rich.markup import escape
    from rich.table import Table

    avail = report["availability"]
    console.print(f"[bold]Topoform report[/bold] · {escape(report['blueprint'])} · target {report['target']}")
    console.print()
    console.print("[bold underline]Availability[/bold underline]")
    members: dict[tuple[str, str], dict] = {}
    for path in avail["paths"]:
        for step in _flatten(path["steps"]):
            members.setdefault((step["ref"], step["site"]), step)
    table = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column, justify in (("component", "left"), ("copies", "right"), ("per copy", "right"),
                            ("together", "right"), ("source", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for (ref, site), step in members.items():
        table.add_row(escape(ref + (" @dr" if site == "dr" else "")), str(step["copies"]),
                      f"{step['per_copy']:g}%", format_percent(step["percent"] / 100.0), escape(step["source_label"]))
    console.print(table)
    paths = Table(header_style="bold", show_edge=False, pad_edge=False)
    paths.add_column("entry")
    paths.add_column("availability", justify="right")
    paths.add_column("path (×N copies in parallel, ∥ alternatives)")
    for path in avail["paths"]:
        entry = path["entry"] + (" (async)" if path["kind"] == "async" else "")
        paths.add_row(escape(entry), path["text"], escape(_steps_text(path["steps"])))
    console.print(paths)
    notes: dict[str, list[str]] = {}
    for path in avail["paths"]:
        for note in path["notes"]:
            notes.setdefault(note, []).append(path["entry"])
    for note, entries in notes.items():
        console.print(f"  [dim]note ({escape(', '.join(dict.fromkeys(entries)))}): {escape(note)}[/dim]")
    sources = {step["source_label"]: step["source"] for step in members.values()}
    for label, source in sources.items():
        if label != source:
            console.print(f"  [dim]{escape(label)}: {escape(source)}[/dim]")
    composite = avail["composite"]
    if composite is None:
        console.print("no request path: nothing serves requests (workers only)")
    else:
        console.print(f"composite (weakest request path): [bold]{composite['text']}[/bold]  ({escape(composite['path'])})")
        budget = composite["downtime_text"]
        console.print(f"  allows downtime of {budget['year']} a year, {budget['month']} a month, "
                      f"{budget['week']} a week, {budget['day']} a day")
    slo = avail["slo"]
    if slo is not None:
        budget = slo["downtime_text"]
        verdict = {True: "[green]met[/green]", False: "[red]missed[/red]", None: "not applicable"}[slo["met"]]
        console.print(f"SLO {slo['percent']:g}%: {verdict}  (its budget: {budget['year']} a year, "
                      f"{budget['month']} a month, {budget['week']} a week, {budget['day']} a day)")
    costliest = avail["costliest"]
    if costliest is not None:
        each = " each" if costliest["copies"] > 1 else ""
        cost = ("every nine the path lacks (the rest of the path is 100%)" if costliest["nines"] is None
                else f"{costliest['nines']:.2f} nines")
        console.print(f"costs the most nines: [bold]{costliest['ref']}[/bold] ({escape(costliest['copies_basis'])}, "
                      f"{costliest['per_copy']:g}%{each}): {cost}")
        fix = costliest["fix"]
        if fix and fix["ref"] != costliest["ref"]:
            console.print(f"  no blueprint setting adds a copy of {costliest['ref']}; "
                          f"the best change: {escape(fix['sentence'])}")
        elif fix:
            console.print(f"  fix: {escape(fix['sentence'])}")
    console.print()

    dr = report["disaster_recovery"]
    console.print("[bold underline]Disaster recovery[/bold underline]")
    if dr["strategy"] is None:
        console.print("no disaster_recovery section")
    else:
        got = dr["achievable"]
        console.print(f"strategy {dr['strategy']}" + (f" (region {dr['region']})" if dr["region"] else ""))
        for key in ("rto", "rpo"):
            declared = dr["declared"][key]
            status = "" if declared is None else (
                f"  declared {format_span(declared)}: " + ("[green]met[/green]" if dr["meets"][key] else "[red]missed[/red]"))
            console.print(f"  achievable {key.upper()} {format_span(got[key])} ({escape(got[key + '_basis'])}){status}")
    strategies = Table(header_style="bold", show_edge=False, pad_edge=False)
    for column in ("strategy", "RTO", "RPO", "why"):
        strategies.add_column(column)
    for item in dr["strategies"]:
        strategies.add_row(item["strategy"], format_span(item["rto"]), format_span(item["rpo"]),
                           escape(f"{item['rto_basis']}; {item['rpo_basis']}"))
    console.print(strategies)
    for note in dr["notes"]:
        console.print(f"  [dim]note: {escape(note)}[/dim]")
    console.print()

    console.print("[bold underline]Consistency[/bold underline]")
    if not report["consistency"]:
        console.print("no replicated store")
    for item in report["consistency"]:
        console.print(f"  {escape(item['summary'])}", highlight=False)
    console.print()

    console.print("[bold underline]Lint[/bold underline]")
    colours = {"error": "red", "warning": "yellow", "info": "blue"}
    for finding in report["lint"]:
        colour = colours[finding["severity"]]
        console.print(f"{finding['file']}:{finding['line']}:{finding['column']}: "
                      f"[bold {colour}]{finding['severity']}:[/bold {colour}] {escape(finding['message'])} "
                      f"[dim]\\[{finding['rule']}][/dim]", highlight=False)
        if finding.get("hint"):
            console.print(f"  hint: {escape(finding['hint'])}", highlight=False)
    summary = report["summary"]
    console.print(f"{summary['errors']} error(s), {summary['warnings']} warning(s), {summary['infos']} note(s)")


def _flatten(steps: list[dict[str, Any]]):
    for step in steps:
        if step["type"] == "component":
            yield step
        else:
            for option in step["options"]:
                yield from _flatten(option)
