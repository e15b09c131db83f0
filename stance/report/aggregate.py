"""The report's tables: pure functions over a run's `Prediction`s, for any targets and labels the
config defines (nothing here knows the three default targets or any label name).

Labels and colours, label counts, grouping by source or document, frames and their
co-occurrence with a stance, and the most confident and least certain paragraphs. Time bins are
`stance.report.timeline`, model vs people `stance.report.agreement`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stance.config import SPARE_COLOURS, StanceConfig
from stance.records import Prediction, TargetStance

FALLBACK_COLOUR = "#666666"  # once the spare Okabe-Ito colours are all taken


# ---------------------------------------------------------------------------------------------
# Labels and targets


def targets_in_run(records: Sequence[Prediction], config: StanceConfig) -> tuple[list[str], list[str]]:
    """(config targets present in the predictions, config targets absent from them)."""
    seen = {target for record in records for target in record.stance}
    names = [t.name for t in config.targets]
    return [n for n in names if n in seen], [n for n in names if n not in seen]


def labels_in_use(records: Sequence[Prediction], config: StanceConfig) -> list[str]:
    """The config's labels (stance labels, then not_mentioned), then any other label the records carry."""
    labels = list(config.all_label_names)
    extra = sorted({r.label for record in records for r in record.stance.values()} - set(labels))
    return labels[:-1] + extra + labels[-1:]


def negative_label(config: StanceConfig) -> str:
    """The stance label that means unfavorable coverage: the first of negative polarity (else the last label)."""
    negative = config.labels_with("negative")
    return negative[0] if negative else config.stance_label_names[-1]


def label_colours(config: StanceConfig, labels: Iterable[str]) -> dict[str, str]:
    """The config's colour per label (`config.label_colours()`), and a spare Okabe-Ito colour for
    each label the records carry that the config does not define."""
    colours = config.label_colours()
    spare = (colour for colour in SPARE_COLOURS if colour not in colours.values())
    for label in labels:
        if label not in colours:
            colours[label] = next(spare, FALLBACK_COLOUR)
    return colours


