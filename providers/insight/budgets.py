"""Downtime budgets: how much downtime an availability figure allows (`topoform report`).

A Gregorian year of 365.2425 days (the calendar's long-run mean, so budgets
do not depend on leap years), a month of a twelfth of it, a week of 7 days
and a day of 24 hours. 99.9% allows 8h 45m 57s a year, 43m 49.7s a month,
10m 4.8s a week and 1m 26.4s a day.
"""

from __future__ import annotations

YEAR = 365.2425 * 86400.0
PERIODS: dict[str, float] = {
    "year": YEAR,
    "month": YEAR / 12,
    "week": 7 * 86400.0,
    "day": 86400.0,
}


def downtime(percent: float) -> dict[str, float]:
    """Seconds of downtime per period that `percent` (e.g. 99.9) allows."""
    unavailable = max(0.0, 100.0 - percent) / 100.0
    return {period: seconds * unavailable for period, seconds in PERIODS.items()}


def format_budget(seconds: float) -> str:
    """A budget to a tenth of a second, trailing `.0` dropped: '8h 45m 57s', '1m 0.5s', '8.6s'."""
    tenths = round(seconds * 10)
    if tenths == 0:
        return "0s"
    whole, tenth = divmod(tenths, 10)
    parts = []
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        amount, whole = divmod(whole, factor)
        if amount:
            parts.append(f"{amount}{unit}")
    if whole or tenth or not parts:
        parts.append(f"{whole}.{tenth}s" if tenth else f"{whole}s")
    return " ".join(parts)


def budgets_text(percent: float) -> dict[str, str]:
    return {period: format_budget(seconds) for period, seconds in downtime(percent).items()}
