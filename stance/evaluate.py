"""Evaluation against gold labels: predictions for the gold records, and their metrics.

`stance evaluate MODEL_OR_RUN --gold FILE --out DIR [--against OTHER]`. MODEL_OR_RUN is
- a predictions run (a directory with run.json and predictions.jsonl, from `stance annotate`):
  the gold records are looked up by paragraph id and target;
- a model: a `stance train` directory, an adapter directory, `config` (the scorer the config
  names), a backend name (`embedding`, `adapter`, `nli`: the config with that backend), or any
  model name or path (the config's backend on that model). The gold texts go through the same
  `Annotator` as `stance annotate`'s paragraphs: the alias gate first (a target not in the
  config is an ad-hoc target named by the record, plus its `aliases` and the mention at
  `target_start/end`), then the scorer and the same argmax. Frames are not scored (not evaluated).

The report files (metrics.json, report.md, confusion matrices) are written by `stance.evaluate_report`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig, Target
from stance.errors import InputError
from stance.labelled import FileSummary, label_counts, read_labelled
from stance.metrics import classification_metrics
from stance.progress import Progress
from stance.records import LabelledRecord, TargetStance
from stance.runs import RunDir, iter_predictions

CHUNK_TEXTS = 128


@dataclass
class SourceRun:
    """One model's (or run's) predictions on the gold records."""

    spec: str
    kind: str  # "model" or "run"
    model_version: str
    predictions: list[TargetStance]
    seconds: float
    notes: list[str] = field(default_factory=list)
    frames: dict[str, Any] | None = None  # frame metrics (paragraph / document level), for a model on gold with frames


def predict_with_annotator(annotator: Any, records: Sequence[LabelledRecord], *, progress: bool = True) -> list[TargetStance]:
    """Gate, then score, the way `stance annotate` does; one decision per record. A record whose text
    is a whole document is split into paragraphs like an input article, each paragraph is decided,
    and the document's label follows by the documents.jsonl rule (`stance.documents`)."""
    from stance.labelled import is_document_text

    config: StanceConfig = annotator.config
    contexts = _gold_contexts(records, annotator)
    units: list[tuple[LabelledRecord, str, Target, frozenset[str]]] = []  # (record, paragraph text, target, context)
    owners: list[list[int]] = []  # per record: its units
    for record in records:
        target = record.target_for(config)
        if is_document_text(record.text, record.extra):
            owners.append([])
            for text, context in _document_paragraphs(record, annotator):
                owners[-1].append(len(units))
                units.append((record, text, annotator.targets_in_context(context, [target])[0], context))
        else:
            context = contexts.get(record.id, frozenset())
            owners.append([len(units)])
            units.append((record, record.text, annotator.targets_in_context(context, [target])[0], context))
    decided = _decide_units(annotator, units, progress)
    results = []
    for record, members in zip(records, owners, strict=True):
        if len(members) == 1 and not is_document_text(record.text, record.extra):
            results.append(decided[members[0]])
            continue
        from stance.documents import document_stance
        from stance.records import Prediction

        paragraphs = [Prediction(id=f"{record.id}#{i}", doc_id=record.id, index=i, text="", stance={record.target: decided[u]}, frames={},
                                 frame_labels=(), model_version="") for i, u in enumerate(members)]
        summary = document_stance(paragraphs, record.target, config)
        results.append(TargetStance(summary.label, summary.scores, summary.mentioned > 0))
    return results


def _gold_contexts(records: Sequence[LabelledRecord], annotator: Any) -> dict[str, frozenset[str]]:
    """The document context of gold paragraphs placed in a document (a legacy `<doc>:<index>:<hash>` id, or a
    content id with the record's `index`):
    the short forms the earlier gold paragraphs of the same document activate, as annotate would see them
    when every earlier paragraph is in the gold file."""
    from stance.labelled import paragraph_position
    from stance.mentions import DocumentContext

    placed: dict[str, dict[int, tuple[str, str]]] = {}
    for record in records:
        position = paragraph_position(record.id, record.extra.get("index"))
        if position is not None:
            placed.setdefault(position[0], {})[position[1]] = (record.id, record.text)
    contexts: dict[str, frozenset[str]] = {}
    for doc, paragraphs in placed.items():
        context = DocumentContext(annotator.gate)
        for index in sorted(paragraphs):
            record_id, text = paragraphs[index]
            contexts[record_id] = context.before(doc, text)
    return contexts


