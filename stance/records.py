"""The typed records that flow between the steps of stance.

- `Document`, `Paragraph`: what ingest reads and splits.
- `TargetStance`, `Prediction`: what a model says about one paragraph (a line of predictions.jsonl).
- `LabelledRecord`: one labelled (text, target) pair in the interchange format that `stance pull`
  writes and `stance train`, `stance evaluate` and `stance report` read.

Each record converts itself to and from JSON (`to_json` / `from_json`); `from_json` checks the
shape and raises `InputError` naming the place (`file:line`) and what was expected. Which files
hold them, and how they are read and written, is `stance.runs` and `stance.labelled`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import InputError

_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFC, whitespace collapsed and stripped: the form ids and caches are computed on."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_hash(text: str) -> str:
    """A stable hex digest of the normalised text."""
    return hashlib.sha1(normalise_text(text).encode("utf-8")).hexdigest()


ID_DIGEST_CHARS = 12  # hex digits of the text's hash in a paragraph id


def paragraph_id(doc_id: str, text: str, occurrence: int = 1) -> str:
    """`<doc_id>:<12 hex>` (the first 12 hex digits of the SHA-1 of the normalised text), with
    `-<n>` added for the n-th paragraph of the document that has this text (n >= 2).

    Content-addressed: the id depends on the document and the paragraph's own text only, so
    paragraphs inserted, deleted or edited elsewhere in the article leave it unchanged.
    """
    base = f"{doc_id}:{text_hash(text)[:ID_DIGEST_CHARS]}"
    return base if occurrence == 1 else f"{base}-{occurrence}"


def paragraph_ids(doc_id: str, texts: Iterable[str]) -> list[str]:
    """The ids of a document's paragraphs, in document order: a text that repeats is numbered by
    its occurrence (`-2`, `-3`, ...), so every id of the document is unique."""
    seen: Counter[str] = Counter()
    ids = []
    for text in texts:
        first = paragraph_id(doc_id, text)
        seen[first] += 1
        ids.append(first if seen[first] == 1 else f"{first}-{seen[first]}")
    return ids


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


# ------------------------------------------------------------------------------------ predictions

# the paragraph fields a prediction line carries, in the order predictions.jsonl writes them
PARAGRAPH_FIELDS = ("id", "doc_id", "index", "text", "date", "title", "source", "url", "start", "end", "window")


NO_ALIAS = "no alias found"  # why a target is not_mentioned: the gate found none of its names
MODEL_SAID = "model"  # ... the model chose not_mentioned (gate off)


@dataclass(frozen=True, slots=True)
class TargetStance:
    """The model's decision for one target of one paragraph: the label, every label's score,
    whether the alias gate found the target in the paragraph, and for a `not_mentioned` label why
    (`NO_ALIAS`: the gate found no name of it, so no model was asked; `MODEL_SAID`)."""

    label: str
    scores: dict[str, float]
    mentioned: bool
    why: str | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"label": self.label, "scores": dict(self.scores), "mentioned": self.mentioned}
        if self.why is not None:
            obj["why"] = self.why
        return obj

    @classmethod
    def from_json(cls, obj: Any, where: str) -> TargetStance:
        if not isinstance(obj, dict) or not isinstance(obj.get("label"), str) or not isinstance(obj.get("scores"), dict):
            raise InputError(f"{where}: lacks a label or scores; expected {{label, scores, mentioned}}")
        scores = obj["scores"]
        if not all(isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) for k, v in scores.items()):
            raise InputError(f"{where}: scores must map label names to numbers")
        why = obj.get("why")
        return cls(obj["label"], {k: float(v) for k, v in scores.items()}, bool(obj.get("mentioned")), why if isinstance(why, str) else None)

    def margin(self) -> float:
        """Top score minus the runner-up (the top score alone when there is one label)."""
        top = sorted(self.scores.values(), reverse=True)
        if not top:
            return 0.0
        return top[0] - top[1] if len(top) > 1 else top[0]


@dataclass(frozen=True)
class Prediction:
    """One line of predictions.jsonl: a paragraph, per target its stance, and its frames."""

    id: str
    doc_id: str | None
    index: int | None
    text: str
    stance: dict[str, TargetStance]
    frames: dict[str, float]
    frame_labels: tuple[str, ...]
    model_version: str
    date: str | None = None
    title: str | None = None
    source: str | None = None
    url: str | None = None
    start: int | None = None
    end: int | None = None
    window: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object of predictions.jsonl (this key order is the file's)."""
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "index": self.index,
            "text": self.text,
            "date": self.date,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "start": self.start,
            "end": self.end,
            "window": self.window,
            "stance": {name: result.to_json() for name, result in self.stance.items()},
            "frames": dict(self.frames),
            "frame_labels": list(self.frame_labels),
            "model_version": self.model_version,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> Prediction:
        """A prediction from its JSON object; `where` (`file:line`) names it in errors."""
        if not isinstance(obj, dict):
            raise InputError(f"{where}: is not a JSON object; expected a prediction record")
        for key, kind in (("id", str), ("text", str), ("stance", dict)):
            if not isinstance(obj.get(key), kind) or (kind is str and not obj[key].strip()):
                raise InputError(f"{where}: field {key!r} is missing or not a {kind.__name__}; expected a prediction record")
        stance = {str(target): TargetStance.from_json(result, f"{where}: stance[{target!r}]") for target, result in obj["stance"].items()}
        frames = obj.get("frames") or {}
        labels = obj.get("frame_labels") or []
        if not isinstance(frames, dict) or not isinstance(labels, list) or not all(isinstance(f, str) for f in labels):
            raise InputError(f"{where}: frames must be {{frame: score}} and frame_labels a list of frame names")
        return cls(
            id=obj["id"],
            doc_id=_optional_str(obj.get("doc_id")),
            index=obj.get("index") if isinstance(obj.get("index"), int) else None,
            text=obj["text"],
            stance=stance,
            frames={str(k): float(v) for k, v in frames.items()},
            frame_labels=tuple(labels),
            model_version=str(obj.get("model_version") or ""),
            date=_optional_str(obj.get("date")),
            title=_optional_str(obj.get("title")),
            source=_optional_str(obj.get("source")),
            url=_optional_str(obj.get("url")),
            start=obj.get("start") if isinstance(obj.get("start"), int) else None,
            end=obj.get("end") if isinstance(obj.get("end"), int) else None,
            window=obj.get("window") if isinstance(obj.get("window"), int) else None,
        )

    @classmethod
    def for_paragraph(
        cls, paragraph: Paragraph, stance: dict[str, TargetStance], frames: dict[str, float], frame_labels: Sequence[str], model_version: str
    ) -> Prediction:
        return cls(
            id=paragraph.id, doc_id=paragraph.doc_id, index=paragraph.index, text=paragraph.text, stance=stance, frames=frames,
            frame_labels=tuple(frame_labels), model_version=model_version, date=paragraph.date, title=paragraph.title,
            source=paragraph.source, url=paragraph.url, start=paragraph.start, end=paragraph.end, window=paragraph.window,
        )

    def copied_to(self, paragraph: Paragraph) -> Prediction:
        """This prediction's labels and scores for another paragraph with the same text (a syndicated copy)."""
        return Prediction.for_paragraph(paragraph, self.stance, self.frames, self.frame_labels, self.model_version)

    def confidence(self) -> float:
        """The smallest margin between the top two labels over all targets: 1 when every target was
        clear-cut, near 0 when at least one was a coin toss (Label Studio's review order)."""
        margins = [result.margin() for result in self.stance.values() if result.scores]
        return min(margins) if margins else 1.0