def label_counts(records: Iterable[Prediction], targets: Sequence[str], labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Paragraphs per target and label (every label present, zeros included)."""
    counts = {t: dict.fromkeys(labels, 0) for t in targets}
    for record in records:
        for target in targets:
            result = record.stance.get(target)
            if result is not None:
                counts[target][result.label] = counts[target].get(result.label, 0) + 1
    return counts


def shares(counts: dict[str, int]) -> dict[str, float]:
    """Counts as fractions of their total (all zeros for an empty total)."""
    total = sum(counts.values())
    return {k: (v / total if total else 0.0) for k, v in counts.items()}


def model_version(records: Sequence[Prediction], stored: str | None) -> str | None:
    """The model version run.json names, else the first one a prediction carries."""
    return stored or next((r.model_version for r in records if r.model_version), None)


def date_span(records: Sequence[Prediction]) -> str:
    """`first to last` date (YYYY-MM-DD, as the records spell them), or "no dates"."""
    dates = sorted(r.date for r in records if r.date)
    return f"{dates[0][:10]} to {dates[-1][:10]}" if dates else "no dates"


# ---------------------------------------------------------------------------------------------
# Documents and sources


@dataclass(frozen=True)
class Grouping:
    """How paragraphs are grouped for the per-outlet view: by source when the run has sources."""

    by: str  # "source" or "document"
    labels: dict[str, str]  # group key -> what the page shows
    missing: int  # paragraphs without a source (by source only)


def grouping(records: Sequence[Prediction]) -> Grouping:
    """Group by source when any paragraph has one, else by document (shown by title, else id)."""
    sources = [clean(r.source) for r in records]
    if any(sources):
        keys = sorted({s for s in sources if s})
        return Grouping("source", {k: k for k in keys}, missing=sum(1 for s in sources if not s))
    labels: dict[str, str] = {}
    for record in records:
        doc = record.doc_id or record.id
        if doc not in labels:
            title = clean(record.title)
            date = clean(record.date)
            labels[doc] = (title or doc) + (f" ({date[:10]})" if date else "")
    return Grouping("document", labels, missing=0)


def group_of(record: Prediction, by: str) -> str | None:
    """The group key of one record under `by` ("source" or "document")."""
    if by == "source":
        return clean(record.source)
    return record.doc_id or record.id


def label_counts_by_group(
    records: Sequence[Prediction], targets: Sequence[str], labels: Sequence[str], by: str
) -> dict[str, dict[str, dict[str, int]]]:
    """group -> target -> label -> paragraphs; groups ordered by paragraph count (largest first), then name."""
    members: dict[str, list[Prediction]] = defaultdict(list)
    for record in records:
        key = group_of(record, by)
        if key is not None:
            members[key].append(record)
    ordered = sorted(members, key=lambda k: (-len(members[k]), k))
    return {k: label_counts(members[k], targets, labels) for k in ordered}


def clean(value: str | None) -> str | None:
    """A text field stripped, None when empty."""
    if value is None:
        return None
    text = value.strip()
    return text or None


# ---------------------------------------------------------------------------------------------
# Frames


def frames_in_run(records: Sequence[Prediction], config: StanceConfig) -> list[str]:
    """The config's frames, then any other frame the records carry; [] when frames were not scored."""
    seen: set[str] = set()
    for record in records:
        seen.update(record.frames)
        seen.update(record.frame_labels)
    if not seen:
        return []
    names = list(config.frame_names)
    return names + sorted(seen - set(names))


def frame_counts(records: Iterable[Prediction], frames: Sequence[str]) -> dict[str, int]:
    """Paragraphs carrying each frame (the record's `frame_labels`, i.e. score at or above the threshold)."""
    counts = dict.fromkeys(frames, 0)
    for record in records:
        for name in record.frame_labels:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _with_label(records: Iterable[Prediction], target: str, label: str) -> list[Prediction]:
    return [r for r in records if target in r.stance and r.stance[target].label == label]


def frames_by_label(
    records: Sequence[Prediction], target: str, labels: Sequence[str], frames: Sequence[str]
) -> dict[str, tuple[int, dict[str, int]]]:
    """label -> (paragraphs with that label for `target`, paragraphs among them carrying each frame)."""
    out: dict[str, tuple[int, dict[str, int]]] = {}
    for label in labels:
        chosen = _with_label(records, target, label)
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
    records: Sequence[Prediction], target: str, label: str, frames: Sequence[str], not_mentioned: str
) -> list[FrameCooccurrence]:
    """Frames of `label` coverage of `target` against all its coverage (paragraphs not labelled
    `not_mentioned`): most frequent in `label` coverage first, ties by lift; frames never seen with
    the label are left out. (Sorting by lift alone would put one-paragraph coincidences on top.)"""
    covering = [r for r in records if target in r.stance and r.stance[target].label != not_mentioned]
    chosen = _with_label(covering, target, label)
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


def model_scored(result: TargetStance, not_mentioned: str) -> bool:
    """Whether the model scored this target (the alias gate's not_mentioned is certain by rule, not by the model)."""
    return any(v > 0 for k, v in result.scores.items() if k != not_mentioned) or result.mentioned


@dataclass(frozen=True)
class Example:
    """A paragraph shown on the page for one target, with its scores."""

    record: Prediction
    target: str
    label: str
    score: float
    margin: float


def _example(record: Prediction, target: str, result: TargetStance) -> Example:
    return Example(record, target, result.label, result.scores.get(result.label, 0.0), result.margin())


def most_confident(records: Sequence[Prediction], target: str, label: str, k: int, not_mentioned: str) -> list[Example]:
    """The `k` paragraphs the model put in `label` for `target` with the highest score for it."""
    found = []
    for record in records:
        result = record.stance.get(target)
        if result and result.label == label and model_scored(result, not_mentioned):
            found.append(_example(record, target, result))
    found.sort(key=lambda e: (-e.score, e.record.id))
    return found[:k]


def least_certain(records: Sequence[Prediction], target: str, k: int, not_mentioned: str) -> list[Example]:
    """The `k` model-scored paragraphs for `target` with the smallest margin between the two top labels."""
    found = []
    for record in records:
        result = record.stance.get(target)
        if result and model_scored(result, not_mentioned):
            found.append(_example(record, target, result))
    found.sort(key=lambda e: (e.margin, e.record.id))
    return found[:k]