def _document_paragraphs(record: LabelledRecord, annotator: Any) -> list[tuple[str, frozenset[str]]]:
    """A document-level gold text as `stance annotate` splits it, with each paragraph's document context."""
    from stance.ingest import split_document
    from stance.mentions import DocumentContext
    from stance.records import Document

    context = DocumentContext(annotator.gate)
    return [(p.text, context.before(record.id, p.text)) for p in split_document(Document(id=record.id, text=record.text), annotator.config.ingest)]


def _decide_units(annotator: Any, units: list[tuple[LabelledRecord, str, Target, frozenset[str]]], progress: bool) -> list[TargetStance]:
    config: StanceConfig = annotator.config
    texts: dict[str, dict[tuple, Target]] = {}
    keys: list[tuple[str, tuple] | None] = []
    for record, text, target, _ in units:
        found = (record.span is not None and text == record.text) or annotator.gate.mentions(text, target)
        if config.gate.enabled and not found:
            keys.append(None)
            continue
        target_key = (target.name, target.aliases)
        texts.setdefault(text, {})[target_key] = target
        keys.append((text, target_key))
    scored: dict[tuple[str, tuple], dict[str, float]] = {}
    items = list(texts.items())
    with Progress(len(items), "evaluate", unit="texts", enabled=progress) as bar:
        for start in range(0, len(items), CHUNK_TEXTS):
            part = items[start : start + CHUNK_TEXTS]
            results = annotator.stance_scores([text for text, _ in part], [list(targets.values()) for _, targets in part])
            for (text, targets), result in zip(part, results, strict=True):
                for target_key, target in targets.items():
                    scored[(text, target_key)] = result[target.name]
            bar.advance(len(part))
    return [annotator.decide(scored[key] if key is not None else None, key is not None) for key in keys]


def predict_from_run(run_dir: str | Path, records: Sequence[LabelledRecord]) -> tuple[list[TargetStance], str, list[str]]:
    """Predictions of an annotate run, looked up by paragraph id and target."""
    run = RunDir(Path(run_dir))
    wanted = {r.id for r in records}
    by_id = {}
    versions: set[str] = set()
    for line in iter_predictions(run.predictions):
        if line.prediction.id in wanted:
            by_id[line.prediction.id] = line.prediction
            versions.add(line.prediction.model_version)
    predictions, notes = [], []
    missing = [r for r in records if r.id not in by_id]
    if missing:
        renamed = _match_other_id_style(run, missing, by_id)
        if renamed:
            notes.append(f"{renamed} gold paragraph id(s) of the other id style matched the run's paragraphs by document and text")
        missing = [r for r in records if r.id not in by_id]
    if missing:
        raise InputError(
            f"{len(missing)} of {len(records)} gold records are not in {run.predictions}, e.g. {missing[0].source}"
            f" id {missing[0].id!r}; expected the run to cover the gold paragraphs (same inputs, same ids),"
            " or evaluate a model instead of a run"
        )
    changed = 0
    for record in records:
        prediction = by_id[record.id]
        result = prediction.stance.get(record.target)
        if result is None:
            raise InputError(
                f"{record.source}: target {record.target!r} is not in the run's predictions for {record.id!r}"
                f" (it has {', '.join(prediction.stance)}); expected a target of the run's config"
            )
        changed += prediction.text != record.text
        predictions.append(result)
    if changed:
        notes.append(f"{changed} gold texts differ from the run's text for the same id")
    return predictions, ", ".join(sorted(versions)), notes


def _match_other_id_style(run: RunDir, missing: Sequence[LabelledRecord], by_id: dict[str, Any]) -> int:
    """Gold records whose ids are of the other style than the run's (legacy `<doc>:<index>:<hash>`
    vs content ids): filed in `by_id` under their own ids; returns how many."""
    from stance.idmap import under_run_ids

    lookup = under_run_ids({line.prediction.id: line.prediction.id for line in iter_predictions(run.predictions)}, [r.id for r in missing])
    wanted = {r.id: lookup[r.id] for r in missing if r.id in lookup}
    needed = set(wanted.values())
    found = {line.prediction.id: line.prediction for line in iter_predictions(run.predictions) if line.prediction.id in needed}
    for gold_id, run_id in wanted.items():
        by_id[gold_id] = found[run_id]
    return len(wanted)


