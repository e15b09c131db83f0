"""Units of scoring work: chunks of paragraphs, and the duplicate cache that plans them.

A paragraph whose exact text was already scored in the run (a syndicated copy) is copied from
the earlier prediction instead of being scored again. The cache keeps a 12-byte digest and a byte
offset per distinct text, not the text, so memory stays small for large corpora.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from stance.annotator import CONTEXT_KEY
from stance.records import Paragraph, Prediction
from stance.runs import PredictionReader


def chunked(paragraphs: Iterator[Paragraph], size: int) -> Iterator[list[Paragraph]]:
    """Consecutive chunks of `size` paragraphs (the last one shorter)."""
    chunk: list[Paragraph] = []
    for paragraph in paragraphs:
        chunk.append(paragraph)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class ChunkPlan:
    """Which paragraphs of a chunk need the model, and which copy an earlier identical paragraph."""

    paragraphs: list[Paragraph]
    to_score: list[Paragraph]
    sources: list[int | Prediction]  # per paragraph: index into to_score, or the earlier prediction

    def merge(self, scored: list[Prediction]) -> list[Prediction]:
        """The chunk's predictions in paragraph order, copies filled in from their originals."""
        lines = []
        for paragraph, source in zip(self.paragraphs, self.sources, strict=True):
            origin = scored[source] if isinstance(source, int) else source
            lines.append(origin if origin.id == paragraph.id else origin.copied_to(paragraph))
        return lines


class DuplicateIndex:
    """Text digest -> byte offset of the first prediction with that exact text in predictions.jsonl."""

    def __init__(self, path: Path) -> None:
        self.reader = PredictionReader(path)
        self._offsets: dict[bytes, int] = {}

    @staticmethod
    def _key(text: str, context: Iterable[str] = ()) -> bytes:
        """The text and the document context the gate saw (a surname counts only after its full name)."""
        return hashlib.blake2b("\x00".join([text, *context]).encode("utf-8"), digest_size=12).digest()

    def add_written(self, paragraph: Paragraph, offset: int) -> None:
        self._offsets.setdefault(self._key(paragraph.text, paragraph.meta.get(CONTEXT_KEY, ())), offset)

    def plan(self, chunk: list[Paragraph]) -> ChunkPlan:
        to_score: list[Paragraph] = []
        sources: list[int | Prediction] = []
        first_in_chunk: dict[bytes, int] = {}
        for paragraph in chunk:
            key = self._key(paragraph.text, paragraph.meta.get(CONTEXT_KEY, ()))
            if key in self._offsets:
                sources.append(self.reader.at(self._offsets[key]))
            elif key in first_in_chunk:
                sources.append(first_in_chunk[key])
            else:
                first_in_chunk[key] = len(to_score)
                sources.append(len(to_score))
                to_score.append(paragraph)
        return ChunkPlan(chunk, to_score, sources)


def score_plans(
    plans: Iterator[ChunkPlan], chunk_scorer: Callable[[Iterable[list[Paragraph]]], Iterator[list[Prediction]]]
) -> Iterator[tuple[ChunkPlan, list[Prediction]]]:
    """Pair each plan with the predictions of its paragraphs to score, keeping the order."""
    pending: list[ChunkPlan] = []

    def to_score() -> Iterator[list[Paragraph]]:
        for plan in plans:
            pending.append(plan)
            yield plan.to_score

    for records in chunk_scorer(to_score()):
        yield pending.pop(0), records
