"""The stance and framing report: one self-contained static HTML page for a run.

`build_report(run_dir, out_path, config, annotations)` reads a run's predictions.jsonl and
run.json (and, optionally, pulled annotations in the interchange format), aggregates them with
the small pure functions below, draws the plots (stance/report_plots.py) and writes the page
(stance/report_html.py). The aggregation functions work on plain prediction records, for any
targets and labels the config defines; nothing here knows the three default targets.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import InputError

PREDICTIONS = "predictions.jsonl"
RUN_JSON = "run.json"
DEFAULT_REPORT_NAME = "report.html"
WEEKLY_UP_TO_DAYS = 16 * 7  # a corpus spanning up to 16 weeks is binned by week, longer by month
MONTHLY_UP_TO_MONTHS = 72  # ... and more than 6 years of months by year, so bars stay readable


# ---------------------------------------------------------------------------------------------
# Reading


def load_predictions(run_dir: str | Path) -> list[dict[str, Any]]:
    """The prediction records of a run, checked for the fields the report needs."""
    from stance.fileio import iter_jsonl

    path = Path(run_dir) / PREDICTIONS
    if not Path(run_dir).is_dir():
        raise InputError(f"{run_dir}: no such directory; expected a run directory written by `stance annotate --out`")
    if not path.is_file():
        raise InputError(f"{path}: no such file; expected the predictions.jsonl that `stance annotate --out {run_dir}` writes")
    records = []
    for line_no, record in iter_jsonl(path, "predictions"):
        for key, kind in (("id", str), ("stance", dict)):
            if not isinstance(record.get(key), kind):
                raise InputError(f"{path}:{line_no}: field {key!r} is missing or not a {kind.__name__}; expected a prediction record")
        for target, result in record["stance"].items():
            if not isinstance(result, dict) or not isinstance(result.get("label"), str) or not isinstance(result.get("scores"), dict):
                raise InputError(f"{path}:{line_no}: stance[{target!r}] lacks a label or scores; expected {{label, scores, mentioned}}")
        records.append(record)
    return records


def load_run_info(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run, or {} when there is none (the page then says so)."""
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); expected the run.json of `stance annotate`") from None
    if not isinstance(info, dict):
        raise InputError(f"{path}: expected a JSON object")
    return info


def config_for_run(info: dict[str, Any]) -> tuple[StanceConfig, str]:
    """The config a run was made with (stored in run.json), else the offline default; and where it came from."""
    from pydantic import ValidationError

    from stance.config import load_config

    stored = info.get("config")
    if isinstance(stored, dict):
        try:
            return StanceConfig.model_validate(stored), "run.json (the config the run was made with)"
        except ValidationError:
            pass  # a run.json from an older config schema: fall back to the default, and say so on the page
    return load_config(None), "configs/default.yaml (run.json holds no usable config)"


@dataclass(frozen=True)
class HumanLabel:
    """One pulled annotation: a person's label for one paragraph and target."""

    id: str
    target: str
    label: str
    frames: tuple[str, ...] | None = None
    annotator: str | None = None
    updated_at: str | None = None
    model_label: str | None = None
    model_version: str | None = None
    text: str | None = None


def load_annotations(path: str | Path) -> list[HumanLabel]:
    """Pulled annotations (interchange format, one record per paragraph and target).

    When the same annotator labelled the same paragraph and target twice, the latest
    `updated_at` wins; different annotators are kept as separate comparisons.
    """
    from stance.fileio import iter_jsonl

    latest: dict[tuple[str, str, str | None], HumanLabel] = {}
    for line_no, record in iter_jsonl(path, "annotations"):
        for key in ("id", "target", "label"):
            if not isinstance(record.get(key), str) or not record[key]:
                raise InputError(f"{path}:{line_no}: field {key!r} is missing or empty; expected an annotation with id, target and label")
        frames = record.get("frames")
        if frames is not None and not (isinstance(frames, list) and all(isinstance(f, str) for f in frames)):
            raise InputError(f"{path}:{line_no}: field 'frames' is {frames!r}; expected a list of frame names or null")
        item = HumanLabel(
            id=record["id"],
            target=record["target"],
            label=record["label"],
            frames=tuple(frames) if frames is not None else None,
            annotator=_optional_str(record.get("annotator")),
            updated_at=_optional_str(record.get("updated_at")),
            model_label=_optional_str(record.get("model_label")),
            model_version=_optional_str(record.get("model_version")),
            text=_optional_str(record.get("text")),
        )
        key = (item.id, item.target, item.annotator)
        if key not in latest or (item.updated_at or "") >= (latest[key].updated_at or ""):
            latest[key] = item
    return list(latest.values())


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Labels and targets


