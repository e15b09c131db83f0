"""Files of labelled (text, target) records in the interchange format, and document-grouped splits.

One JSON object per line: `{"id", "text", "target", "label", ...}` (see `LabelledRecord`; a record
without `id` is named by its file and line). Training data (`stance train`), gold files
(`stance evaluate`) and pulled annotations (`stance pull` writes them, `stance report` reads
them) all go through `read_labelled` and `write_labelled`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from stance.config import StanceConfig
from stance.errors import InputError
from stance.fileio import dumps_line, file_sha256, iter_jsonl
from stance.idmap import parse_paragraph_id
from stance.records import LabelledRecord, normalise_text

# NewsMTSC gids: allsides_<article>_<story>_<sentence>_..., polusa_v1_<article>_<-1>_<sentence>_...
_NEWSMTSC_ID = re.compile(r"^(?:newsmtsc:)?(?P<doc>allsides_\d+_\d+|polusa_v1_\d+_-?\d+)_\d+_")


@dataclass(frozen=True)
class FileSummary:
    """What one labelled file held: for model cards and reports."""

    path: str
    sha256: str
    records: int
    labels: dict[str, int]


def read_labelled(
    paths: Sequence[str | Path], config: StanceConfig | None, *, what: str = "labelled records"
) -> tuple[list[LabelledRecord], list[FileSummary]]:
    """All records of `paths`, validated (against the config's labels when a config is given).

    Raises InputError naming file and line for a missing field or an unknown label, and for a
    file without records.
    """
    allowed = config.all_label_names if config is not None else None
    records: list[LabelledRecord] = []
    summaries: list[FileSummary] = []
    for raw_path in paths:
        path = Path(raw_path)
        counts: Counter[str] = Counter()
        for line_no, obj in iter_jsonl(path, what):
            record = LabelledRecord.from_json(obj, f"{path}:{line_no}", allowed)
            counts[record.label] += 1
            records.append(record)
        if not counts:
            raise InputError(f"{path}: the file has no records; expected {what} as JSON Lines ({{\"id\", \"text\", \"target\", \"label\"}} per line)")
        summaries.append(FileSummary(str(path), file_sha256(path), sum(counts.values()), dict(sorted(counts.items()))))
    return records, summaries


def write_labelled(handle: IO[str], records: Iterable[LabelledRecord]) -> int:
    """Write records as interchange JSON Lines to an open text file; returns how many."""
    count = 0
    for record in records:
        handle.write(dumps_line(record.to_json()))
        count += 1
    return count


def latest_per_annotator(records: Iterable[LabelledRecord]) -> list[LabelledRecord]:
    """One label per (paragraph, target, annotator): the one updated last (ties: the later record)."""
    latest: dict[tuple[str, str, str | None], LabelledRecord] = {}
    for record in records:
        key = (record.id, record.target, record.annotator)
        if key not in latest or (record.updated_at or "") >= (latest[key].updated_at or ""):
            latest[key] = record
    return list(latest.values())


_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*\S")


def is_document_text(text: str, record: dict[str, Any] | None = None) -> bool:
    """Whether a labelled text is a whole document: the record says so (`"level": "document"` or
    `"paragraph"`), else the text holds a paragraph break (a blank line) between two paragraphs."""
    if record and record.get("level") in ("document", "paragraph"):
        return record["level"] == "document"
    return _BLANK_LINE.search(text.strip()) is not None


def paragraph_position(record_id: str, index: Any = None) -> tuple[str, int] | None:
    """(document, index) of a paragraph that `stance annotate` named, else None.

    A legacy id (`<doc_id>:<index>:<8 hex>`) holds both; a content id (`<doc_id>:<12 hex>[-n]`)
    names the document, and the index is the record's own (`index`, as predictions and pulled
    records carry it): without one, None.
    """
    parts = parse_paragraph_id(record_id)
    if parts is None:
        return None
    if parts.legacy:
        return parts.doc, int(parts.index or 0)
    return (parts.doc, index) if isinstance(index, int) and not isinstance(index, bool) else None


def document_key(record: LabelledRecord) -> str:
    """The document a record belongs to: its `doc_id`, else the document part of its id
    (paragraph ids of either style, NewsMTSC article ids), else the id itself."""
    if record.doc_id:
        return record.doc_id
    parts = parse_paragraph_id(record.id)
    if parts is not None:
        return parts.doc
    match = _NEWSMTSC_ID.match(record.id)
    return match.group("doc") if match else record.id


def document_groups(records: Sequence[LabelledRecord]) -> list[int]:
    """A group number per record: records of one document, or with the same text, share a group
    (the same sentence quoted by two articles must not sit on both sides of a split)."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for record in records:
        doc, text = "d:" + document_key(record), "t:" + normalise_text(record.text)
        parent[find(doc)] = find(text)
    roots: dict[str, int] = {}
    return [roots.setdefault(find("d:" + document_key(r)), len(roots)) for r in records]


def grouped_split(records: Sequence[LabelledRecord], dev_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, dev indices): about `dev_fraction` of the records in dev, whole groups only.

    Groups are ordered by a seeded hash, so the split is the same on every machine and a record
    added to the data does not move the others.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"dev_fraction {dev_fraction} must be between 0 and 1")
    groups = document_groups(records)
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    if len(members) < 2:
        return list(range(len(records))), []

    def rank(group: int) -> str:
        first = records[members[group][0]]
        return hashlib.sha256(f"{seed}:{document_key(first)}".encode()).hexdigest()

    wanted = dev_fraction * len(records)
    dev: list[int] = []
    for group in sorted(members, key=rank):
        if len(dev) >= wanted:
            break
        if len(dev) + len(members[group]) > len(records) - 1:
            continue  # never move everything into dev
        dev.extend(members[group])
    dev_set = set(dev)
    return [i for i in range(len(records)) if i not in dev_set], sorted(dev)


def label_counts(records: Iterable[LabelledRecord]) -> dict[str, int]:
    return dict(sorted(Counter(r.label for r in records).items()))
