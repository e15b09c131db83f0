"""Mentions in the example paragraphs: where the alias gate finds a target in a paragraph, as text
segments the page marks (the template escapes every segment; nothing here builds HTML).

The gate is the run's own (`MentionGate` with the config's targets, dateline and demonyms), and
short forms count as they did in the run: "Wang" is a mention once "Wang Yi" occurred earlier in
the same document (`DocumentContext` over the run's paragraphs in document order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stance.config import StanceConfig
from stance.mentions import DocumentContext, MentionGate
from stance.records import Prediction


@dataclass(frozen=True)
class Segment:
    text: str
    mention: bool


class Highlighter:
    """Mention spans of any target in any paragraph of one run."""

    def __init__(self, config: StanceConfig, records: Sequence[Prediction]) -> None:
        self.gate = MentionGate(config.targets, dateline=config.gate.dateline, demonyms=config.gate.demonyms)
        self.targets = {t.name: t for t in config.targets}
        self.context: dict[str, frozenset[str]] = {}
        context = DocumentContext(self.gate)
        order = {doc: i for i, doc in reversed(list(enumerate(r.doc_id or r.id for r in records)))}
        ordered = sorted(records, key=lambda r: (order[r.doc_id or r.id], r.index if r.index is not None else 0))
        for record in ordered:
            self.context[record.id] = context.before(record.doc_id or record.id, record.text)

    def spans(self, record: Prediction, target: str) -> list[tuple[int, int]]:
        config_target = self.targets.get(target)
        if config_target is None:
            return []
        return self.gate.spans(record.text, config_target, self.context.get(record.id, frozenset()))

    def segments(self, record: Prediction, target: str, limit: int) -> list[Segment]:
        """The paragraph (shortened to `limit` characters, then " …") split into plain and mention segments."""
        return split(record.text, self.spans(record, target), limit)


def split(text: str, spans: Sequence[tuple[int, int]], limit: int) -> list[Segment]:
    """`text` cut into segments at `spans` (sorted, possibly overlapping); text past `limit` is dropped."""
    shortened = len(text) > limit
    end_of_text = limit if shortened else len(text)
    out: list[Segment] = []
    position = 0
    for start, end in sorted(spans):
        start, end = max(start, position), min(end, end_of_text)
        if start >= end:
            continue
        if start > position:
            out.append(Segment(text[position:start], False))
        out.append(Segment(text[start:end], True))
        position = end
    if position < end_of_text:
        rest = text[position:end_of_text]
        out.append(Segment(rest.rstrip() if shortened else rest, False))
    if shortened:
        out.append(Segment(" …", False))
    return out
