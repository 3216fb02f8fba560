"""A drill's results as text (predicted next to measured) and as JSON."""

from __future__ import annotations

from typing import Any

from .run import Result, failover_seconds


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def load_words(result: Result) -> str:
    """Whose load the figure is of: the entries whose request path runs through the component."""
    entries = getattr(result.scenario, "through", ())
    if not entries:  # no entry's path named it (an AWS drill, a component off every path): the whole load
        return "of the load"
    return f"of the load through {result.scenario.ref}" + (f" (sent to {', '.join(entries)})"
                                                          if entries and entries != (result.scenario.ref,) else "")


def data_words(result: Result) -> str:
    """A data component's own figures: its marker writes (and reads on its other copies)."""
    data = result.data
    if not data or data.get("write_outage_fraction") is None:
        return "no probe of its own (only postgres gets marker rows)"
    words = (f"its writes failed {data['writes_failed_during_fault']} of {data['writes_during_fault']} "
             f"({data['write_outage_fraction']:.0%}) while it was down")
    stopped = {c.resource for c in result.scenario.copies}
    read = {c: v for c, v in data.get("writes_lost_seconds", {}).items() if c not in stopped}
    if read:
        answered = [c for c, v in read.items() if v is not None]
        words += f"; read on {', '.join(answered) or 'none'} of its {len(read)} running copies"
    return words


def measured_words(result: Result) -> str:
    m = result.measured
    if not result.observable:
        return (f"not observable by the load ({m.failed_during_fault} of {m.sent_during_fault} requests through "
                f"it failed, {result.baseline:.0%} before the stop: its callers do not depend on it); "
                f"{data_words(result)}")
    if m.failed_during_fault == 0:
        return f"outage 0% {load_words(result)} (0 of {m.sent_during_fault} requests failed)"
    return (f"outage {m.outage_fraction:.0%} {load_words(result)} ({m.failed_during_fault} of "
            f"{m.sent_during_fault} requests failed, longest {m.longest_outage:.1f} s)")


def as_json(blueprint: str, stack: str, results: list[Result], code: int) -> dict[str, Any]:
    return {
        "blueprint": blueprint, "stack": stack, "exit": code,
        "held": all(r.held for r in results),
        "drills": [{
            "component": r.scenario.ref, "scope": r.scenario.scope,
            "stopped": [c.resource for c in r.scenario.copies],
            "predicted": {"copies": r.scenario.predicted_copies, "basis": r.scenario.basis,
                          "on_request_path": r.scenario.on_path, "down": r.scenario.expect_down,
                          "words": r.scenario.prediction, "detection_window": r.scenario.window,
                          "detection_basis": r.scenario.window_basis},
            "measured": r.measured.as_json(), "measured_through": list(r.scenario.through),
            **({"measured_all_entries": r.measured_all.as_json()} if r.measured_all is not None else {}),
            "fault_at": r.fault_at, "restored_at": r.restored_at, "recovered": r.recovered,
            "matches_prediction": r.matches_prediction, "observable_by_load": r.observable,
            "baseline_outage_fraction": r.baseline,
            "measured_words": measured_words(r),
            "objectives": [{"name": o.name, "held": o.held, "detail": o.detail} for o in r.objectives],
            **({"failover": _failover_json(r)} if r.failover is not None else {}),
            **({"data": r.data} if r.data is not None else {}),
        } for r in results],
    }


def _failover_json(r: Result) -> dict[str, Any]:
    site, got = r.scenario.site, r.failover
    return {"dns_seconds": got.dns_seconds, "dr_serves_seconds": got.dr_serves_seconds, "ttl": site.ttl,
            "failover_seconds": failover_seconds(site, got),
            "rto": {"declared": site.rto, "predicted": site.predicted_rto, "basis": site.predicted_rto_basis},
            "rpo": {"declared": site.rpo, "predicted": site.predicted_rpo},
            "records": [{"name": x.name, "check": x.check} for x in site.records],
            "lag_at_fault": got.lag_at_fault, "writes_lost_seconds": got.data_lost}


def failover_words(r: Result) -> list[str]:
    site, got = r.scenario.site, r.failover
    measured = failover_seconds(site, got)
    lines = [f"RTO predicted {site.predicted_rto:g} s ({site.predicted_rto_basis}) / measured "
             + ("never" if measured is None else f"{measured:g} s") + f" (DNS answered the DR site after "
             f"{_seconds(got.dns_seconds)}, plus a cached answer's TTL {site.ttl:g} s; DR entries served after "
             f"{_seconds(got.dr_serves_seconds)})" + (f"; declared {site.rto:g} s" if site.rto is not None else "")]
    for copy, lost in got.data_lost.items():
        lines.append(f"RPO predicted {site.predicted_rpo:g} s / measured "
                     + ("unreadable" if lost is None else f"{lost:g} s of writes lost") + f" on {copy} (lag at "
                     f"the fault {_seconds(got.lag_at_fault.get(copy))})"
                     + (f"; declared {site.rpo:g} s" if site.rpo is not None else ""))
    return lines


def render_text(blueprint: str, stack: str, results: list[Result], console) -> None:
    from rich.table import Table

    table = Table(title=f"Drill · {blueprint} · stack {stack}", title_justify="left")
    for column in ("component", "stopped", "report said", "measured", "back after restore", "objectives"):
        table.add_column(column)
    for r in results:
        m = r.measured
        table.add_row(
            r.scenario.ref, f"{r.scenario.scope} ({len(r.scenario.copies)})", r.scenario.prediction,
            measured_words(r) + {True: "", False: "  [bold red]≠ report[/]", None: "  (cannot tell)"}[r.matches_prediction],
            _seconds(m.first_success_after_restore),
            "held" if r.held else "[bold red]missed[/]: " + "; ".join(f"{o.name} ({o.detail})"
                                                                       for o in r.objectives if not o.held))
    console.print(table)
    for r in results:
        m = r.measured
        for line in failover_words(r) if r.failover is not None else []:
            console.print(line)
        if r.data is not None:
            console.print(f"{r.scenario.ref}: replica lag at the fault {r.data['lag_at_fault']}; writes acknowledged "
                          f"but missing on a copy (s) {r.data['writes_lost_seconds']}; "
                          f"{r.data['writes_failed_during_fault']} writes failed during the fault")
        console.print(f"{r.scenario.ref}: {m.sent} requests from the fault on, {m.failed} failed; first success "
                      f"after the fault {_seconds(m.first_success_after_fault)}, after the restore "
                      f"{_seconds(m.first_success_after_restore)}; longest outage {m.longest_outage:.1f} s")
    held = all(r.held for r in results)
    console.print("every objective held" if held else "[bold red]an objective was missed[/] (exit 3)")
