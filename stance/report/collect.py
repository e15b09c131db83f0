"""Everything the report page shows, computed once from a run (and pulled annotations)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from stance.config import StanceConfig
from stance.records import DocumentSummary, Prediction
from stance.report.aggregate import (
    Example,
    FrameCooccurrence,
    frame_cooccurrence,
    frame_counts,
    frames_by_label,
    frames_in_run,
    label_colours,
    label_counts,
    labels_in_use,
    least_certain,
    most_confident,
    negative_label,
    targets_in_run,
)
from stance.report.agreement import Agreement, agreement
from stance.report.articles import ArticleView, article_view
from stance.report.data import config_for_run, documents_of, load_annotations, read_reviews, read_run
from stance.report.highlight import Highlighter
from stance.report.outlets import OutletComparison, compare_outlets
from stance.report.per_article import ArticleRow, Polarity, article_rows
from stance.report.review import (
    AnnotatorAgreement,
    GroupAgreement,
    ReviewRound,
    agreement_by_outlet,
    annotators_compared,
    latest_per_version,
    review_rounds,
)
from stance.report.timeline import bin_range, choose_bin_unit
from stance.report.trends import Trend, tone_trends
from stance.report.uncertainty import RESAMPLES, SEED, ArticleBootstrap
from stance.runs import RunInfo


@dataclass
class Review:
    """What pulled annotations add: model vs people (per target, per outlet), rounds, annotators."""

    path: Path
    agreement: Agreement
    by_outlet: list[GroupAgreement]
    rounds: list[ReviewRound]
    unjudged: int  # labels whose pre-label is unknown (no model_label, paragraph not in the run)
    annotators: AnnotatorAgreement | None


@dataclass
class ReportData:
    """Everything the page shows, computed once."""

    run_dir: Path
    info: RunInfo | None  # None: the run has no run.json
    config: StanceConfig
    config_source: str
    records: list[Prediction]
    targets: list[str]
    missing_targets: list[str]
    labels: list[str]
    stance_labels: list[str]  # `labels` without not_mentioned
    not_mentioned: str
    negative: str
    polarity: Polarity
    colours: dict[str, str]  # label -> #RRGGBB, for the plots, bars and cards
    overall: dict[str, dict[str, int]]  # paragraphs per target and label
    documents: list[DocumentSummary]
    documents_source: str
    article_rows: list[ArticleRow]
    articles: ArticleView
    outlets: OutletComparison | None
    time_unit: str
    bins: list[dt.date]
    trends: dict[str, Trend]
    undated: int  # articles without a date
    frames: list[str]
    frame_totals: dict[str, int]  # paragraphs per frame
    frames_by_target: dict[str, dict[str, tuple[int, dict[str, int]]]]  # paragraphs
    cooccurrence: dict[str, list[FrameCooccurrence]]
    confident: dict[str, dict[str, list[Example]]]
    uncertain: dict[str, list[Example]]
    highlighter: Highlighter
    review: Review | None
    resamples: int
    seed: int

    @property
    def agreement(self) -> Agreement | None:
        return self.review.agreement if self.review is not None else None


def collect(
    run_dir: str | Path,
    config: StanceConfig | None = None,
    annotations: str | Path | None = None,
    *,
    examples: int = 3,
    uncertain: int = 8,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> ReportData:
    """Read a run (and annotations) and compute every table and series of the report."""
    run = read_run(run_dir)
    records = run.predictions
    if config is None:
        config, config_source = config_for_run(run.info)
    else:
        config_source = "--config"
    targets, missing = targets_in_run(records, config)
    labels = labels_in_use(records, config)
    nm = config.not_mentioned.name
    stance_labels = [label for label in labels if label != nm]
    polarity = Polarity.of(config)
    frames = frames_in_run(records, config)
    negative = negative_label(config)
    documents, documents_source = documents_of(run.root, records, config)
    rows = article_rows(records, targets, nm, polarity)
    bootstrap = ArticleBootstrap([r.doc_id for r in rows], resamples, seed)
    outlets = compare_outlets(rows, targets, stance_labels, bootstrap)
    dates = [r.date for r in rows if r.date is not None]
    unit = choose_bin_unit(dates)
    bins = bin_range(min(dates), max(dates), unit) if dates else []
    return ReportData(
        run_dir=run.root,
        info=run.info,
        config=config,
        config_source=config_source,
        records=records,
        targets=targets,
        missing_targets=missing,
        labels=labels,
        stance_labels=stance_labels,
        not_mentioned=nm,
        negative=negative,
        polarity=polarity,
        colours=label_colours(config, labels),
        overall=label_counts(records, targets, labels),
        documents=documents,
        documents_source=documents_source,
        article_rows=rows,
        articles=article_view(documents, documents_source, targets, stance_labels, outlets.shown if outlets else [], frames),
        outlets=outlets,
        time_unit=unit,
        bins=bins,
        trends=tone_trends(rows, documents, targets, stance_labels, unit, bins, bootstrap) if bins else {},
        undated=len(rows) - len(dates),
        frames=frames,
        frame_totals=frame_counts(records, frames),
        frames_by_target={t: frames_by_label(records, t, stance_labels, frames) for t in targets},
        cooccurrence={t: frame_cooccurrence(records, t, negative, frames, nm) for t in targets},
        confident={t: {label: most_confident(records, t, label, examples, nm) for label in stance_labels} for t in targets},
        uncertain={t: least_certain(records, t, uncertain, nm) for t in targets},
        highlighter=Highlighter(config, records),
        review=_review(Path(annotations), records, targets, labels, resamples, seed) if annotations is not None else None,
        resamples=resamples,
        seed=seed,
    )


def _review(path: Path, records: list[Prediction], targets: list[str], labels: list[str], resamples: int, seed: int) -> Review:
    latest = load_annotations(path)
    rounds, unjudged = review_rounds(latest_per_version(read_reviews(path)), records, resamples, seed)
    return Review(
        path=path,
        agreement=agreement(latest, records, targets, labels),
        by_outlet=agreement_by_outlet(latest, records, targets),
        rounds=rounds,
        unjudged=unjudged,
        annotators=annotators_compared(latest, records, labels),
    )

