"""Training data: labelled files -> stance records and frame examples, disagreements resolved, dev split.

A training file (JSON Lines) may mix
- stance records `{"id", "text", "target", "label", ...}` (what `stance pull` writes, NewsMTSC),
- frame records `{"id", "text", "frames": [names]}` (a pulled record carries both),
- document-level records: the same, where `text` is a whole article (paragraphs separated by
  blank lines, or the record says `"level": "document"`).

Disagreements between annotators on the same (paragraph, target) follow `conflicts`:
`majority` (the label most annotators chose; a tie is dropped), `latest` (the label saved last),
`drop` (any disagreement is dropped). One annotator's later label replaces their earlier one
first (records without an annotator count as one annotator: a later file corrects an earlier one).
A reviewer's decision (`"adjudicated": true`, written by `stance labelstudio review`) settles a
disagreement whatever the policy (the latest decision when there are several).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stance.config import StanceConfig
from stance.errors import InputError, TrainingError
from stance.fileio import file_sha256, iter_jsonl
from stance.labelled import FileSummary, document_groups, grouped_split, is_document_text
from stance.records import LabelledRecord

ConflictPolicy = Literal["majority", "latest", "drop"]
CONFLICT_POLICIES = ("majority", "latest", "drop")


@dataclass(frozen=True)
class FrameExample:
    """The frames of one paragraph or one whole document, as one annotator (or a gold file) gave them."""

    id: str
    text: str
    frames: tuple[str, ...]
    doc_id: str | None
    document: bool
    annotator: str | None
    updated_at: str | None
    source: str


@dataclass
class ConflictReport:
    """How disagreements between annotators were resolved."""

    policy: str
    items_with_several_annotators: int = 0
    disagreements: int = 0
    resolved: int = 0
    dropped: int = 0
    adjudicated: int = 0  # disagreements settled by a reviewer's decision

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TrainingData:
    """Everything read from the training files, validated, before splitting."""

    stance: list[LabelledRecord]
    frames: list[FrameExample]
    files: list[FileSummary]
    dropped_not_mentioned: int
    duplicates: int
    document_stance: list[LabelledRecord]
    conflicts: ConflictReport
    frame_conflicts: ConflictReport


@dataclass
class Split:
    """Stance training and dev records, plus what the model card says about them."""

    train: list[LabelledRecord]
    dev: list[LabelledRecord]
    dev_files: list[FileSummary] = field(default_factory=list)
    left_out_for_dev_overlap: int = 0
    dev_source: str = ""


def read_training_files(
    paths: Sequence[str | Path], config: StanceConfig, *, conflicts: ConflictPolicy = "majority", what: str = "training records"
) -> TrainingData:
    """Read and validate every file; resolve repeats and disagreements; leave out not_mentioned."""
    if not paths:
        raise TrainingError("no training files given; expected one or more JSON Lines files of labelled records")
    if conflicts not in CONFLICT_POLICIES:
        raise TrainingError(f"--conflicts {conflicts!r} is not one of {', '.join(CONFLICT_POLICIES)}")
    allowed = config.all_label_names
    frame_names = set(config.frame_names)
    stance: list[LabelledRecord] = []
    frames: list[FrameExample] = []
    summaries: list[FileSummary] = []
    for raw in paths:
        path = Path(raw)
        counts: Counter[str] = Counter()
        for line_no, obj in iter_jsonl(path, what):
            where = f"{path}:{line_no}"
            has_stance = "target" in obj or "label" in obj
            has_frames = obj.get("frames") is not None
            if not has_stance and not has_frames:
                raise InputError(f"{where}: expected a stance record (target, label) or a frame record (frames: [names]); it has neither")
            if has_stance:
                record = LabelledRecord.from_json(obj, where, allowed)
                stance.append(record)
                counts[record.label] += 1
            if has_frames:
                frames.append(_frame_example(obj, where, frame_names, config))
                counts["(frames)"] += 1
        if not counts:
            raise InputError(f"{path}: the file has no records; expected {what} as JSON Lines")
        summaries.append(FileSummary(str(path), file_sha256(path), sum(counts.values()), dict(sorted(counts.items()))))
    stance, duplicates, conflict_report = resolve_stance(stance, conflicts)
    frames, frame_report = resolve_frames(frames, conflicts)
    is_document = [is_document_text(r.text, r.extra) for r in stance]
    document_level = [r for r, d in zip(stance, is_document, strict=True) if d]
    stance = [r for r, d in zip(stance, is_document, strict=True) if not d]
    kept = [r for r in stance if r.label != config.not_mentioned.name]
    return TrainingData(kept, frames, summaries, len(stance) - len(kept), duplicates, document_level, conflict_report, frame_report)


def _frame_example(obj: dict[str, Any], where: str, frame_names: set[str], config: StanceConfig) -> FrameExample:
    frames = obj["frames"]
    if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
        raise InputError(f"{where}: field 'frames' is {frames!r}; expected a list of frame names")
    unknown = [f for f in frames if f not in frame_names]
    if unknown:
        raise InputError(f"{where}: frame(s) {', '.join(map(repr, unknown))} are not in the config's frames ({', '.join(sorted(frame_names))})")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: field 'text' is missing or empty; expected the paragraph or article text")
    record_id = str(obj.get("id") or where)
    return FrameExample(
        id=record_id, text=text, frames=tuple(frames), doc_id=str(obj["doc_id"]) if obj.get("doc_id") else None,
        document=is_document_text(text, obj), annotator=_text(obj.get("annotator")), updated_at=_text(obj.get("updated_at")),
        source=where,
    )


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def resolve_stance(records: Sequence[LabelledRecord], policy: str) -> tuple[list[LabelledRecord], int, ConflictReport]:
    """One record per (paragraph, target, span): repeats by one annotator collapse to their latest,
    disagreements between annotators follow `policy`. Returns (records, repeats removed, report)."""
    report = ConflictReport(policy)
    by_key: dict[tuple[str, str, Any], dict[str | None, tuple[int, LabelledRecord]]] = defaultdict(dict)
    for order, record in enumerate(records):
        people = by_key[(record.id, record.target, record.span)]
        previous = people.get(record.annotator)
        if previous is None or (record.updated_at or "") >= (previous[1].updated_at or ""):
            people[record.annotator] = (order, record)
    kept: list[tuple[int, LabelledRecord]] = []
    for people in by_key.values():
        votes = list(people.values())
        if len(votes) > 1:
            report.items_with_several_annotators += 1
        labels = Counter(r.label for _, r in votes)
        if len(labels) == 1:
            kept.append(min(votes, key=lambda v: v[0]))
            continue
        report.disagreements += 1
        decisions = [v for v in votes if v[1].extra.get("adjudicated") is True]
        if decisions:
            report.adjudicated += 1
            kept.append(max(decisions, key=lambda v: (v[1].updated_at or "", v[0])))
            continue
        chosen = _resolve([(r.label, r.updated_at or "", order) for order, r in votes], policy)
        if chosen is None:
            report.dropped += 1
            continue
        report.resolved += 1
        kept.append(next(v for v in votes if v[1].label == chosen))
    kept.sort(key=lambda v: v[0])
    repeats = len(records) - sum(len(p) for p in by_key.values())
    return [r for _, r in kept], repeats, report


def _resolve(votes: list[tuple[str, str, int]], policy: str) -> str | None:
    """The label the policy keeps from (label, updated_at, order) votes that disagree, or None."""
    if policy == "drop":
        return None
    if policy == "latest":
        return max(votes, key=lambda v: (v[1], v[2]))[0]
    counts = Counter(label for label, _, _ in votes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None  # a tie: no majority
    return counts[0][0]


def resolve_frames(examples: Sequence[FrameExample], policy: str) -> tuple[list[FrameExample], ConflictReport]:
    """One frame set per paragraph (or document): an annotator's latest; across annotators, per frame
    the majority (ties: left out), the latest set, or the item dropped when the sets differ."""
    report = ConflictReport(policy)
    by_id: dict[tuple[str, bool], dict[str | None, FrameExample]] = defaultdict(dict)
    for example in examples:
        people = by_id[(example.id, example.document)]
        previous = people.get(example.annotator)
        if previous is None or (example.updated_at or "") >= (previous.updated_at or ""):
            people[example.annotator] = example
    kept = []
    for people in by_id.values():
        sets = [frozenset(e.frames) for e in people.values()]
        first = next(iter(people.values()))
        if len(sets) > 1:
            report.items_with_several_annotators += 1
        if len(set(sets)) <= 1:
            kept.append(first)
            continue
        report.disagreements += 1
        if policy == "drop":
            report.dropped += 1
            continue
        if policy == "latest":
            chosen = max(people.values(), key=lambda e: e.updated_at or "")
        else:
            counts = Counter(f for s in sets for f in s)
            majority = tuple(f for f in first.frames + tuple(sorted(counts)) if counts[f] * 2 > len(sets))
            chosen = FrameExample(first.id, first.text, tuple(dict.fromkeys(majority)), first.doc_id, first.document, None, None, first.source)
        report.resolved += 1
        kept.append(chosen)
    return kept, report


def split_stance(
    records: list[LabelledRecord], dev_fraction: float, seed: int, dev_records: list[LabelledRecord] | None = None,
    dev_files: list[FileSummary] | None = None, dev_name: str | None = None,
) -> Split:
    """Training and dev records: a given dev file (training records sharing a document or a text with
    it are left out), else `dev_fraction` of the records, whole documents only."""
    if dev_records is not None:
        groups = document_groups([*dev_records, *records])
        dev_groups = set(groups[: len(dev_records)])
        kept = [r for r, g in zip(records, groups[len(dev_records):], strict=True) if g not in dev_groups]
        return Split(kept, dev_records, dev_files or [], len(records) - len(kept), f"file {dev_name}")
    train_idx, dev_idx = grouped_split(records, dev_fraction, seed)
    return Split([records[i] for i in train_idx], [records[i] for i in dev_idx], [], 0,
                 f"{dev_fraction:.0%} of the training records, grouped by document (seed {seed})")