# ------------------------------------------------------------------------------- labelled records


@dataclass(frozen=True)
class LabelledRecord:
    """One labelled (text, target) pair: a gold or training record, or a pulled annotation.

    The interchange format (one JSON object per line): `id`, `text`, `target`, `label`, and
    optionally `doc_id`, `target_start`/`target_end` (the mention's span), `aliases` (names of an
    ad-hoc target), `frames`, and what `stance pull` adds: `annotator`, `updated_at`,
    `model_label` (the pre-label the annotator saw), `model_version`, `annotation_id`.
    """

    id: str
    text: str
    target: str
    label: str
    source: str = ""  # "file:line", for messages (not written)
    doc_id: str | None = None
    span: tuple[int, int] | None = None
    aliases: tuple[str, ...] = ()
    frames: tuple[str, ...] | None = None
    annotator: str | None = None
    updated_at: str | None = None
    model_label: str | None = None
    model_version: str | None = None
    annotation_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    KNOWN = (
        "id", "text", "target", "label", "target_start", "target_end", "aliases", "doc_id", "frames", "annotator",
        "updated_at", "model_label", "model_version", "annotation_id",
    )

    def to_json(self) -> dict[str, Any]:
        """The interchange object as `stance pull` writes it."""
        obj: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "target": self.target,
            "label": self.label,
            "frames": list(self.frames) if self.frames is not None else None,
            "annotator": self.annotator,
            "updated_at": self.updated_at,
            "model_label": self.model_label,
            "model_version": self.model_version,
            "doc_id": self.doc_id,
            "annotation_id": self.annotation_id,
        }
        if self.span is not None:
            obj["target_start"], obj["target_end"] = self.span
        if self.aliases:
            obj["aliases"] = list(self.aliases)
        return {**obj, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str, allowed_labels: Sequence[str] | None = None) -> LabelledRecord:
        """A record from its JSON object, checked; `allowed_labels` (the config's) when given."""
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
        if allowed_labels is not None and label not in allowed_labels:
            raise InputError(f"{where}: label {label!r} is not one of the config's labels ({', '.join(allowed_labels)})")
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
        frames = obj.get("frames")
        if frames is not None and not (isinstance(frames, list) and all(isinstance(f, str) for f in frames)):
            raise InputError(f"{where}: field 'frames' is {frames!r}; expected a list of frame names or null")
        annotation_id = obj.get("annotation_id")
        return cls(
            id=str(obj["id"]),
            text=text,
            target=obj["target"].strip(),
            label=label,
            source=where,
            doc_id=_optional_str(obj.get("doc_id")),
            span=span,
            aliases=tuple(aliases),
            frames=tuple(frames) if frames is not None else None,
            annotator=_optional_str(obj.get("annotator")),
            updated_at=_optional_str(obj.get("updated_at")),
            model_label=_optional_str(obj.get("model_label")),
            model_version=_optional_str(obj.get("model_version")),
            annotation_id=annotation_id if isinstance(annotation_id, int) else None,
            extra={k: v for k, v in obj.items() if k not in cls.KNOWN},
        )

    def with_label(self, label: str) -> LabelledRecord:
        return replace(self, label=label)

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


