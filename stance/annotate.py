"""The batch pipeline: inputs -> paragraphs -> gate -> scorer -> predictions.jsonl, resumable.

Paragraphs are processed in fixed chunks of the corpus (chunk k holds paragraphs
k*chunk_size ... (k+1)*chunk_size - 1). A chunk's lines are appended and fsynced together. A
killed run is resumed from the last complete chunk: partial chunks are rewritten whole, so a
resumed run computes exactly the batches an uninterrupted run does and its output is identical.
A paragraph whose exact text was scored before in the run is copied, not scored again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stance.config import StanceConfig
from stance.errors import RunError
from stance.fileio import atomic_write_json, atomic_writer, dumps_line, file_sha256
from stance.ingest import Problem, ProblemLog, ReadOptions, discover_inputs, iter_paragraphs
from stance.mentions import MentionGate
from stance.progress import Progress
from stance.records import Paragraph
from stance.scoring.base import Scorer

PREDICTIONS = "predictions.jsonl"
PREDICTIONS_CSV = "predictions.csv"
RUN_JSON = "run.json"
DEFAULT_CHUNK_SIZE = 256
SCORE_DIGITS = 6


class ParagraphAnnotator:
    """Gate + scorer: turns paragraphs into prediction records."""

    def __init__(self, config: StanceConfig, scorer: Scorer) -> None:
        self.config = config
        self.scorer = scorer
        self.gate = MentionGate(config.targets)

    def annotate(self, paragraphs: Sequence[Paragraph]) -> list[dict[str, Any]]:
        """Prediction records for `paragraphs`, in order."""
        mentioned = [self.gate.mentioned(p.text) for p in paragraphs]
        to_score = mentioned if self.config.gate.enabled else [list(self.config.targets)] * len(paragraphs)
        scores = self.scorer.score([p.text for p in paragraphs], to_score) if paragraphs else []
        return [
            self._record(p, {t.name for t in names}, s.stance, s.frames)
            for p, names, s in zip(paragraphs, mentioned, scores, strict=True)
        ]

    def _record(self, p: Paragraph, mentioned: set[str], stance_scores: dict, frame_scores: dict) -> dict[str, Any]:
        cfg = self.config
        not_mentioned = cfg.not_mentioned.name
        stance: dict[str, Any] = {}
        for target in cfg.targets:
            scores = dict.fromkeys(cfg.all_label_names, 0.0)
            if target.name in stance_scores:
                scores.update(stance_scores[target.name])
            else:
                scores[not_mentioned] = 1.0
            label = max(scores, key=lambda name: scores[name])
            stance[target.name] = {
                "label": label,
                "scores": {k: round(v, SCORE_DIGITS) for k, v in scores.items()},
                "mentioned": target.name in mentioned,
            }
        frames = {k: round(v, SCORE_DIGITS) for k, v in frame_scores.items()}
        return {
            "id": p.id,
            "doc_id": p.doc_id,
            "index": p.index,
            "text": p.text,
            "date": p.date,
            "title": p.title,
            "source": p.source,
            "url": p.url,
            "start": p.start,
            "end": p.end,
            "window": p.window,
            "stance": stance,
            "frames": frames,
            "frame_labels": [name for name, score in frames.items() if score >= cfg.frames.threshold],
            "model_version": self.scorer.model_version,
        }


ChunkScorer = Callable[[Iterable[list[Paragraph]]], Iterator[list[dict[str, Any]]]]


@dataclass
class InputScan:
    """What the inputs hold, found before any model is loaded."""

    files: list[dict[str, Any]]
    paragraphs: int
    documents: int
    problems: list[Problem]


@dataclass
class AnnotateResult:
    """What a run did; `label_counts[target][label]` counts every paragraph of the run."""

    out_dir: Path
    paragraphs: int
    scored_now: int
    resumed_from: int
    copied_duplicates: int
    model_version: str
    seconds: float
    scoring_seconds: float
    label_counts: dict[str, dict[str, int]]
    frame_counts: dict[str, int]
    problems: list[Problem] = field(default_factory=list)


def scan_inputs(inputs: Sequence[str | Path], config: StanceConfig, options: ReadOptions) -> InputScan:
    """Read every input once: counts, hashes and problems (raises on the first under --on-error fail)."""
    files = discover_inputs(inputs)
    log = ProblemLog(options.on_error)
    paragraphs = 0
    doc_ids: set[str] = set()
    for paragraph in iter_paragraphs(files, config.ingest, options, log):
        paragraphs += 1
        doc_ids.add(paragraph.doc_id)
    described = [{"path": str(p), "sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files]
    return InputScan(files=described, paragraphs=paragraphs, documents=len(doc_ids), problems=log.problems)


def annotate_corpus(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    config: StanceConfig,
    *,
    model: str | None = None,
    overwrite: bool = False,
    options: ReadOptions | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = True,
    scorer: Scorer | None = None,
    chunk_scorer_factory: Callable[[ParagraphAnnotator], ChunkScorer] | None = None,
    engine: str = "local",
) -> AnnotateResult:
    """Annotate every paragraph of `inputs` into `out_dir`, resuming an interrupted run there.

    `scorer` replaces the one the config names (tests, notebooks); `chunk_scorer_factory`
    replaces the local loop that scores chunks (the Ray engine).
    """
    options = options or ReadOptions()
    out_dir = Path(out_dir)
    started = time.monotonic()
    scan = scan_inputs(inputs, config, options)
    files = [Path(f["path"]) for f in scan.files]
    identity = _run_identity(config, model, scan, options)
    predictions_path = out_dir / PREDICTIONS
    keep_lines = 0
    if overwrite:
        for name in (PREDICTIONS, PREDICTIONS_CSV, RUN_JSON):
            (out_dir / name).unlink(missing_ok=True)
    elif predictions_path.exists():
        keep_lines = _resumable_lines(out_dir, identity, chunk_size, scan.paragraphs)
    out_dir.mkdir(parents=True, exist_ok=True)

    load_started = time.monotonic()
    if scorer is None:
        from stance.scoring import build_scorer

        scorer = build_scorer(config, model)
    load_seconds = time.monotonic() - load_started
    annotator = ParagraphAnnotator(config, scorer)
    run_info = _run_info(config, model, scan, identity, scorer.model_version, options, engine)
    run_info["status"] = "running"
    atomic_write_json(out_dir / RUN_JSON, run_info)

    seen = _DuplicateIndex(predictions_path)
    seen.truncate_and_load(keep_lines)
    log = ProblemLog("skip")  # problems were already reported (or raised) by the scan
    paragraphs = iter_paragraphs(files, config.ingest, options, log)
    _verify_prefix(paragraphs, predictions_path, keep_lines)
    chunk_scorer = chunk_scorer_factory(annotator) if chunk_scorer_factory else _local_chunk_scorer(annotator)
    scored_now = copied = 0
    scoring_started = time.monotonic()
    with (
        Progress(scan.paragraphs, "annotate", unit="paragraphs", enabled=progress, completed=keep_lines) as bar,
        predictions_path.open("a", encoding="utf-8") as out,
    ):
        chunks = _chunks(paragraphs, chunk_size)
        plans = (seen.plan(chunk) for chunk in chunks)
        for plan, records in _score_plans(plans, chunk_scorer):
            lines = plan.merge(records)
            offset = out.tell()
            for line in lines:
                seen.add_written(line["text"], offset)
                offset += len(dumps_line(line).encode("utf-8"))
            out.write("".join(dumps_line(line) for line in lines))
            out.flush()
            os.fsync(out.fileno())
            scored_now += len(records)
            copied += len(lines) - len(records)
            bar.advance(len(lines))

    scoring_seconds = time.monotonic() - scoring_started
    label_counts, frame_counts, total = _write_csv_and_count(config, out_dir)
    if total != scan.paragraphs:
        raise RunError(f"{predictions_path} holds {total} predictions but the inputs have {scan.paragraphs} paragraphs")
    seconds = time.monotonic() - started
    run_info.update(
        status="complete",
        counts={
            "paragraphs": total,
            "documents": scan.documents,
            "scored_this_session": scored_now,
            "copied_duplicates_this_session": copied,
            "resumed_from": keep_lines,
        },
        label_distribution=label_counts,
        frame_distribution=frame_counts,
        timings={
            "seconds_this_session": round(seconds, 3),
            "model_load_seconds": round(load_seconds, 3),
            "scoring_seconds": round(scoring_seconds, 3),
            "paragraphs_per_second": round((scored_now + copied) / scoring_seconds, 3) if scoring_seconds else None,
        },
    )
    atomic_write_json(out_dir / RUN_JSON, run_info)
    return AnnotateResult(
        out_dir=out_dir,
        paragraphs=total,
        scored_now=scored_now,
        resumed_from=keep_lines,
        copied_duplicates=copied,
        model_version=scorer.model_version,
        seconds=seconds,
        scoring_seconds=scoring_seconds,
        label_counts=label_counts,
        frame_counts=frame_counts,
        problems=scan.problems,
    )


def _local_chunk_scorer(annotator: ParagraphAnnotator) -> ChunkScorer:
    def score(chunks: Iterable[list[Paragraph]]) -> Iterator[list[dict[str, Any]]]:
        for chunk in chunks:
            yield annotator.annotate(chunk)

    return score


def _score_plans(plans: Iterator[_ChunkPlan], chunk_scorer: ChunkScorer) -> Iterator[tuple[_ChunkPlan, list[dict[str, Any]]]]:
    """Pair each plan with the records of its paragraphs to score, keeping the order."""
    pending: list[_ChunkPlan] = []

    def to_score() -> Iterator[list[Paragraph]]:
        for plan in plans:
            pending.append(plan)
            yield plan.to_score

    for records in chunk_scorer(to_score()):
        yield pending.pop(0), records


def _chunks(paragraphs: Iterator[Paragraph], size: int) -> Iterator[list[Paragraph]]:
    chunk: list[Paragraph] = []
    for paragraph in paragraphs:
        chunk.append(paragraph)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _ChunkPlan:
    """Which paragraphs of a chunk need the model, and which copy an earlier identical paragraph."""

    paragraphs: list[Paragraph]
    to_score: list[Paragraph]
    sources: list[int | dict[str, Any]]  # per paragraph: index into to_score, or the earlier record

    def merge(self, scored: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines = []
        for paragraph, source in zip(self.paragraphs, self.sources, strict=True):
            if isinstance(source, int):
                lines.append(scored[source])
            else:
                lines.append(_copy_scores(paragraph, source, scored))
        return lines


def _copy_scores(paragraph: Paragraph, earlier: dict[str, Any], scored: list[dict[str, Any]]) -> dict[str, Any]:
    origin = scored[earlier["_in_chunk"]] if "_in_chunk" in earlier else earlier
    record = {
        "id": paragraph.id,
        "doc_id": paragraph.doc_id,
        "index": paragraph.index,
        "text": paragraph.text,
        "date": paragraph.date,
        "title": paragraph.title,
        "source": paragraph.source,
        "url": paragraph.url,
        "start": paragraph.start,
        "end": paragraph.end,
        "window": paragraph.window,
    }
    for key in ("stance", "frames", "frame_labels", "model_version"):
        record[key] = origin[key]
    return record


class _DuplicateIndex:
    """Text digest -> byte offset of the first prediction with that exact text in predictions.jsonl."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offsets: dict[bytes, int] = {}

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=12).digest()

    def truncate_and_load(self, keep_lines: int) -> None:
        """Keep the first `keep_lines` lines of the file (dropping anything after) and index them."""
        if not self.path.exists():
            return
        offset = 0
        with self.path.open("rb+") as handle:
            for _ in range(keep_lines):
                raw = handle.readline()
                record = json.loads(raw)
                self._offsets.setdefault(self._key(record["text"]), offset)
                offset += len(raw)
            handle.truncate(offset)

    def add_written(self, text: str, offset: int) -> None:
        self._offsets.setdefault(self._key(text), offset)

    def plan(self, chunk: list[Paragraph]) -> _ChunkPlan:
        to_score: list[Paragraph] = []
        sources: list[int | dict[str, Any]] = []
        first_in_chunk: dict[bytes, int] = {}
        for paragraph in chunk:
            key = self._key(paragraph.text)
            if key in self._offsets:
                sources.append(self._read(self._offsets[key]))
            elif key in first_in_chunk:
                sources.append({"_in_chunk": first_in_chunk[key]})
            else:
                first_in_chunk[key] = len(to_score)
                sources.append(len(to_score))
                to_score.append(paragraph)
        return _ChunkPlan(chunk, to_score, sources)

    def _read(self, offset: int) -> dict[str, Any]:
        with self.path.open("rb") as handle:
            handle.seek(offset)
            return json.loads(handle.readline())


