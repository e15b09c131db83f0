"""Labelled (text, target) records in the interchange format, and document-grouped splits.

One JSON object per line: `{"id", "text", "target", "label", ...}` (a record without `id` is
named by its file and line). Optional fields used here:
`doc_id` (the document the paragraph comes from), `target_start`/`target_end` (the character span
of the mention, as in NewsMTSC), `aliases` (extra names of an ad-hoc target). Training data
(`stance train`) and gold files (`stance evaluate`) are both read by `read_labelled`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stance.config import StanceConfig, Target
from stance.errors import InputError
from stance.fileio import file_sha256, iter_jsonl
from stance.records import normalise_text

# `<doc_id>:<index>:<8 hex>`, the paragraph ids that `stance annotate` writes
_PARAGRAPH_ID = re.compile(r"^(?P<doc>.+):(?P<index>\d+):[0-9a-f]{8}$")
# NewsMTSC gids: allsides_<article>_<story>_<sentence>_..., polusa_v1_<article>_<-1>_<sentence>_...
_NEWSMTSC_ID = re.compile(r"^(?:newsmtsc:)?(?P<doc>allsides_\d+_\d+|polusa_v1_\d+_-?\d+)_\d+_")


@dataclass(frozen=True)
class LabelledRecord:
    """One labelled (text, target) pair and where it was read from."""

    id: str
    text: str
    target: str
    label: str
    source: str  # "file:line", for messages
    doc_id: str | None = None
    span: tuple[int, int] | None = None
    aliases: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def target_for(self, config: StanceConfig) -> Target:
        """The target the alias gate looks for: the configured one, else an ad-hoc target named
        by the record (plus its `aliases`, plus the mention at the span, e.g. NewsMTSC's "She")."""
        configured = config.target(self.target)
        names = list(configured.aliases)
        names += [a for a in self.aliases if a not in names]
        if self.span is not None:
            mention = self.text[self.span[0] : self.span[1]].strip()
            if mention and mention not in names and mention != configured.name:
                names.append(mention)
        if tuple(names) == configured.aliases:
            return configured
        return Target(name=configured.name, aliases=tuple(names))


@dataclass(frozen=True)
class FileSummary:
    """What one labelled file held: for model cards and reports."""

    path: str
    sha256: str
    records: int
    labels: dict[str, int]


def read_labelled(
    paths: Sequence[str | Path], config: StanceConfig, *, what: str = "labelled records"
) -> tuple[list[LabelledRecord], list[FileSummary]]:
    """All records of `paths`, validated against the config's labels.

    Raises InputError naming file and line for a missing field or an unknown label, and for a
    file without records.
    """
    allowed = config.all_label_names
    records: list[LabelledRecord] = []
    summaries: list[FileSummary] = []
    for raw_path in paths:
        path = Path(raw_path)
        counts: Counter[str] = Counter()
        for line_no, obj in iter_jsonl(path, what):
            where = f"{path}:{line_no}"
            record = _parse(obj, where, allowed)
            counts[record.label] += 1
            records.append(record)
        if not counts:
            raise InputError(f"{path}: the file has no records; expected {what} as JSON Lines ({{\"id\", \"text\", \"target\", \"label\"}} per line)")
        summaries.append(FileSummary(str(path), file_sha256(path), sum(counts.values()), dict(sorted(counts.items()))))
    return records, summaries


def _parse(obj: dict, where: str, allowed: Sequence[str]) -> LabelledRecord:
    if obj.get("id") in (None, ""):
        # a hand-made gold file may have no ids: the file and line name the record (and its document)
        obj = {**obj, "id": where}
    for key in ("id", "text", "target", "label"):
        value = obj.get(key)
        if key == "id" and isinstance(value, int):
            continue
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: field {key!r} is missing or empty; expected a non-empty string in every record")
    label = obj["label"]
    if label not in allowed:
        raise InputError(f"{where}: label {label!r} is not one of the config's labels ({', '.join(allowed)})")
    text = obj["text"]
    span = None
    start, end = obj.get("target_start"), obj.get("target_end")
    if start is not None or end is not None:
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise InputError(f"{where}: target_start/target_end ({start!r}, {end!r}) are not a span inside the text of {len(text)} characters")
        span = (start, end)
    aliases = obj.get("aliases") or ()
    if isinstance(aliases, str) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise InputError(f"{where}: field 'aliases' must be a list of non-empty strings")
    doc_id = obj.get("doc_id")
    known = {"id", "text", "target", "label", "target_start", "target_end", "aliases", "doc_id"}
    return LabelledRecord(
        id=str(obj["id"]),
        text=text,
        target=obj["target"].strip(),
        label=label,
        source=where,
        doc_id=str(doc_id) if doc_id not in (None, "") else None,
        span=span,
        aliases=tuple(aliases),
        extra={k: v for k, v in obj.items() if k not in known},
    )


def document_key(record: LabelledRecord) -> str:
    """The document a record belongs to: its `doc_id`, else the document part of its id
    (`<doc_id>:<index>:<hash>` paragraph ids, NewsMTSC article ids), else the id itself."""
    if record.doc_id:
        return record.doc_id
    match = _PARAGRAPH_ID.match(record.id) or _NEWSMTSC_ID.match(record.id)
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
