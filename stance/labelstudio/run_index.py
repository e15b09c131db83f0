"""A run's predictions as push needs them: checked, ordered for review, read back one task at a time.

`index_run` reads predictions.jsonl once and keeps, per usable prediction, only its id, version,
review score, byte offset, and the short forms active in its document (the alias gate's document
context, computed in file order with `DocumentContext` exactly as `stance annotate` computed it,
so the mentions a task marks are the ones the gate found). Memory stays small for large runs; a
task is built from its line (and its neighbours' lines) only when it is sent.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import InputError, LabelStudioError
from stance.labelstudio.tasks import check_prediction, gate_for, mention_spans, prediction_for, review_score, task_for
from stance.mentions import DocumentContext, MentionGate
from stance.records import Prediction
from stance.runs import PredictionReader, RunDir, iter_predictions, read_run_info

ORDERS: tuple[str, ...] = ("uncertainty", "random", "document")
_NO_CONTEXT: frozenset[str] = frozenset()


def order_records(records: Sequence[Any], order: str, seed: int = 0, key: Callable[[Any], float] = review_score) -> list[Any]:
    """`uncertainty`: least confident first (by `key`); `random`: a fixed shuffle (by seed); `document`: file order."""
    if order == "document":
        return list(records)
    if order == "random":
        shuffled = list(records)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    if order == "uncertainty":
        return sorted(records, key=key)  # stable: ties keep file order
    raise LabelStudioError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")


@dataclass(frozen=True, slots=True)
class RunEntry:
    """One usable prediction of a run: what ordering and matching need, and where the rest is."""

    id: str
    model_version: str
    score: float  # review_score
    offset: int  # byte offset of its line in predictions.jsonl
    context: frozenset[str] = _NO_CONTEXT  # short forms active in its document before it


@dataclass
class RunIndex:
    """The usable predictions of a run, in file order, read from the file only when a task is built."""

    run: RunDir
    entries: list[RunEntry]
    problems: list[str]
    neighbours: dict[str, tuple[int | None, int | None]]  # id -> offsets of the previous and next paragraph
    paragraphs_per_document: dict[str, int]
    complete: bool
    reader: PredictionReader
    gate: MentionGate

    def prediction(self, entry: RunEntry) -> Prediction:
        return self.reader.at(entry.offset)

    def task(self, entry: RunEntry, config: StanceConfig, marks: bool = True) -> dict[str, Any]:
        """The Label Studio task of an entry, with its neighbouring paragraphs as context (and its mention marks)."""
        prediction = self.prediction(entry)
        before, after = self.neighbours.get(entry.id, (None, None))
        return task_for(
            prediction, config,
            self.reader.at(before).text if before is not None else None,
            self.reader.at(after).text if after is not None else None,
            context=entry.context, gate=self.gate,
            paragraphs_in_document=self.paragraphs_per_document.get(str(prediction.doc_id)), marks=marks,
        )

    def prediction_json(self, entry: RunEntry, config: StanceConfig, marks: bool = True) -> dict[str, Any]:
        """The entry's prediction in Label Studio's shape (for a task that exists already)."""
        prediction = self.prediction(entry)
        spans = mention_spans(prediction.text, config, self.gate, entry.context) if marks else None
        return prediction_for(prediction, config, spans)


def index_run(run: str | Path, config: StanceConfig) -> RunIndex:
    """Index RUN/predictions.jsonl (or that file itself), checking every prediction against the config.

    A line that is not a prediction, or whose labels the config does not define, is reported
    (file, line, paragraph, what is wrong) and left out; the rest is pushed.
    """
    path = Path(run)
    predictions = path if path.is_file() else RunDir(path).predictions
    run_dir = RunDir(predictions.parent)
    entries: list[RunEntry] = []
    problems: list[str] = []
    by_doc: dict[str, list[tuple[int, str, int]]] = defaultdict(list)
    seen: set[str] = set()
    versions: dict[str, str] = {}  # one string object per version, however many paragraphs carry it
    contexts: dict[frozenset[str], frozenset[str]] = {_NO_CONTEXT: _NO_CONTEXT}  # one object per distinct context
    gate = gate_for(config)
    document_context = DocumentContext(gate)
    for line in iter_predictions(predictions, on_bad_line=lambda message: problems.append(f"{message}; skipped")):
        prediction = line.prediction
        active = document_context.before(str(prediction.doc_id), prediction.text)
        issues = check_prediction(prediction, config)
        if not issues and not prediction.model_version:
            issues.append("field 'model_version' is missing")
        if not issues and prediction.id in seen:
            issues.append(f"paragraph id {prediction.id!r} appears twice; the first one is pushed")
        if issues:
            problems.append(f"{predictions}:{line.line_no} (paragraph {prediction.id!r}): {'; '.join(issues)}; skipped")
            continue
        seen.add(prediction.id)
        version = versions.setdefault(prediction.model_version, prediction.model_version)
        context = contexts.setdefault(active, active)
        entries.append(RunEntry(prediction.id, version, review_score(prediction), line.offset, context))
        by_doc[str(prediction.doc_id)].append((prediction.index or 0, prediction.id, line.offset))
    neighbours: dict[str, tuple[int | None, int | None]] = {}
    for paragraphs in by_doc.values():
        paragraphs.sort()
        for i, (_, pid, _) in enumerate(paragraphs):
            before = paragraphs[i - 1][2] if i > 0 else None
            after = paragraphs[i + 1][2] if i + 1 < len(paragraphs) else None
            neighbours[pid] = (before, after)
    try:
        info = read_run_info(run_dir)
        complete = info is None or info.complete  # a bare predictions file counts as complete
    except (InputError, OSError):
        complete = False  # a damaged run.json: push what is there, with a note
    return RunIndex(run_dir, entries, problems, neighbours, {d: len(p) for d, p in by_doc.items()}, complete,
                    PredictionReader(predictions), gate)
