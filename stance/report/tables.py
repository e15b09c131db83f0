"""The numbers behind every figure and table of the page, as CSV files next to the HTML
(REPORT_files/NAME.csv for REPORT.html), so they can go straight into R or pandas.

One `Table` per figure or table: a file name, a header and rows of plain values (shares as
fractions 0-1 with four digits, tones from -1 to 1, intervals as `_low`/`_high` columns, empty
where undefined). The page links each file beside what it shows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.report.collect import ReportData
from stance.report.uncertainty import Estimate

DIGITS = 4


@dataclass(frozen=True)
class Table:
    name: str  # file name, NAME.csv
    columns: list[str]
    rows: list[list[Any]]

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"


def files_dir(report: Path) -> Path:
    """Where the CSV files of the report at `report` go: REPORT_files/ beside it."""
    return report.with_name(f"{report.stem}_files")


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, DIGITS)
    return value


def _estimate(e: Estimate | None) -> list[Any]:
    return [None, None, None] if e is None else [e.value, e.low, e.high]


def _share(part: int, total: int) -> float | None:
    return part / total if total else None


def write_tables(folder: Path, tables: Iterable[Table]) -> list[Path]:
    """Write every table as folder/NAME.csv (UTF-8, header row, atomically); return the paths. A CSV
    file an earlier report left there that this one does not write is removed (the folder is the report's)."""
    from stance.fileio import atomic_writer

    folder.mkdir(parents=True, exist_ok=True)
    tables = list(tables)
    wanted = {t.file_name for t in tables}
    for old in folder.glob("*.csv"):
        if old.name not in wanted:
            old.unlink()
    paths = []
    for table in tables:
        path = folder / table.file_name
        with atomic_writer(path, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.columns)
            writer.writerows([_value(v) for v in row] for row in table.rows)
        paths.append(path)
    return paths


def _counts_rows(keys: Sequence[tuple[Any, ...]], counts: Sequence[dict[str, int]], labels: Sequence[str]) -> list[list[Any]]:
    rows = []
    for key, per_label in zip(keys, counts, strict=True):
        total = sum(per_label.get(label, 0) for label in labels)
        for label in labels:
            n = per_label.get(label, 0)
            rows.append([*key, label, n, total, _share(n, total)])
    return rows


def report_tables(data: ReportData) -> dict[str, Table]:
    """Every table the page shows or plots, by name."""
    labels, stance = data.labels, data.stance_labels
    view = data.articles
    tables = [
        Table("paragraph-stance", ["target", "label", "paragraphs", "paragraphs_total", "share"],
              _counts_rows([(t,) for t in data.targets], [data.overall[t] for t in data.targets], labels)),
        Table("article-stance", ["target", "stance", "articles", "articles_mentioning", "share"],
              _counts_rows([(t,) for t in data.targets], [view.counts[t] for t in data.targets], stance)),
        Table("article-stance-by-document", ["doc_id", "title", "source", "date", "paragraphs", "target", "stance", "mentioning_paragraphs"],
              [[d.doc_id, d.title, d.source, d.date, d.paragraphs, t, d.stance[t].label, d.stance[t].mentioned]
               for d in data.documents for t in data.targets if t in d.stance]),
    ]
    if view.by_outlet:
        tables.append(Table("article-stance-by-outlet", ["outlet", "target", "stance", "articles", "articles_mentioning", "share"],
                            _counts_rows([(o, t) for o in view.by_outlet for t in data.targets],
                                         [view.by_outlet[o][t] for o in view.by_outlet for t in data.targets], stance)))
    tables += _outlet_tables(data)
    tables.append(Table(
        "stance-over-time",
        ["target", "unit", "bin", "bin_start", "articles_mentioning", "small_bin", "mentioned_paragraphs",
         *[f"paragraphs_{label}" for label in stance], *[f"articles_{label}" for label in stance], "tone", "tone_low", "tone_high"],
        [[t, trend.unit, b.name, b.start.isoformat(), b.tone.articles, b.small, b.mentioned,
          *[b.paragraphs.get(label, 0) for label in stance], *[b.articles.get(label, 0) for label in stance], *_estimate(b.tone)]
         for t, trend in data.trends.items() for b in trend.bins],
    ))
    tables += _frame_tables(data)
    tables += _review_tables(data)
    return {t.name: t for t in tables}


def _outlet_tables(data: ReportData) -> list[Table]:
    comparison = data.outlets
    if comparison is None:
        return []
    stance = data.stance_labels
    cells = [
        [o, comparison.articles[o], t, cell.articles, cell.small, cell.paragraphs, *[cell.counts.get(label, 0) for label in stance],
         *_estimate(cell.tone), *_estimate(cell.versus_rest), comparison.resamples, comparison.seed]
        for o in comparison.outlets for t in data.targets for cell in [comparison.cells[(o, t)]]
    ]
    pairs = [[p.target, p.first, p.second, *_estimate(p.difference), comparison.resamples, comparison.seed] for p in comparison.pairs]
    return [
        Table("outlet-comparison",
              ["outlet", "outlet_articles", "target", "articles_mentioning", "small", "mentioned_paragraphs",
               *[f"paragraphs_{label}" for label in stance], "tone", "tone_low", "tone_high",
               "difference_vs_other_outlets", "difference_low", "difference_high", "resamples", "seed"], cells),
        Table("outlet-pairs", ["target", "outlet", "other_outlet", "tone_difference", "difference_low", "difference_high", "resamples", "seed"], pairs),
    ]


def _frame_tables(data: ReportData) -> list[Table]:
    if not data.frames:
        return []
    view, documents, paragraphs = data.articles, len(data.documents), len(data.records)
    rows = [[f, view.frame_articles.get(f, 0), documents, _share(view.frame_articles.get(f, 0), documents),
             data.frame_totals.get(f, 0), paragraphs, _share(data.frame_totals.get(f, 0), paragraphs)] for f in data.frames]

    def by_stance(source: dict[str, dict[str, tuple[int, dict[str, int]]]]) -> list[list[Any]]:
        return [[t, label, total, f, counts.get(f, 0), _share(counts.get(f, 0), total)]
                for t in data.targets for label, (total, counts) in source[t].items() for f in data.frames]

    lift = [[t, data.negative, r.frame, r.with_label, r.label_total, r.with_target, r.target_total, r.lift]
            for t in data.targets for r in data.cooccurrence[t]]
    return [
        Table("frames", ["frame", "articles", "articles_total", "article_share", "paragraphs", "paragraphs_total", "paragraph_share"], rows),
        Table("frames-by-article-stance", ["target", "stance", "articles", "frame", "articles_with_frame", "share"], by_stance(view.frames_by_stance)),
        Table("frames-by-paragraph-stance", ["target", "label", "paragraphs", "frame", "paragraphs_with_frame", "share"], by_stance(data.frames_by_target)),
        Table("frames-of-negative-coverage", ["target", "label", "frame", "paragraphs_label_and_frame", "paragraphs_label",
                                              "paragraphs_target_and_frame", "paragraphs_target", "lift"], lift),
    ]


def _review_tables(data: ReportData) -> list[Table]:
    review = data.review
    if review is None:
        return []
    result = review.agreement
    tables = [
        Table("agreement-by-target", ["target", "labels", "accuracy", "cohen_kappa", "corrected", "correction_rate"],
              [[t.target, t.n, t.accuracy, t.kappa, t.corrections, t.correction_rate] for t in result.targets]),
        Table("agreement-by-outlet", ["outlet", "labels", "accuracy", "cohen_kappa", "corrected", "correction_rate"],
              [[g.name, g.n, g.accuracy, g.kappa, g.corrections, g.correction_rate] for g in review.by_outlet]),
        Table("confusion", ["target", "human_label", "model_label", "count"],
              [[t.target, h, m, matrix[i][j]] for t in result.targets for matrix in [t.matrix]
               for i, h in enumerate(t.labels) for j, m in enumerate(t.labels)]),
        Table("corrections-by-model-version",
              ["round", "model_version", "first_review", "last_review", "labels", "corrected", "correction_rate", "rate_low", "rate_high",
               "change_vs_previous", "change_low", "change_high", "annotators", "paragraphs", "resamples", "seed"],
              [[r.number, r.model_version, r.first, r.last, r.labels, r.corrected, *_estimate(r.rate), *_estimate(r.change),
                r.annotators, r.paragraphs, data.resamples, data.seed] for r in review.rounds]),
    ]
    people = review.annotators
    if people is not None:
        tables.append(Table("annotator-pairs", ["annotator", "other_annotator", "items", "agreed", "agreement", "cohen_kappa"],
                            [[p.first, p.second, p.items, p.agreed, p.agreement, p.kappa] for p in people.pairs]))
        tables.append(Table("annotator-disagreements", ["id", "target", "annotator", "label", "model_label", "text"],
                            [[d.id, d.target, who, label, d.model, d.text] for d in people.disagreements for who, label in d.labels.items()]))
    return tables
