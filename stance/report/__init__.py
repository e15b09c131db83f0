"""The stance and framing report: one self-contained static HTML page for a run.

`build_report(run_dir, out_path, config, annotations)` reads a run's predictions.jsonl, run.json
and documents.jsonl (and, optionally, pulled annotations in the interchange format), computes the
page's tables, series and intervals, draws the plots, writes the page and, beside it in
REPORT_files/, every figure's and table's numbers as CSV. One module per concern:

- `data`: reading (through `stance.runs` and `stance.labelled`) and the config a run was made with;
- `aggregate`: paragraph label counts, grouping, frames, confident and uncertain paragraphs;
- `per_article`: the run's paragraphs summed per article (the units the bootstrap resamples);
- `uncertainty`: the bootstrap over articles (numpy, fixed seed and number of resamples);
- `articles`: the article view from documents.jsonl (per target, by outlet, over time, frames);
- `outlets`: the outlet x target comparison with tones and differences and their intervals;
- `timeline`: calendar bins; `trends`: tone over time with intervals and counts per bin;
- `agreement`: model vs people per target; `review`: per outlet, review rounds per model
  version, annotators against each other (`stance.metrics` underneath);
- `highlight`: the mentions of a target in a paragraph (the run's `MentionGate`);
- `collect`: `ReportData`, everything the page shows, computed once;
- `plots`: matplotlib figures as inline PNG (matplotlib is imported only when drawing);
- `views`: the values the templates print that a template should not compute;
- `render`: the page from the Jinja2 templates in `templates/`; `tables`: the CSV files.
"""

from __future__ import annotations

from pathlib import Path

from stance.config import StanceConfig
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
    shares,
    targets_in_run,
)
from stance.report.agreement import Agreement, TargetAgreement, agreement, confusion
from stance.report.collect import ReportData, collect
from stance.report.data import Run, config_for_run, load_annotations, read_run
from stance.report.timeline import TimeSeries, bin_label, bin_range, bin_start, choose_bin_unit, parse_date, stance_over_time

DEFAULT_REPORT_NAME = "report.html"

__all__ = [
    "DEFAULT_REPORT_NAME", "Agreement", "Example", "FrameCooccurrence", "Grouping", "ReportData", "Run", "TargetAgreement",
    "TimeSeries", "agreement", "bin_label", "bin_range", "bin_start", "build_report", "choose_bin_unit", "collect",
    "config_for_run", "confusion", "frame_cooccurrence", "frame_counts", "frames_by_label", "frames_in_run", "grouping",
    "label_colours", "label_counts", "label_counts_by_group", "labels_in_use", "least_certain", "load_annotations",
    "most_confident", "negative_label", "parse_date", "read_run", "shares", "stance_over_time", "targets_in_run",
]


def build_report(
    run_dir: str | Path,
    out_path: str | Path | None,
    config: StanceConfig | None = None,
    annotations: str | Path | None = None,
    *,
    examples: int = 3,
    uncertain: int = 8,
) -> Path:
    """Write the self-contained HTML report of a run to `out_path` (default RUN_DIR/report.html); return its path.

    `config=None` uses the config stored in the run's run.json. `annotations` is a JSON Lines file
    of pulled annotations (interchange format); with it the page shows model vs human agreement,
    the review rounds and the annotators' disagreements. The CSV files go to REPORT_files/ beside
    the page (`stance.report.tables.files_dir`).
    """
    from stance.fileio import atomic_writer
    from stance.report.render import render_page
    from stance.report.tables import files_dir, report_tables, write_tables

    data = collect(run_dir, config, annotations, examples=examples, uncertain=uncertain)
    out = Path(out_path) if out_path is not None else data.run_dir / DEFAULT_REPORT_NAME
    folder = files_dir(out)
    write_tables(folder, report_tables(data).values())
    page = render_page(data, files=folder.name)
    with atomic_writer(out) as handle:
        handle.write(page)
    return out
