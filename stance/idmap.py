"""Paragraph ids of both styles, and old id -> new id by document and text.

Paragraph ids are content-addressed (`stance.records.paragraph_id`): `<doc_id>:<12 hex>`, the
first 12 hex digits of the SHA-1 of the normalised text, plus `-<n>` for the n-th paragraph of a
document with that text. Runs and Label Studio projects made before that carry position-based
("legacy") ids, `<doc_id>:<index>:<8 hex>`, whose 8 hex digits are the first 8 of the same hash.
So a legacy id and a content id name the same paragraph when they have the same document, the
same normalised text (the 8-digit prefix), and the same rank among the paragraphs of the document
with that text: legacy ids are ranked by their index, content ids by their occurrence number.

- `parse_paragraph_id`: the parts of an id of either style (or None for other ids);
- `under_run_ids`: what push needs: a project's tasks keyed by the run's ids;
- `relabel_legacy_ids`: what pull needs: pulled records of tasks that carry legacy ids get the
  content ids of their paragraphs, computed from the tasks' texts;
- `upgrade_predictions`: a legacy run's predictions with content ids (annotate resumes a legacy run).

A legacy paragraph whose text has changed since has no new counterpart: it stays what it was.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from stance.records import ID_DIGEST_CHARS, LabelledRecord, Prediction, paragraph_id, text_hash

LEGACY_DIGEST_CHARS = 8
_LEGACY_ID = re.compile(r"^(?P<doc>.+):(?P<index>\d+):(?P<digest>[0-9a-f]{8})$")
_CONTENT_ID = re.compile(rf"^(?P<doc>.+):(?P<digest>[0-9a-f]{{{ID_DIGEST_CHARS}}})(?:-(?P<occurrence>[2-9]|[1-9]\d+))?$")

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class IdParts:
    """What an id says: its document, its text's hash digits, and its index (legacy) or occurrence (content)."""

    doc: str
    digest: str
    legacy: bool
    index: int | None = None  # legacy ids only
    occurrence: int = 1  # content ids only

    @property
    def text_key(self) -> tuple[str, str]:
        """(document, the first 8 hex digits of the text's hash): equal for the two styles of one text."""
        return self.doc, self.digest[:LEGACY_DIGEST_CHARS]


def parse_paragraph_id(pid: str) -> IdParts | None:
    """The parts of a paragraph id that `stance annotate` wrote, either style; None for any other id."""
    match = _CONTENT_ID.match(pid)
    if match:
        return IdParts(match["doc"], match["digest"], False, occurrence=int(match["occurrence"] or 1))
    match = _LEGACY_ID.match(pid)
    if match:
        return IdParts(match["doc"], match["digest"], True, index=int(match["index"]))
    return None


def is_legacy_id(pid: str) -> bool:
    parts = parse_paragraph_id(pid)
    return parts is not None and parts.legacy


def legacy_paragraph_id(doc_id: str, index: int, text: str) -> str:
    """The id rule before content addressing: `<doc_id>:<index>:<8 hex>` (for reading old runs, and tests)."""
    return f"{doc_id}:{index}:{text_hash(text)[:LEGACY_DIGEST_CHARS]}"


Key = tuple[str, str, int]  # (document, the first 8 hex digits of the text's hash, rank among the paragraphs with that text)


def _keys(ids: Iterable[str]) -> dict[str, tuple[Key, bool]]:
    """id -> (its key, whether it is a legacy id), for the ids of either style among `ids`.

    Legacy ids are ranked by their index among the legacy ids given; content ids by their occurrence.
    """
    keys: dict[str, tuple[Key, bool]] = {}
    legacy: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for pid in dict.fromkeys(ids):  # each id once, however many records carry it
        parts = parse_paragraph_id(pid)
        if parts is None:
            continue
        if parts.legacy:
            legacy[parts.text_key].append((parts.index or 0, pid))
        else:
            keys[pid] = ((*parts.text_key, parts.occurrence), False)
    for text_key, placed in legacy.items():
        for rank, (_, pid) in enumerate(sorted(placed), start=1):
            keys[pid] = ((*text_key, rank), True)
    return keys