def targets_in_run(records: Sequence[dict[str, Any]], config: StanceConfig) -> tuple[list[str], list[str]]:
    """(config targets present in the predictions, config targets absent from them)."""
    seen = {target for record in records for target in record["stance"]}
    names = [t.name for t in config.targets]
    return [n for n in names if n in seen], [n for n in names if n not in seen]


def labels_in_use(records: Sequence[dict[str, Any]], config: StanceConfig) -> list[str]:
    """The config's labels (stance labels, then not_mentioned), then any other label the records carry."""
    labels = list(config.all_label_names)
    extra = sorted({r["label"] for record in records for r in record["stance"].values()} - set(labels))
    return labels[:-1] + extra + labels[-1:]


def negative_label(config: StanceConfig) -> str:
    """The stance label that means unfavorable coverage: the first of negative polarity (else the last label)."""
    negative = config.labels_with("negative")
    return negative[0] if negative else config.stance_label_names[-1]


def label_counts(records: Iterable[dict[str, Any]], targets: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Paragraphs per target and label (every label present, zeros included)."""
    counts = {t: dict.fromkeys(labels, 0) for t in targets}
    for record in records:
        for target in targets:
            result = record["stance"].get(target)
            if result is not None:
                counts[target][result["label"]] = counts[target].get(result["label"], 0) + 1
    return counts


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Counts as fractions of their total (all zeros for an empty total)."""
    total = sum(counts.values())
    return {k: (v / total if total else 0.0) for k, v in counts.items()}


# ---------------------------------------------------------------------------------------------
# Documents and sources


@dataclass(frozen=True)
class Grouping:
    """How paragraphs are grouped for the per-outlet view: by source when the run has sources."""

    by: str  # "source" or "document"
    labels: dict[str, str]  # group key -> what the page shows
    missing: int  # paragraphs without a source (by source only)


def grouping(records: Sequence[dict[str, Any]]) -> Grouping:
    """Group by source when any paragraph has one, else by document (shown by title, else id)."""
    sources = [_clean(r.get("source")) for r in records]
    if any(sources):
        keys = sorted({s for s in sources if s})
        return Grouping("source", {k: k for k in keys}, missing=sum(1 for s in sources if not s))
    labels: dict[str, str] = {}
    for record in records:
        doc = str(record.get("doc_id") or record["id"])
        if doc not in labels:
            title = _clean(record.get("title"))
            date = _clean(record.get("date"))
            labels[doc] = (title or doc) + (f" ({date[:10]})" if date else "")
    return Grouping("document", labels, missing=0)


def group_of(record: dict[str, Any], by: str) -> str | None:
    """The group key of one record under `by` ("source" or "document")."""
    if by == "source":
        return _clean(record.get("source"))
    return str(record.get("doc_id") or record["id"])


def label_counts_by_group(
    records: Sequence[dict[str, Any]], targets: Sequence[str], labels: Sequence[str], by: str
) -> dict[str, dict[str, dict[str, int]]]:
    """group -> target -> label -> paragraphs; groups ordered by paragraph count (largest first), then name."""
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        key = group_of(record, by)
        if key is not None:
            members[key].append(record)
    ordered = sorted(members, key=lambda k: (-len(members[k]), k))
    return {k: label_counts(members[k], targets, labels) for k in ordered}


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------------------------
# Time


def parse_date(value: Any) -> dt.date | None:
    """The calendar date of a record's `date` (YYYY-MM-DD, optionally followed by a time), else None."""
    text = _clean(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def choose_bin_unit(dates: Iterable[dt.date]) -> str:
    """"week" for a corpus spanning up to 16 weeks, "month" up to 6 years, else "year"."""
    dates = list(dates)
    if not dates:
        return "month"
    first, last = min(dates), max(dates)
    if (last - first).days <= WEEKLY_UP_TO_DAYS:
        return "week"
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    return "month" if months <= MONTHLY_UP_TO_MONTHS else "year"


def bin_start(day: dt.date, unit: str) -> dt.date:
    """The first day of the bin holding `day`: Monday of its ISO week, the 1st of its month, or 1 January."""
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown bin unit {unit!r}; expected week, month or year")


def bin_range(first: dt.date, last: dt.date, unit: str) -> list[dt.date]:
    """Every bin start from the bin of `first` to the bin of `last`, empty bins included."""
    bins = []
    current = bin_start(first, unit)
    end = bin_start(last, unit)
    while current <= end:
        bins.append(current)
        if unit == "week":
            current += dt.timedelta(days=7)
        elif unit == "month":
            current = dt.date(current.year + current.month // 12, current.month % 12 + 1, 1)
        else:
            current = dt.date(current.year + 1, 1, 1)
    return bins


def bin_label(start: dt.date, unit: str) -> str:
    """How a bin is named on the axis: 2023-W37 (starting Mon 11 Sep), 2023-09, 2023."""
    if unit == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if unit == "month":
        return start.strftime("%Y-%m")
    return str(start.year)


@dataclass
class TimeSeries:
    """Per bin, paragraphs per label for one target; `undated` paragraphs are left out."""

    unit: str
    bins: list[dt.date]
    counts: list[dict[str, int]]
    undated: int


def stance_over_time(
    records: Sequence[dict[str, Any]],
    target: str,
    labels: Sequence[str],
    unit: str | None = None,
    span: tuple[dt.date, dt.date] | None = None,
) -> TimeSeries:
    """Paragraphs per label and time bin for `target`: bins from the first to the last date (or over
    `span`, so that several targets share one axis), empty ones kept."""
    dated = [(parse_date(r.get("date")), r) for r in records if target in r["stance"]]
    undated = sum(1 for d, _ in dated if d is None)
    dated = [(d, r) for d, r in dated if d is not None]
    if span is None and not dated:
        return TimeSeries(unit or "month", [], [], undated)
    first, last = span if span is not None else (min(d for d, _ in dated), max(d for d, _ in dated))
    unit = unit or choose_bin_unit([first, last])
    bins = bin_range(first, last, unit)
    index = {b: i for i, b in enumerate(bins)}
    counts = [dict.fromkeys(labels, 0) for _ in bins]
    for day, record in dated:
        label = record["stance"][target]["label"]
        row = counts[index[bin_start(day, unit)]]
        row[label] = row.get(label, 0) + 1
    return TimeSeries(unit, bins, counts, undated)


# ---------------------------------------------------------------------------------------------
# Frames


def frames_in_run(records: Sequence[dict[str, Any]], config: StanceConfig) -> list[str]:
    """The config's frames, then any other frame the records carry; [] when frames were not scored."""
    seen: set[str] = set()
    for record in records:
        seen.update(record.get("frames") or {})
        seen.update(record.get("frame_labels") or [])
    if not seen:
        return []
    names = list(config.frame_names)
    return names + sorted(seen - set(names))


def frame_counts(records: Iterable[dict[str, Any]], frames: Sequence[str]) -> dict[str, int]:
    """Paragraphs carrying each frame (the record's `frame_labels`, i.e. score at or above the threshold)."""
    counts = dict.fromkeys(frames, 0)
    for record in records:
        for name in record.get("frame_labels") or []:
            counts[name] = counts.get(name, 0) + 1
    return counts


def frames_by_label(
    records: Sequence[dict[str, Any]], target: str, labels: Sequence[str], frames: Sequence[str]
) -> dict[str, tuple[int, dict[str, int]]]:
    """label -> (paragraphs with that label for `target`, paragraphs among them carrying each frame)."""
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for label in labels:
        chosen = [r for r in records if target in r["stance"] and r["stance"][target]["label"] == label]
        out[label] = (len(chosen), frame_counts(chosen, frames))
    return out


@dataclass(frozen=True)
class FrameCooccurrence:
    """How much more often a frame appears in one label's coverage of a target than in all its coverage."""

    frame: str
    with_label: int  # paragraphs with the label and the frame
    label_total: int  # paragraphs with the label
    with_target: int  # paragraphs that mention the target and carry the frame
    target_total: int  # paragraphs that mention the target

    @property
    def share_in_label(self) -> float:
        return self.with_label / self.label_total if self.label_total else 0.0

    @property
    def share_in_target(self) -> float:
        return self.with_target / self.target_total if self.target_total else 0.0

    @property
    def lift(self) -> float | None:
        """share_in_label / share_in_target: above 1 the frame is over-represented in that coverage."""
        return self.share_in_label / self.share_in_target if self.share_in_target else None


def frame_cooccurrence(
    records: Sequence[dict[str, Any]], target: str, label: str, frames: Sequence[str], not_mentioned: str
) -> list[FrameCooccurrence]:
    """Frames of `label` coverage of `target` against all its coverage (paragraphs not labelled
    `not_mentioned`): most frequent in `label` coverage first, ties by lift; frames never seen with
    the label are left out. (Sorting by lift alone would put one-paragraph coincidences on top.)"""
    covering = [r for r in records if target in r["stance"] and r["stance"][target]["label"] != not_mentioned]
    chosen = [r for r in covering if r["stance"][target]["label"] == label]
    in_target = frame_counts(covering, frames)
    in_label = frame_counts(chosen, frames)
    rows = [
        FrameCooccurrence(name, in_label[name], len(chosen), in_target[name], len(covering))
        for name in frames
        if in_label.get(name)
    ]
    return sorted(rows, key=lambda r: (-r.with_label, -(r.lift or 0.0), r.frame))


# ---------------------------------------------------------------------------------------------
# Confident and uncertain paragraphs


def model_scored(result: dict[str, Any], not_mentioned: str) -> bool:
    """Whether the model scored this target (the alias gate's not_mentioned is certain by rule, not by the model)."""
    scores = result["scores"]
    return any(v > 0 for k, v in scores.items() if k != not_mentioned) or bool(result.get("mentioned"))


def margin(scores: dict[str, float]) -> float:
    """Top score minus the runner-up: small means the model could hardly choose."""
    top = sorted(scores.values(), reverse=True)
    return top[0] - (top[1] if len(top) > 1 else 0.0) if top else 0.0


@dataclass(frozen=True)
class Example:
    """A paragraph shown on the page for one target, with its scores."""

    record: dict[str, Any]
    target: str
    label: str
    score: float
    margin: float


def most_confident(records: Sequence[dict[str, Any]], target: str, label: str, k: int, not_mentioned: str) -> list[Example]:
    """The `k` paragraphs the model put in `label` for `target` with the highest score for it."""
    found = []
    for record in records:
        result = record["stance"].get(target)
        if result and result["label"] == label and model_scored(result, not_mentioned):
            found.append(Example(record, target, label, float(result["scores"].get(label, 0.0)), margin(result["scores"])))
    found.sort(key=lambda e: (-e.score, e.record["id"]))
    return found[:k]


def least_certain(records: Sequence[dict[str, Any]], target: str, k: int, not_mentioned: str) -> list[Example]:
    """The `k` model-scored paragraphs for `target` with the smallest margin between the two top labels."""
    found = []
    for record in records:
        result = record["stance"].get(target)
        if result and model_scored(result, not_mentioned):
            found.append(Example(record, target, result["label"], float(result["scores"].get(result["label"], 0.0)), margin(result["scores"])))
    found.sort(key=lambda e: (e.margin, e.record["id"]))
    return found[:k]


# ---------------------------------------------------------------------------------------------
# Agreement with people


def cohen_kappa(human: Sequence[str], model: Sequence[str]) -> float | None:
    """Cohen's kappa of two labelings; None when chance agreement is 1 (both always chose one same label)."""
    n = len(human)
    if n == 0 or n != len(model):
        return None
    observed = sum(h == m for h, m in zip(human, model, strict=True)) / n
    h_counts, m_counts = Counter(human), Counter(model)
    expected = sum(h_counts[label] * m_counts[label] for label in h_counts) / (n * n)
    if math.isclose(expected, 1.0):
        return None
    return (observed - expected) / (1.0 - expected)


def confusion(human: Sequence[str], model: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """matrix[i][j]: pairs a person labelled labels[i] and the model labels[j] (sklearn's orientation)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for h, m in zip(human, model, strict=True):
        matrix[index[h]][index[m]] += 1
    return matrix


@dataclass
class TargetAgreement:
    """Model vs people for one target."""

    target: str
    labels: list[str]
    human: list[str]
    model: list[str]
    shown: list[str]  # the pre-label the annotator saw (model_label), else the run's label

    @property
    def n(self) -> int:
        return len(self.human)

    @property
    def accuracy(self) -> float | None:
        return sum(h == m for h, m in zip(self.human, self.model, strict=True)) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.human, self.model)

    @property
    def matrix(self) -> list[list[int]]:
        return confusion(self.human, self.model, self.labels)

    @property
    def corrections(self) -> int:
        return sum(h != s for h, s in zip(self.human, self.shown, strict=True))

    @property
    def correction_rate(self) -> float | None:
        return self.corrections / self.n if self.n else None


@dataclass
class Agreement:
    """Model vs people over all pulled annotations that match a paragraph of the run."""

    targets: list[TargetAgreement]
    annotations: int
    annotators: int
    paragraphs: int  # annotated paragraphs of the run
    paragraphs_corrected: int  # ... whose stance (any target) or frames differ from the pre-labels
    frames_compared: int  # annotated paragraphs with frames given
    frames_corrected: int
    not_in_run: int  # annotations of paragraphs this run does not hold (left out)
    unknown_targets: list[str] = field(default_factory=list)  # targets the report's config lacks (left out)


def agreement(
    annotations: Sequence[HumanLabel], records: Sequence[dict[str, Any]], targets: Sequence[str], labels: Sequence[str]
) -> Agreement:
    """Compare people's labels with the run's predictions.

    Accuracy, kappa and the confusion matrix compare the run's model with people. The correction
    rate compares people with the pre-label they were shown (`model_label`, when the pull recorded
    it; else the run's label), which is what "how often did reviewers change the model" means.
    """
    by_id = {r["id"]: r for r in records}
    wanted = set(targets)
    per_target: dict[str, TargetAgreement] = {}
    not_in_run = 0
    unknown: set[str] = set()
    corrected: dict[tuple[str, str | None], bool] = {}
    frames_seen: dict[tuple[str, str | None], bool] = {}
    all_labels = list(labels)
    for item in annotations:
        record = by_id.get(item.id)
        if record is None:
            not_in_run += 1
            continue
        if item.target not in wanted or item.target not in record["stance"]:
            unknown.add(item.target)
            continue
        model_label = record["stance"][item.target]["label"]
        shown = item.model_label or model_label
        for label in (item.label, model_label, shown):
            if label not in all_labels:
                all_labels.append(label)
        entry = per_target.setdefault(item.target, TargetAgreement(item.target, all_labels, [], [], []))
        entry.human.append(item.label)
        entry.model.append(model_label)
        entry.shown.append(shown)
        key = (item.id, item.annotator)
        changed = item.label != shown
        if item.frames is not None:
            frames_changed = set(item.frames) != set(record.get("frame_labels") or [])
            frames_seen[key] = frames_seen.get(key, False) or frames_changed
            changed = changed or frames_changed
        corrected[key] = corrected.get(key, False) or changed
    ordered = [per_target[t] for t in targets if t in per_target]
    for entry in ordered:
        entry.labels = all_labels
    matched = [a for a in annotations if a.id in by_id]
    return Agreement(
        targets=ordered,
        annotations=len(annotations),
        annotators=len({a.annotator for a in matched}),
        paragraphs=len({a.id for a in matched}),
        paragraphs_corrected=sum(corrected.values()),
        frames_compared=len(frames_seen),
        frames_corrected=sum(frames_seen.values()),
        not_in_run=not_in_run,
        unknown_targets=sorted(unknown),
    )


# ---------------------------------------------------------------------------------------------
# The whole report


@dataclass
class ReportData:
    """Everything the page shows, computed once."""

    run_dir: Path
    info: dict[str, Any]
    config: StanceConfig
    config_source: str
    records: list[dict[str, Any]]
    targets: list[str]
    missing_targets: list[str]
    labels: list[str]
    not_mentioned: str
    negative: str
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
    run_dir = Path(run_dir)
    records = load_predictions(run_dir)
    info = load_run_info(run_dir)
    if config is None:
        config, config_source = config_for_run(info)
    else:
        config_source = "--config"
    targets, missing = targets_in_run(records, config)
    labels = labels_in_use(records, config)
    nm = config.not_mentioned.name
    stance_labels = [label for label in labels if label != nm]
    dates = [d for d in (parse_date(r.get("date")) for r in records) if d is not None]
    unit = choose_bin_unit(dates)
    frames = frames_in_run(records, config)
    negative = negative_label(config)
    human = load_annotations(annotations) if annotations is not None else None
    group = grouping(records)
    return ReportData(
        run_dir=run_dir,
        info=info,
        config=config,
        config_source=config_source,
        records=records,
        targets=targets,
        missing_targets=missing,
        labels=labels,
        not_mentioned=nm,
        negative=negative,
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
        documents=len({r.get("doc_id") or r["id"] for r in records}),
    )


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
    from stance.report_html import render_page

    data = collect(run_dir, config, annotations, examples=examples, uncertain=uncertain)
    out = Path(out_path) if out_path is not None else Path(run_dir) / DEFAULT_REPORT_NAME
    page = render_page(data)
    with atomic_writer(out) as handle:
        handle.write(page)
    return out
