"""Stance over time with uncertainty: per target and calendar bin, the tone of the mentioned
paragraphs with its 95% interval by bootstrap over the bin's articles, the counts it rests on
(paragraphs per label, articles per article stance), and whether the bin is small."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from stance.records import DocumentSummary
from stance.report.articles import article_counts_over_time
from stance.report.per_article import ArticleRow
from stance.report.timeline import bin_label, bin_start
from stance.report.uncertainty import ArticleBootstrap, Estimate, grouped_sums

SMALL_BIN_ARTICLES = 5  # a bin resting on fewer articles than this is marked small


@dataclass(frozen=True)
class TrendBin:
    start: dt.date
    name: str
    tone: Estimate  # articles: articles of the bin that mention the target
    paragraphs: dict[str, int]  # mentioned paragraphs per stance label
    articles: dict[str, int]  # articles per article stance (documents.jsonl)

    @property
    def small(self) -> bool:
        return self.tone.articles < SMALL_BIN_ARTICLES

    @property
    def mentioned(self) -> int:
        return sum(self.paragraphs.values())


@dataclass(frozen=True)
class Trend:
    target: str
    unit: str
    bins: list[TrendBin]


def tone_trends(
    rows: Sequence[ArticleRow], documents: Sequence[DocumentSummary], targets: Sequence[str], stance_labels: Sequence[str],
    unit: str, bins: Sequence[dt.date], bootstrap: ArticleBootstrap,
) -> dict[str, Trend]:
    """Per target, one `TrendBin` per bin of `bins` (empty bins kept: n=0, no tone)."""
    index = {b: i for i, b in enumerate(bins)}
    members: list[list[int]] = [[] for _ in bins]
    for i, row in enumerate(rows):
        if row.date is not None:
            start = bin_start(row.date, unit)
            if start in index:
                members[index[start]].append(i)
    articles = article_counts_over_time(documents, bins, unit, targets, stance_labels)
    out = {}
    for target in targets:
        sums = grouped_sums(bootstrap, [r.tone.get(target, 0) for r in rows], [r.mentioned(target) for r in rows], members)
        trend_bins = []
        for b, start in enumerate(bins):
            paragraphs = dict.fromkeys(stance_labels, 0)
            for i in members[b]:
                for label, n in rows[i].counts.get(target, {}).items():
                    paragraphs[label] = paragraphs.get(label, 0) + n
            trend_bins.append(TrendBin(start, bin_label(start, unit), sums.estimate(b), paragraphs, articles[target][b]))
        out[target] = Trend(target, unit, trend_bins)
    return out
