"""Everything the report page shows, computed once from a run (and pulled annotations)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stance.config import StanceConfig
from stance.records import Prediction
from stance.report.aggregate import (
    Example,
    FrameCooccurrence,
    Grouping,
    frame_cooccurrence,
    frame_counts,
    frames_by_label,
    frames_in_run,
    grouping,
    label_colours,
    label_counts,
    label_counts_by_group,
    labels_in_use,
    least_certain,
    most_confident,
    negative_label,
    targets_in_run,
)
from stance.report.agreement import Agreement, agreement
from stance.report.data import config_for_run, load_annotations, read_run
from stance.report.timeline import TimeSeries, choose_bin_unit, parse_date, stance_over_time
from stance.runs import RunInfo


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
    colours: dict[str, str]  # label -> #RRGGBB, for the plots and the cards
    overall: dict[str, dict[str, int]]
    group: Grouping
    by_group: dict[str, dict[str, dict[str, int]]]
    time_unit: str
    over_time: dict[str, TimeSeries]
    undated: int
    frames: list[str]
    frame_totals: dict[str, int]
    frames_by_target: dict[str, dict[str, tuple[int, dict[str, int]]]]
    cooccurrence: dict[str, list[FrameCooccurrence]]
    confident: dict[str, dict[str, list[Example]]]
    uncertain: dict[str, list[Example]]
    agreement: Agreement | None
    annotations_path: Path | None
    documents: int


def collect(
    run_dir: str | Path,
    config: StanceConfig | None = None,
    annotations: str | Path | None = None,
    *,
    examples: int = 3,
    uncertain: int = 8,
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
    dates = [d for d in (parse_date(r.date) for r in records) if d is not None]
    unit = choose_bin_unit(dates)
    frames = frames_in_run(records, config)
    negative = negative_label(config)
    human = load_annotations(annotations) if annotations is not None else None
    group = grouping(records)
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
        colours=label_colours(config, labels),
        overall=label_counts(records, targets, labels),
        group=group,
        by_group=label_counts_by_group(records, targets, labels, group.by),
        time_unit=unit,
        over_time={t: stance_over_time(records, t, labels, unit, (min(dates), max(dates))) for t in targets} if dates else {},
        undated=len(records) - len(dates),
        frames=frames,
        frame_totals=frame_counts(records, frames),
        frames_by_target={t: frames_by_label(records, t, stance_labels, frames) for t in targets},
        cooccurrence={t: frame_cooccurrence(records, t, negative, frames, nm) for t in targets},
        confident={t: {label: most_confident(records, t, label, examples, nm) for label in stance_labels} for t in targets},
        uncertain={t: least_certain(records, t, uncertain, nm) for t in targets},
        agreement=agreement(human, records, targets, labels) if human is not None else None,
        annotations_path=Path(annotations) if annotations is not None else None,
        documents=len({r.doc_id or r.id for r in records}),
    )
