"""Frame evaluation: the frames a model gives gold paragraphs and whole articles, against people's.

Gold records carry `frames` (pulled annotations do, one copy per target: the first is used per
id). A paragraph is framed as `stance annotate` frames it (`Annotator.predict`); a whole-article
record (its text a document, see `stance.labelled.is_document_text`) is split into paragraphs,
framed paragraph by paragraph, and decided by the documents.jsonl rule (`stance.documents`).
Micro- and macro-F1 and per-frame scores come from `stance.metrics.multilabel_metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stance.labelled import is_document_text
from stance.metrics import multilabel_metrics
from stance.records import Document, LabelledRecord, Paragraph


def frame_gold(records: Sequence[LabelledRecord]) -> list[LabelledRecord]:
    """One record per id that carries frames (the first one)."""
    seen: dict[str, LabelledRecord] = {}
    for record in records:
        if record.frames is not None and record.id not in seen:
            seen[record.id] = record
    return list(seen.values())


def evaluate_frames(annotator: Any, records: Sequence[LabelledRecord]) -> dict[str, Any] | None:
    """{"paragraph": metrics, "document": metrics} for the gold records with frames (None when none has)."""
    from stance.annotator import with_document_context
    from stance.documents import rule_for
    from stance.ingest import split_document

    config = annotator.config
    gold = frame_gold(records)
    if not gold or not config.frame_names:
        return None
    paragraphs = [r for r in gold if not is_document_text(r.text, r.extra)]
    documents = [r for r in gold if is_document_text(r.text, r.extra)]
    out: dict[str, Any] = {}
    if paragraphs:
        units = [Paragraph(id=r.id, doc_id=r.doc_id or r.id, index=i, text=r.text, start=0, end=len(r.text)) for i, r in enumerate(paragraphs)]
        predicted = annotator.predict(list(with_document_context(units, annotator.gate)))
        out["paragraph"] = multilabel_metrics([r.frames or () for r in paragraphs], [p.frame_labels for p in predicted], config.frame_names)
    if documents:
        rule = rule_for(config, annotator.frame_source)
        decided = []
        for record in documents:
            units = split_document(Document(id=record.id, text=record.text), config.ingest)
            predicted = annotator.predict(list(with_document_context(units, annotator.gate)))
            decided.append(rule([p.frames for p in predicted])[1])
        out["document"] = multilabel_metrics([r.frames or () for r in documents], decided, config.frame_names)
    return out
