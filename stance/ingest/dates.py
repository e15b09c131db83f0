"""Dates in article inputs: ISO dates and timestamps, and datelines such as `September, Friday 20, 2024`."""

from __future__ import annotations

import re

_DATELINE_MAX_CHARS = 60
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = {
    "monday", "mon", "tuesday", "tue", "tues", "wednesday", "wed", "thursday", "thu", "thurs",
    "friday", "fri", "saturday", "sat", "sunday", "sun",
}
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")

def normalise_date(value: str | None) -> str | None:
    """`YYYY-MM-DD` for an ISO date or timestamp, an e-mail/RSS timestamp (`Tue, 02 Jan 2024 10:00:00 GMT`)
    or a dateline such as `September, Friday 20, 2024`; anything else is kept as it is."""
    if value is None:
        return None
    return parse_dateline(value) or _rfc2822_date(value) or value


def _rfc2822_date(value: str) -> str | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_dateline(text: str) -> str | None:
    """The ISO date of a short text that is nothing but a date, else None."""
    text = text.strip()
    if len(text) > _DATELINE_MAX_CHARS:
        return None
    iso = _ISO_DATE.match(text)
    if iso and (iso.end() == len(text) or text[iso.end()] in "T "):
        return _valid_date(int(iso[1]), int(iso[2]), int(iso[3]))
    tokens = [t for t in re.split(r"[\s,./]+", text.lower()) if t]
    month = day = year = None
    for token in tokens:
        token = re.sub(r"(?<=\d)(st|nd|rd|th)$", "", token)
        if token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token in _WEEKDAYS:
            continue
        elif token.isdigit() and len(token) == 4 and year is None:
            year = int(token)
        elif token.isdigit() and len(token) <= 2 and day is None:
            day = int(token)
        else:
            return None
    if month and day and year:
        return _valid_date(year, month, day)
    return None


def _valid_date(year: int, month: int, day: int) -> str | None:
    import datetime

    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None
