"""The run's paragraphs summed per article: the rows the bootstrap resamples.

For each article (doc_id) and target: the paragraphs per label among those that mention it (label
other than not_mentioned), and the tone sum, +1 for a paragraph of positive polarity, -1 for one
of negative polarity, 0 for a neutral one. An article's outlet is its paragraphs' source, its date
their date (the first one given).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from stance.config import StanceConfig
from stance.records import Prediction
from stance.report.timeline import parse_date


@dataclass
class ArticleRow:
    """One article's mentioned paragraphs per target and label."""

    doc_id: str
    source: str | None
    date: dt.date | None
    paragraphs: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # target -> label -> mentioned paragraphs
    tone: dict[str, int] = field(default_factory=dict)  # target -> (positive - negative) paragraphs

    def mentioned(self, target: str) -> int:
        return sum(self.counts.get(target, {}).values())


@dataclass(frozen=True)
class Polarity:
    """Which stance labels raise the tone (+1) and which lower it (-1); the config's polarities."""

    positive: frozenset[str]
    negative: frozenset[str]

    @classmethod
    def of(cls, config: StanceConfig) -> Polarity:
        return cls(frozenset(config.labels_with("positive")), frozenset(config.labels_with("negative")))

    def sign(self, label: str) -> int:
        return 1 if label in self.positive else -1 if label in self.negative else 0


def article_rows(records: Sequence[Prediction], targets: Sequence[str], not_mentioned: str, polarity: Polarity) -> list[ArticleRow]:
    """One row per article, in the order articles first appear in the run."""
    rows: dict[str, ArticleRow] = {}
    for record in records:
        doc = record.doc_id or record.id
        row = rows.get(doc)
        if row is None:
            row = rows[doc] = ArticleRow(doc, _clean(record.source), parse_date(record.date))
        if row.source is None and _clean(record.source):
            row.source = _clean(record.source)
        if row.date is None:
            row.date = parse_date(record.date)
        row.paragraphs += 1
        for target in targets:
            result = record.stance.get(target)
            if result is None or result.label == not_mentioned:
                continue
            per_label = row.counts.setdefault(target, {})
            per_label[result.label] = per_label.get(result.label, 0) + 1
            row.tone[target] = row.tone.get(target, 0) + polarity.sign(result.label)
    return list(rows.values())


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None