def _run_identity(config: StanceConfig, model: str | None, scan: InputScan, options: ReadOptions) -> str:
    blob = json.dumps(
        {
            "config": config.fingerprint(),
            "model": model,
            "inputs": [(f["path"], f["sha256"]) for f in scan.files],
            "read_options": options.__dict__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _resumable_lines(out_dir: Path, identity: str, chunk_size: int, total: int) -> int:
    """How many lines of an existing run can be kept: whole chunks of a run with the same identity."""
    run_path = out_dir / RUN_JSON
    predictions = out_dir / PREDICTIONS
    try:
        previous = json.loads(run_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        previous = None
    if not previous or previous.get("run_identity") != identity:
        raise RunError(
            f"{out_dir} already holds predictions from a different run (other inputs, config or model);"
            " expected the same command to resume it. Use --overwrite to start again, or another --out."
        )
    complete = 0
    with predictions.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a half-written last line from a kill
            complete += 1
    if complete >= total:
        return total
    return complete - complete % chunk_size


def _verify_prefix(paragraphs: Iterator[Paragraph], predictions: Path, keep_lines: int) -> None:
    """Consume the first `keep_lines` paragraphs, checking they are the ones already written."""
    if keep_lines == 0:
        return
    with predictions.open("r", encoding="utf-8") as handle:
        for line_no in range(1, keep_lines + 1):
            written = json.loads(handle.readline())["id"]
            current = next(paragraphs, None)
            if current is None or current.id != written:
                raise RunError(
                    f"{predictions}:{line_no} holds paragraph {written!r} but the inputs now give"
                    f" {current.id if current else 'nothing'!r} there; use --overwrite to start again"
                )


def _run_info(
    config: StanceConfig, model: str | None, scan: InputScan, identity: str, model_version: str, options: ReadOptions, engine: str
) -> dict[str, Any]:
    import importlib.metadata

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "status": "running",
        "run_identity": identity,
        "model": {"backend": config.model.backend, "name": model or config.model.name, "version": model_version},
        "engine": engine,
        "inputs": scan.files,
        "read_options": options.__dict__,
        "problems": [{"where": p.where, "message": p.message, "level": p.level} for p in scan.problems],
        "config": config.model_dump(mode="json", exclude={"labelstudio"}),
        "environment": {
            "python": platform.python_version(),
            "stance": version("stance"),
            "torch": version("torch"),
            "transformers": version("transformers"),
        },
    }


def csv_columns(config: StanceConfig) -> list[str]:
    """Columns of predictions.csv: one row per paragraph and target."""
    return [
        "id", "doc_id", "index", "date", "title", "source", "target", "mentioned", "label",
        *[f"score_{name}" for name in config.all_label_names],
        "frames", "model_version", "text",
    ]


def _write_csv_and_count(config: StanceConfig, out_dir: Path) -> tuple[dict[str, dict[str, int]], dict[str, int], int]:
    counts = {t.name: Counter({name: 0 for name in config.all_label_names}) for t in config.targets}
    frame_counts = Counter({name: 0 for name in config.frame_names})
    total = 0
    with (
        (out_dir / PREDICTIONS).open("r", encoding="utf-8") as source,
        atomic_writer(out_dir / PREDICTIONS_CSV, newline="") as sink,
    ):
        writer = csv.writer(sink)
        writer.writerow(csv_columns(config))
        for line in source:
            record = json.loads(line)
            total += 1
            frame_counts.update(record["frame_labels"])
            for target, result in record["stance"].items():
                counts.setdefault(target, Counter())[result["label"]] += 1
                writer.writerow(
                    [
                        record["id"], record["doc_id"], record["index"], record["date"], record["title"],
                        record["source"], target, result["mentioned"], result["label"],
                        *[result["scores"].get(name) for name in config.all_label_names],
                        ";".join(record["frame_labels"]), record["model_version"], record["text"],
                    ]
                )
    return {t: dict(c) for t, c in counts.items()}, dict(frame_counts), total
