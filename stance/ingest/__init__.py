"""Ingest: raw articles (.txt, .jsonl, .csv) -> documents -> paragraphs (readers, dates, splitting)."""

from stance.ingest.dates import normalise_date, parse_dateline
from stance.ingest.paragraphs import sentence_spans, sentence_windows, split_document
from stance.ingest.readers import (
    SUPPORTED_SUFFIXES,
    InputDigests,
    OnError,
    Problem,
    ProblemLog,
    ReadOptions,
    discover_inputs,
    iter_documents,
    iter_paragraphs,
    read_documents,
)

__all__ = [
    "SUPPORTED_SUFFIXES", "InputDigests", "OnError", "Problem", "ProblemLog", "ReadOptions", "discover_inputs",
    "iter_documents", "iter_paragraphs", "normalise_date", "parse_dateline", "read_documents", "sentence_spans",
    "sentence_windows", "split_document",
]