def _optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


# ------------------------------------------------------------------------------------ documents


@dataclass(frozen=True)
class DocumentStance:
    """A document's stance toward one target, from its paragraphs: the label (documented rule in
    `stance.documents`), mean scores, and paragraphs per label."""

    label: str
    scores: dict[str, float]
    counts: dict[str, int]
    shares: dict[str, float]  # among the paragraphs that mention the target
    mentioned: int

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores), "counts": dict(self.counts), "shares": dict(self.shares),
                "mentioned": self.mentioned}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> DocumentStance:
        if not isinstance(obj, dict) or not isinstance(obj.get("label"), str):
            raise InputError(f"{where}: expected {{label, scores, counts, shares, mentioned}}")
        return cls(obj["label"], dict(obj.get("scores") or {}), dict(obj.get("counts") or {}), dict(obj.get("shares") or {}),
                   int(obj.get("mentioned") or 0))


@dataclass(frozen=True)
class DocumentSummary:
    """One line of documents.jsonl: an article's stance toward each target and its frames."""

    doc_id: str
    title: str | None
    date: str | None
    source: str | None
    url: str | None
    paragraphs: int
    stance: dict[str, DocumentStance]
    frames: tuple[str, ...]
    frame_scores: dict[str, float]
    model_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "title": self.title, "date": self.date, "source": self.source, "url": self.url,
            "paragraphs": self.paragraphs, "stance": {t: s.to_json() for t, s in self.stance.items()},
            "frames": list(self.frames), "frame_scores": dict(self.frame_scores), "model_version": self.model_version,
        }

    @classmethod
    def from_json(cls, obj: Any, where: str) -> DocumentSummary:
        if not isinstance(obj, dict) or not isinstance(obj.get("doc_id"), str) or not isinstance(obj.get("stance"), dict):
            raise InputError(f"{where}: expected a document record with doc_id and stance")
        return cls(
            obj["doc_id"], _optional_str(obj.get("title")), _optional_str(obj.get("date")), _optional_str(obj.get("source")),
            _optional_str(obj.get("url")), int(obj.get("paragraphs") or 0),
            {t: DocumentStance.from_json(s, f"{where}: stance[{t!r}]") for t, s in obj["stance"].items()},
            tuple(obj.get("frames") or ()), {k: float(v) for k, v in (obj.get("frame_scores") or {}).items()},
            str(obj.get("model_version") or ""),
        )