def run_source(spec: str, records: Sequence[LabelledRecord], config: StanceConfig, *, progress: bool = True) -> SourceRun:
    """Predictions for the gold records from a run directory or a model."""
    from stance.annotator import Annotator
    from stance.scoring import scorer_for_spec

    started = time.monotonic()
    if RunDir(Path(spec)).is_run():
        predictions, version, notes = predict_from_run(spec, records)
        return SourceRun(spec, "run", version, predictions, time.monotonic() - started, notes)
    from stance.evaluate_frames import evaluate_frames

    annotator = Annotator(config, scorer_for_spec(spec, config))
    predictions = predict_with_annotator(annotator, records, progress=progress)
    frames = evaluate_frames(annotator, records)
    return SourceRun(spec, "model", annotator.model_version, predictions, time.monotonic() - started, frames=frames)


def source_metrics(records: Sequence[LabelledRecord], source: SourceRun, config: StanceConfig) -> dict[str, Any]:
    """Overall and per-target metrics of one source."""
    order = list(config.all_label_names)
    polar = list(config.polar_label_names)
    gold = [r.label for r in records]
    predicted = [p.label for p in source.predictions]
    by_target: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        by_target.setdefault(record.target, []).append(i)
    per_target = {
        target: classification_metrics([gold[i] for i in indices], [predicted[i] for i in indices], order, polar)
        for target, indices in sorted(by_target.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    }
    return {
        "spec": source.spec,
        "kind": source.kind,
        "model_version": source.model_version,
        "seconds": round(source.seconds, 3),
        "notes": source.notes,
        "overall": classification_metrics(gold, predicted, order, polar),
        "per_target": per_target,
        "frames": source.frames,
    }


@dataclass
class EvaluationResult:
    metrics: dict[str, Any]
    out_dir: Path | None
    files: list[str]


def evaluate_records(
    spec: str,
    records: Sequence[LabelledRecord],
    config: StanceConfig,
    *,
    out_dir: str | Path | None = None,
    against: str | None = None,
    gold: Sequence[FileSummary] = (),
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate `spec` (and `against`) on `records`; write the report files into `out_dir`."""
    from stance.evaluate_report import write_report

    if not records:
        raise InputError("no gold records to evaluate; expected at least one labelled record")
    main = run_source(spec, records, config, progress=progress)
    other = run_source(against, records, config, progress=progress) if against else None
    metrics: dict[str, Any] = {
        "gold": {"files": [f.__dict__ for f in gold], "records": len(records), "labels": label_counts(records)},
        "label_order": list(config.all_label_names),
        "polar_labels": list(config.polar_label_names),
        "model": source_metrics(records, main, config),
        "against": source_metrics(records, other, config) if other else None,
    }
    files: list[str] = []
    if out_dir is not None:
        files = write_report(Path(out_dir), metrics, records, main, other)
    return EvaluationResult(metrics, Path(out_dir) if out_dir else None, files)


def evaluate_files(
    spec: str, gold_paths: Sequence[str | Path], config: StanceConfig, *, out_dir: str | Path | None = None,
    against: str | None = None, progress: bool = True,
) -> EvaluationResult:
    """`stance evaluate`: read the gold file(s) and evaluate."""
    records, summaries = read_labelled(gold_paths, config, what="gold records")
    _check_unique(records)
    return evaluate_records(spec, records, config, out_dir=out_dir, against=against, gold=summaries, progress=progress)


def _check_unique(records: Sequence[LabelledRecord]) -> None:
    seen: dict[tuple[str, str, Any], str] = {}
    for record in records:
        key = (record.id, record.target, record.span)
        if key in seen:
            raise InputError(f"{record.source}: id {record.id!r} with target {record.target!r} was already labelled at {seen[key]}; expected one gold label per paragraph and target")
        seen[key] = record.source
