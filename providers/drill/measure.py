"""Figures of one drill from the probe's samples and the moments of fault and restore."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .probe import Sample


@dataclass
class Measured:
    sent: int  # requests sent from the fault until the end of the drill
    failed: int
    sent_during_fault: int  # from the fault until the restore
    failed_during_fault: int
    outage_fraction: float  # failed / sent, during the fault
    longest_outage: float  # s: first failure of the longest run of failures → the next success
    first_success_after_fault: float | None  # s after the fault (None: none before the restore)
    first_success_after_restore: float | None  # s after the restore (None: the stack did not come back)
    last_failure_after_fault: float | None  # s after the fault of the last failed request sent before the restore

    def as_json(self) -> dict:
        return asdict(self)


def measure(samples: list[Sample], fault: float, restore: float) -> Measured:
    after = sorted((s for s in samples if s.sent >= fault), key=lambda s: s.sent)
    during = [s for s in after if s.sent < restore]
    failed_during = [s for s in during if not s.ok]
    longest, run_start = 0.0, None
    for sample in after:
        if not sample.ok:
            run_start = sample.sent if run_start is None else run_start
        elif run_start is not None:
            longest = max(longest, sample.done - run_start)
            run_start = None
    if run_start is not None:  # still failing when the probe ended
        longest = max(longest, after[-1].done - run_start)
    first_fault = next((s.done - fault for s in during if s.ok), None)
    first_restore = next((s.done - restore for s in after if s.ok and s.sent >= restore), None)
    return Measured(
        sent=len(after), failed=sum(not s.ok for s in after),
        sent_during_fault=len(during), failed_during_fault=len(failed_during),
        outage_fraction=(len(failed_during) / len(during)) if during else 0.0,
        longest_outage=round(longest, 2),
        first_success_after_fault=None if first_fault is None else round(first_fault, 2),
        first_success_after_restore=None if first_restore is None else round(first_restore, 2),
        last_failure_after_fault=round(failed_during[-1].sent - fault, 2) if failed_during else None,
    )


def through(samples: list[Sample], entries: tuple[str, ...]) -> list[Sample]:
    """The samples of the load sent to `entries` (every sample when none is named)."""
    return [s for s in samples if s.entry in entries] if entries else list(samples)
