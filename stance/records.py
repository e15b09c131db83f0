"""The records that flow through stance: documents, paragraphs and labelled examples."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFC, whitespace collapsed and stripped: the form ids and caches are computed on."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_hash(text: str) -> str:
    """A stable hex digest of the normalised text."""
    return hashlib.sha1(normalise_text(text).encode("utf-8")).hexdigest()


def paragraph_id(doc_id: str, index: int, text: str) -> str:
    """`<doc_id>:<index>:<8 hex>`: the same text at the same place in a document keeps its id."""
    return f"{doc_id}:{index}:{text_hash(text)[:8]}"


@dataclass(frozen=True)
class Document:
    """One article as read from an input file."""

    id: str
    text: str
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class Paragraph:
    """A paragraph (or a window of whole sentences of a long one) and where it sits in its document.

    `text == document.text[start:end]` always holds.
    """

    id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    date: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    block: int = 0
    window: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LabelledExample:
    """One (text, target) pair with a stance label: the interchange format of pull, train and evaluate."""

    id: str
    text: str
    target: str
    label: str
    frames: tuple[str, ...] | None = None
    doc_id: str | None = None
    annotator: str | None = None
    updated_at: str | None = None
    model_label: str | None = None
    model_version: str | None = None
