"""The article view: documents.jsonl (one `DocumentSummary` per article, its stance toward each
target by the rule of `stance.documents`) counted per target, by outlet and over time, and the
frames of articles with their co-occurrence with each stance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stance.records import DocumentSummary
from stance.report.timeline import bin_start, parse_date

TOP_FRAMES = 3  # frames named per target and stance in the page's summary table


@dataclass(frozen=True)
class FrameShare:
    frame: str
    articles: int  # articles with the stance that carry the frame
    of: int  # articles with the stance

    @property
    def share(self) -> float:
        return self.articles / self.of if self.of else 0.0


def article_counts(documents: Sequence[DocumentSummary], targets: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """target -> article label -> articles (every label of `labels` present, zeros included; labels
    outside `labels`, such as not_mentioned, are not counted)."""
    counts = {t: dict.fromkeys(labels, 0) for t in targets}
    for document in documents:
        for target in targets:
            result = document.stance.get(target)
            if result is not None and result.label in counts[target]:
                counts[target][result.label] += 1
    return counts


def article_counts_by(
    documents: Sequence[DocumentSummary], key: Callable[[DocumentSummary], str | None], keys: Sequence[str],
    targets: Sequence[str], labels: Sequence[str],
) -> dict[str, dict[str, dict[str, int]]]:
    """group -> target -> article label -> articles, for the groups `keys` (in that order)."""
    members: dict[str, list[DocumentSummary]] = {k: [] for k in keys}
    for document in documents:
        group = key(document)
        if group in members:
            members[group].append(document)
    return {k: article_counts(members[k], targets, labels) for k in keys}


def source_of(document: DocumentSummary) -> str | None:
    text = (document.source or "").strip()
    return text or None


def bin_of(unit: str) -> Callable[[DocumentSummary], str | None]:
    """The key of a document's time bin (its start date, ISO) under `unit`; None when undated."""

    def key(document: DocumentSummary) -> str | None:
        day = parse_date(document.date)
        return bin_start(day, unit).isoformat() if day is not None else None

    return key


def article_counts_over_time(
    documents: Sequence[DocumentSummary], bins: Sequence[dt.date], unit: str, targets: Sequence[str], labels: Sequence[str]
) -> dict[str, list[dict[str, int]]]:
    """target -> per bin (in `bins` order) article label -> articles."""
    keys = [b.isoformat() for b in bins]
    grouped = article_counts_by(documents, bin_of(unit), keys, targets, labels)
    return {t: [grouped[k][t] for k in keys] for t in targets}


def frame_article_counts(documents: Sequence[DocumentSummary], frames: Sequence[str]) -> dict[str, int]:
    """Articles carrying each frame (the document's frames by the documents.jsonl rule)."""
    counts = dict.fromkeys(frames, 0)
    for document in documents:
        for frame in document.frames:
            counts[frame] = counts.get(frame, 0) + 1
    return counts


def frames_by_article_stance(
    documents: Sequence[DocumentSummary], target: str, labels: Sequence[str], frames: Sequence[str]
) -> dict[str, tuple[int, dict[str, int]]]:
    """label -> (articles with that stance toward `target`, articles among them carrying each frame)."""
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for label in labels:
        chosen = [d for d in documents if target in d.stance and d.stance[target].label == label]
        out[label] = (len(chosen), frame_article_counts(chosen, frames))
    return out


def top_frames(by_stance: dict[str, tuple[int, dict[str, int]]], k: int = TOP_FRAMES) -> dict[str, list[FrameShare]]:
    """Per stance label, the `k` frames most articles with that stance carry (ties by frame order)."""
    out = {}
    for label, (total, counts) in by_stance.items():
        order = list(counts)
        ranked = sorted((f for f, n in counts.items() if n), key=lambda f: (-counts[f], order.index(f)))
        out[label] = [FrameShare(f, counts[f], total) for f in ranked[:k]]
    return out


@dataclass(frozen=True)
class ArticleView:
    """What the page's article section shows."""

    documents: int
    source: str  # where the summaries came from (documents.jsonl, or computed)
    counts: dict[str, dict[str, int]]  # target -> stance label -> articles (articles mentioning the target)
    by_outlet: dict[str, dict[str, dict[str, int]]]  # outlet -> target -> stance label -> articles
    frames: list[str]
    frame_articles: dict[str, int]
    frames_by_stance: dict[str, dict[str, tuple[int, dict[str, int]]]]  # target -> label -> (articles, frame -> articles)
    top_frames: dict[str, dict[str, list[FrameShare]]]

    def mentioning(self, target: str) -> int:
        return sum(self.counts[target].values())


def article_view(
    documents: Sequence[DocumentSummary], source: str, targets: Sequence[str], stance_labels: Sequence[str],
    outlets: Sequence[str], frames: Sequence[str],
) -> ArticleView:
    by_stance = {t: frames_by_article_stance(documents, t, stance_labels, frames) for t in targets}
    return ArticleView(
        documents=len(documents),
        source=source,
        counts=article_counts(documents, targets, stance_labels),
        by_outlet=article_counts_by(documents, source_of, outlets, targets, stance_labels),
        frames=list(frames),
        frame_articles=frame_article_counts(documents, frames),
        frames_by_stance=by_stance,
        top_frames={t: top_frames(by_stance[t]) for t in targets},
    )