def _match(ids: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """id of `ids` -> the id of `known` that names the same paragraph under another id (two content
    ids never do: they differ in their text)."""
    by_key: dict[Key, tuple[str, bool] | None] = {}
    for pid, (key, legacy) in _keys(known).items():
        by_key[key] = None if key in by_key else (pid, legacy)  # two texts with one 8-digit prefix: ambiguous
    matched: dict[str, str] = {}
    for pid, (key, legacy) in _keys(ids).items():
        other = by_key.get(key)
        if other is not None and other[0] != pid and (legacy or other[1]):
            matched[pid] = other[0]
    return matched


def under_run_ids(present: Mapping[str, V], run_ids: Iterable[str]) -> dict[str, V]:
    """`present` (a project's tasks keyed by their paragraph ids) keyed by the run's ids instead.

    A project id of the other style (a legacy task and a content-id run, or the reverse) that
    names one of the run's paragraphs is filed under the run's id, so that push neither imports
    that paragraph again nor loses the reviews of its task. An id the run holds verbatim wins.
    """
    run_ids = list(run_ids)
    verbatim = set(run_ids)
    missing = [pid for pid in run_ids if pid not in present]
    if not missing:
        return dict(present)
    matched = _match(missing, (pid for pid in present if pid not in verbatim))
    taken = set(matched.values())
    rekeyed = {pid: value for pid, value in present.items() if pid not in taken}
    for run_id, project_id in matched.items():
        rekeyed[run_id] = present[project_id]
    return rekeyed


class LegacyIds:
    """The legacy ids among a project's (or a file's) paragraph ids, ranked among repeats of one text."""

    def __init__(self, ids: Iterable[str]) -> None:
        self._keys = {pid: key for pid, (key, legacy) in _keys(ids).items() if legacy}

    def content_id(self, pid: str, text: str) -> str:
        """The content id of the paragraph a legacy id names, given its text; any other id as it is.

        A text whose hash does not start with the legacy id's 8 digits (it is not the text the id
        was made from) keeps the legacy id.
        """
        key = self._keys.get(pid)
        if key is None:
            parts = parse_paragraph_id(pid)
            if parts is None or not parts.legacy:
                return pid
            key = (*parts.text_key, 1)
        doc, digest, rank = key
        if text_hash(text)[:LEGACY_DIGEST_CHARS] != digest:
            return pid
        return paragraph_id(doc, text, rank)

    def relabel(self, record: LabelledRecord) -> LabelledRecord:
        """The record with the content id of its paragraph; a relabelled record keeps its old id as `legacy_id`."""
        new = self.content_id(record.id, record.text)
        return record if new == record.id else replace(record, id=new, extra={**record.extra, "legacy_id": record.id})


def relabel_legacy_ids(records: Iterable[LabelledRecord], project_ids: Callable[[], Iterable[str]]) -> Iterator[LabelledRecord]:
    """Pulled records with content ids in place of legacy ones (matched by document and text).

    `project_ids` gives every paragraph id of the project (to rank the repeats of one text in a
    document as annotate numbers them); it is called once, at the first legacy id, so a project of
    content ids costs nothing more.
    """
    legacy: LegacyIds | None = None
    for record in records:
        if legacy is None and is_legacy_id(record.id):
            legacy = LegacyIds(project_ids())
        yield legacy.relabel(record) if legacy is not None else record


def upgrade_predictions(predictions: Iterable[Prediction]) -> Iterator[Prediction]:
    """A run's predictions (in file order) with content ids in place of legacy ones.

    A document's paragraphs are in document order in predictions.jsonl, so the occurrence numbers
    are the ones `stance annotate` gives them now; a paragraph without a document keeps its id.
    """
    seen: Counter[str] = Counter()
    for prediction in predictions:
        if prediction.doc_id is None or not is_legacy_id(prediction.id):
            yield prediction
            continue
        first = paragraph_id(prediction.doc_id, prediction.text)
        seen[first] += 1
        yield replace(prediction, id=paragraph_id(prediction.doc_id, prediction.text, seen[first]))


__all__ = [
    "IdParts", "LegacyIds", "is_legacy_id", "legacy_paragraph_id", "parse_paragraph_id", "relabel_legacy_ids", "under_run_ids",
    "upgrade_predictions",
]
