"""The stance and framing report: one self-contained static HTML page for a run.

`build_report(run_dir, out_path, config, annotations)` reads a run's predictions.jsonl and
run.json (and, optionally, pulled annotations in the interchange format), computes the page's
tables and series, draws the plots and writes the page. One module per concern:

- `data`: reading (through `stance.runs` and `stance.labelled`) and the config a run was made with;
- `aggregate`: label counts, grouping by source or document, frames, confident and uncertain paragraphs;
- `timeline`: calendar bins and stance over time;
- `agreement`: model vs people (`stance.metrics` underneath);
- `collect`: `ReportData`, everything the page shows, computed once;
- `plots`: matplotlib figures as inline PNG (matplotlib is imported only when drawing);
- `render`: the page from the Jinja2 templates in `templates/`.
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
    of pulled annotations (interchange format); with it the page shows model vs human agreement.
    """
    from stance.fileio import atomic_writer
    from stance.report.render import render_page

    data = collect(run_dir, config, annotations, examples=examples, uncertain=uncertain)
    out = Path(out_path) if out_path is not None else data.run_dir / DEFAULT_REPORT_NAME
    page = render_page(data)
    with atomic_writer(out) as handle:
        handle.write(page)
    return out
