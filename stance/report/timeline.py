"""Stance over time: calendar bins (ISO weeks, months, quarters or years, chosen by the corpus'
span) and paragraphs per label in each, empty bins kept so that gaps stay visible."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stance.records import Prediction

WEEKLY_UP_TO_DAYS = 16 * 7  # a corpus spanning up to 16 weeks is binned by week, longer by month
MONTHLY_UP_TO_MONTHS = 24  # ... more than two years by quarter, so that bins hold enough articles for an interval
QUARTERLY_UP_TO_MONTHS = 144  # ... and more than 12 years by year
UNITS = ("week", "month", "quarter", "year")


def parse_date(value: str | None) -> dt.date | None:
    """The calendar date of a record's `date` (YYYY-MM-DD, optionally followed by a time), else None."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def choose_bin_unit(dates: Iterable[dt.date]) -> str:
    """"week" for a corpus spanning up to 16 weeks, "month" up to 2 years, "quarter" up to 12 years, else "year"."""
    dates = list(dates)
    if not dates:
        return "month"
    first, last = min(dates), max(dates)
    if (last - first).days <= WEEKLY_UP_TO_DAYS:
        return "week"
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    if months <= MONTHLY_UP_TO_MONTHS:
        return "month"
    return "quarter" if months <= QUARTERLY_UP_TO_MONTHS else "year"


def bin_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the bin holding `day`: Monday of its ISO week, the 1st of its month or quarter, or 1 January."""
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown bin unit {unit!r}; expected one of {', '.join(UNITS)}")


def bin_range(first: dt.date, last: dt.date, unit: str) -> list[dt.date]:
    """Every bin start from the bin of `first` to the bin of `last`, empty bins included."""
    bins = []
    current = bin_start(first, unit)
    end = bin_start(last, unit)
    while current <= end:
        bins.append(current)
        if unit == "week":
            current += dt.timedelta(days=7)
        elif unit in ("month", "quarter"):
            step = 1 if unit == "month" else 3
            month = current.month - 1 + step
            current = dt.date(current.year + month // 12, month % 12 + 1, 1)
        else:
            current = dt.date(current.year + 1, 1, 1)
    return bins


def bin_label(start: dt.date, unit: str) -> str:
    """How a bin is named on the axis: 2023-W37 (starting Mon 11 Sep), 2023-09, 2023-Q3, 2023."""
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    if unit == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


@dataclass
class TimeSeries:
    """Per bin, paragraphs per label for one target; `undated` paragraphs are left out."""

    unit: str
    bins: list[dt.date]
    counts: list[dict[str, int]]
    undated: int


def stance_over_time(
    records: Sequence[Prediction],
    target: str,
    labels: Sequence[str],
    unit: str | None = None,
    span: tuple[dt.date, dt.date] | None = None,
) -> TimeSeries:
    """Paragraphs per label and time bin for `target`: bins from the first to the last date (or over
    `span`, so that several targets share one axis), empty ones kept."""
    dated = [(parse_date(r.date), r) for r in records if target in r.stance]
    undated = sum(1 for d, _ in dated if d is None)
    known = [(d, r) for d, r in dated if d is not None]
    if span is None and not known:
        return TimeSeries(unit or "month", [], [], undated)
    first, last = span if span is not None else (min(d for d, _ in known), max(d for d, _ in known))
    unit = unit or choose_bin_unit([first, last])
    bins = bin_range(first, last, unit)
    index = {b: i for i, b in enumerate(bins)}
    counts = [dict.fromkeys(labels, 0) for _ in bins]
    for day, record in known:
        label = record.stance[target].label
        row = counts[index[bin_start(day, unit)]]
        row[label] = row.get(label, 0) + 1
    return TimeSeries(unit, bins, counts, undated)
