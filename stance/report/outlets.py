"""Outlet comparison: per outlet and target, the mentioned paragraphs per label, the tone, and the
difference from the other outlets with its 95% interval by bootstrap over articles.

Tone = (paragraphs of positive polarity - paragraphs of negative polarity) / paragraphs that
mention the target, pooled over the outlet's articles (from -1, all unfavorable, to +1, all
favorable). "The other outlets" are every other article that has a source. Only articles with a
source take part; outlets with fewer than MIN_OUTLET_ARTICLES articles are not compared on their
own (their articles still count among "the other outlets").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stance.report.per_article import ArticleRow
from stance.report.uncertainty import ArticleBootstrap, Estimate, difference, grouped_sums

MIN_OUTLET_ARTICLES = 3
MAX_COMPARED = 40  # outlets compared (largest first); the page shows the first MAX_SHOWN
MAX_SHOWN = 12
SMALL_ARTICLES = 5  # a cell resting on fewer articles than this is marked


@dataclass(frozen=True)
class OutletCell:
    """One outlet's coverage of one target."""

    outlet: str
    target: str
    counts: dict[str, int]  # mentioned paragraphs per stance label
    tone: Estimate
    versus_rest: Estimate  # this outlet's tone minus the other outlets'

    @property
    def paragraphs(self) -> int:
        return sum(self.counts.values())

    @property
    def articles(self) -> int:
        return self.tone.articles

    @property
    def small(self) -> bool:
        return self.articles < SMALL_ARTICLES


@dataclass(frozen=True)
class OutletPair:
    target: str
    first: str
    second: str
    difference: Estimate  # tone of `first` minus tone of `second`


@dataclass(frozen=True)
class OutletComparison:
    outlets: list[str]  # compared, largest first
    articles: dict[str, int]  # articles per compared outlet
    cells: dict[tuple[str, str], OutletCell]
    pairs: list[OutletPair]  # every pair of the shown outlets, per target
    overall: dict[str, Estimate]  # per target, the tone over every article with a source
    outlets_total: int  # outlets in the run
    left_out: int  # outlets with fewer than MIN_OUTLET_ARTICLES articles (or beyond MAX_COMPARED)
    without_source: int  # articles without a source (not compared)
    resamples: int
    seed: int

    @property
    def shown(self) -> list[str]:
        return self.outlets[:MAX_SHOWN]


def compare_outlets(
    rows: Sequence[ArticleRow], targets: Sequence[str], stance_labels: Sequence[str], bootstrap: ArticleBootstrap
) -> OutletComparison | None:
    """The outlet x target comparison; None when no article has a source."""
    sourced = [i for i, row in enumerate(rows) if row.source]
    if not sourced:
        return None
    members: dict[str, list[int]] = {}
    for i in sourced:
        members.setdefault(rows[i].source or "", []).append(i)
    by_size = sorted(members, key=lambda o: (-len(members[o]), o))
    compared = [o for o in by_size if len(members[o]) >= MIN_OUTLET_ARTICLES][:MAX_COMPARED]
    groups = [members[o] for o in compared] + [sourced]
    whole = len(compared)
    cells: dict[tuple[str, str], OutletCell] = {}
    pairs: list[OutletPair] = []
    overall: dict[str, Estimate] = {}
    for target in targets:
        sums = grouped_sums(bootstrap, [r.tone.get(target, 0) for r in rows], [r.mentioned(target) for r in rows], groups)
        overall[target] = sums.estimate(whole)
        tones = []
        for g, outlet in enumerate(compared):
            tone, samples = sums.estimate(g), sums.samples(g)
            rest, rest_samples = sums.complement(g, whole)
            counts = dict.fromkeys(stance_labels, 0)
            for i in members[outlet]:
                for label, n in rows[i].counts.get(target, {}).items():
                    counts[label] = counts.get(label, 0) + n
            cells[(outlet, target)] = OutletCell(outlet, target, counts, tone, difference(tone, rest, samples - rest_samples))
            tones.append((tone, samples))
        shown = min(len(compared), MAX_SHOWN)  # pairs of the outlets the page shows (the CSV lists them)
        for a in range(shown):
            for b in range(a + 1, shown):
                (first, first_samples), (second, second_samples) = tones[a], tones[b]
                pairs.append(OutletPair(target, compared[a], compared[b], difference(first, second, first_samples - second_samples)))
    return OutletComparison(
        outlets=compared,
        articles={o: len(members[o]) for o in compared},
        cells=cells,
        pairs=pairs,
        overall=overall,
        outlets_total=len(members),
        left_out=len(members) - len(compared),
        without_source=len(rows) - len(sourced),
        resamples=bootstrap.resamples,
        seed=bootstrap.seed,
    )
