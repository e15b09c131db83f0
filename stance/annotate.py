"""The batch pipeline: inputs -> paragraphs -> annotator -> predictions.jsonl, resumable.

The inputs are read once: the scan reads every file (hashing its bytes as it goes), reports bad
input before any model is loaded, and spools the paragraphs to a temporary file that the scoring
pass then reads back. Paragraphs are processed in fixed chunks of the corpus (chunk k holds
paragraphs k*chunk_size ... (k+1)*chunk_size - 1). A chunk's lines are appended and fsynced
together. A killed run is resumed from the last complete chunk: partial chunks are rewritten
whole, so a resumed run computes exactly the batches an uninterrupted run does and its output
is identical. A paragraph whose exact text was scored before in the run is copied, not scored
again (`stance.chunks`).

`--overwrite` never touches a finished run before its replacement is complete: the new run is
written to OUT/.next-run/ (resumable like any run) and moved over the old files at the end. A
run written with legacy (position-based) paragraph ids is resumed with content ids: its lines
are rewritten, not scored again (`stance.idmap`). A full disk stops the run with the complete
chunks kept; the same command resumes once there is room.
"""

from __future__ import annotations

import errno
import hashlib
import json
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from stance.annotator import Annotator, with_document_context
from stance.chunks import ChunkPlan, DuplicateIndex, chunked, score_plans
from stance.config import StanceConfig
from stance.documents import iter_documents, rule_for
from stance.errors import InputError, RunError
from stance.fileio import file_sha256
from stance.ingest import InputDigests, Problem, ProblemLog, ReadOptions, discover_inputs, iter_paragraphs
from stance.progress import Progress
from stance.records import Paragraph, Prediction
from stance.runs import (
    PredictionAppender,
    RunDir,
    RunInfo,
    complete_lines,
    iter_predictions,
    read_run_info,
    replace_run,
    rewrite_predictions,
    write_csv_and_count,
    write_documents,
    write_run_info,
)
from stance.scoring.base import Scorer

DEFAULT_CHUNK_SIZE = 256

ChunkScorer = Callable[[Iterable[list[Paragraph]]], Iterator[list[Prediction]]]


@dataclass
class InputScan:
    """What the inputs hold, found before any model is loaded; `spool` holds their paragraphs."""

    files: list[dict[str, Any]]
    paragraphs: int
    documents: int
    problems: list[Problem]
    spool: IO[bytes] | None = field(default=None, repr=False)

    def iter_paragraphs(self) -> Iterator[Paragraph]:
        """The paragraphs the scan found, in input order (read back from the spool)."""
        if self.spool is None:
            return
        self.spool.seek(0)
        for raw in self.spool:
            yield Paragraph(**json.loads(raw))

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


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


def scan_inputs(inputs: Sequence[str | Path], config: StanceConfig, options: ReadOptions, *, spool: bool = True) -> InputScan:
    """Read every input once: counts, SHA-256 digests and problems (raises on the first under
    --on-error fail); with `spool`, the paragraphs are kept in a temporary file for the scoring pass."""
    files = discover_inputs(inputs)
    log = ProblemLog(options.on_error)
    digests = InputDigests()
    paragraphs = 0
    doc_ids: set[str] = set()
    # closed by InputScan.close() at the end of the run that reads it back
    handle = tempfile.TemporaryFile(prefix="stance-paragraphs-") if spool else None  # noqa: SIM115
    try:
        for paragraph in iter_paragraphs(files, config.ingest, options, log, digests):
            paragraphs += 1
            doc_ids.add(paragraph.doc_id)
            if handle is not None:
                handle.write(json.dumps(paragraph.to_dict(), ensure_ascii=False).encode("utf-8") + b"\n")
    except BaseException as exc:
        if handle is not None:
            handle.close()
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL and exc.filename is None:
            raise RunError(
                f"no space left in the temporary folder {tempfile.gettempdir()} for the paragraphs of the inputs; free some space"
                " there (or set TMPDIR to a folder with room) and run the same command again"
            ) from None
        raise
    described = [
        {"path": str(p), "sha256": digests.sha256.get(str(p)) or file_sha256(p), "bytes": p.stat().st_size} for p in files
    ]
    return InputScan(described, paragraphs, len(doc_ids), log.problems, handle)


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
    chunk_scorer_factory: Callable[[Annotator], ChunkScorer] | None = None,
    engine: str = "local",
) -> AnnotateResult:
    """Annotate every paragraph of `inputs` into `out_dir`, resuming an interrupted run there.

    `scorer` replaces the one the config names (tests, notebooks); `chunk_scorer_factory`
    replaces the local loop that scores chunks (the Ray engine).
    """
    options = options or ReadOptions()
    target = RunDir(Path(out_dir))
    target.check_writable()
    started = time.monotonic()
    scan = scan_inputs(inputs, config, options)
    run = target
    try:
        identity = _run_identity(config, model, scan, options)
        run = _run_to_write(target, identity, overwrite)
        return _annotate(scan, run, target, identity, config, model, options, chunk_size, progress, scorer, chunk_scorer_factory,
                         engine, started)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise RunError(_disk_full_message(exc, run, target)) from None
        raise
    finally:
        scan.close()


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _disk_full_message(exc: OSError, run: RunDir, target: RunDir) -> str:
    kept = complete_lines(run.predictions) if run.predictions.is_file() else 0
    where = f" while writing {exc.filename}" if exc.filename else f" under {run.root}"
    old = f"; the run in {target.root} is unchanged" if run != target else ""
    return (
        f"no space left on the device{where}: {kept} paragraphs are written to {run.predictions} and kept{old}."
        " Free some space and run the same command again: it resumes where it stopped."
    )


def _run_to_write(target: RunDir, identity: str, overwrite: bool) -> RunDir:
    """The run directory this command writes: OUT itself, or with `--overwrite` of an existing run
    OUT/.next-run (kept when it holds this same run, as an interrupted --overwrite leaves it)."""
    if not overwrite:
        return target
    staging = target.next_run()
    previous = _run_info_or_none(staging)
    if previous is not None and previous.run_identity == identity and previous.complete:
        replace_run(target, staging)  # an --overwrite killed while it moved its complete run into place
        return target
    if not target.holds_run_files():
        for name in staging.file_names():  # nothing to protect: an earlier attempt's leftovers go
            (staging.root / name).unlink(missing_ok=True)
        if staging.root.is_dir() and not any(staging.root.iterdir()):
            staging.root.rmdir()
        return target
    if staging.holds_run_files() and (previous is None or previous.run_identity != identity):
        for name in staging.file_names():  # an --overwrite of another run: started again
            (staging.root / name).unlink(missing_ok=True)
    return staging


def _run_info_or_none(run: RunDir) -> RunInfo | None:
    try:
        return read_run_info(run)
    except InputError:
        return None


def _annotate(
    scan: InputScan, run: RunDir, target: RunDir, identity: str, config: StanceConfig, model: str | None, options: ReadOptions,
    chunk_size: int, progress: bool, scorer: Scorer | None, chunk_scorer_factory: Callable[[Annotator], ChunkScorer] | None,
    engine: str, started: float,
) -> AnnotateResult:
    keep_lines = 0
    if run.predictions.exists():
        _check_same_run(run, identity)
        _upgrade_legacy_ids(run)
        keep_lines = _resumable_lines(run, chunk_size, scan.paragraphs)

    load_started = time.monotonic()
    if scorer is None:
        from stance.scoring import build_scorer

        scorer = build_scorer(config, model)
    annotator = Annotator(config, scorer)
    load_seconds = time.monotonic() - load_started
    run.root.mkdir(parents=True, exist_ok=True)  # only now: a model that cannot load leaves nothing behind
    info = _run_info(config, model, scan, identity, annotator.model_version, options, engine)
    write_run_info(run, info)

    scored_now = copied = 0
    scoring_started = time.monotonic()
    paragraphs = with_document_context(scan.iter_paragraphs(), annotator.gate)
    chunk_scorer = chunk_scorer_factory(annotator) if chunk_scorer_factory else _local_chunk_scorer(annotator)
    with (
        Progress(scan.paragraphs, "annotate", unit="paragraphs", enabled=progress, completed=keep_lines) as bar,
        PredictionAppender(run.predictions, keep_lines) as out,
    ):
        seen = DuplicateIndex(run.predictions)
        for paragraph, (offset, _) in zip(_verify_prefix(paragraphs, out.kept, run), out.kept, strict=True):
            seen.add_written(paragraph, offset)
        plans = (seen.plan(chunk) for chunk in chunked(paragraphs, chunk_size))
        for plan, records in score_plans(plans, chunk_scorer):
            lines = plan.merge(records)
            for paragraph, offset in zip(plan.paragraphs, out.append(lines), strict=True):
                seen.add_written(paragraph, offset)
            scored_now += len(records)
            copied += len(lines) - len(records)
            bar.advance(len(lines))

    scoring_seconds = time.monotonic() - scoring_started
    counts = write_csv_and_count(run, config)
    documents = write_documents(run, iter_documents(
        (line.prediction for line in iter_predictions(run.predictions)), config, rule_for(config, annotator.frame_source)))
    if counts.paragraphs != scan.paragraphs:
        raise RunError(f"{run.predictions} holds {counts.paragraphs} predictions but the inputs have {scan.paragraphs} paragraphs")
    seconds = time.monotonic() - started
    info.status = "complete"
    info.counts = {
        "paragraphs": counts.paragraphs,
        "documents": documents,
        "scored_this_session": scored_now,
        "copied_duplicates_this_session": copied,
        "resumed_from": keep_lines,
    }
    info.label_distribution, info.frame_distribution = counts.labels, counts.frames
    info.timings = {
        "seconds_this_session": round(seconds, 3),
        "model_load_seconds": round(load_seconds, 3),
        "scoring_seconds": round(scoring_seconds, 3),
        "paragraphs_per_second": round((scored_now + copied) / scoring_seconds, 3) if scoring_seconds else None,
    }
    write_run_info(run, info)
    if run != target:
        replace_run(target, run)
    return AnnotateResult(
        out_dir=target.root, paragraphs=counts.paragraphs, scored_now=scored_now, resumed_from=keep_lines, copied_duplicates=copied,
        model_version=annotator.model_version, seconds=seconds, scoring_seconds=scoring_seconds, label_counts=counts.labels,
        frame_counts=counts.frames, problems=scan.problems,
    )


def _local_chunk_scorer(annotator: Annotator) -> ChunkScorer:
    def score(chunks: Iterable[list[Paragraph]]) -> Iterator[list[Prediction]]:
        for chunk in chunks:
            yield annotator.predict(chunk)

    return score


def _run_identity(config: StanceConfig, model: str | None, scan: InputScan, options: ReadOptions) -> str:
    blob = json.dumps(
        {
            "config": config.fingerprint(),
            "model": model,
            "inputs": [(f["path"], f["sha256"]) for f in scan.files],
            "read_options": asdict(options),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_same_run(run: RunDir, identity: str) -> None:
    """Refuse to continue predictions of another run (other inputs, config or model)."""
    previous = _run_info_or_none(run)
    if previous is None or previous.run_identity != identity:
        raise RunError(
            f"{run.root} already holds predictions from a different run (other inputs, config or model);"
            " expected the same command to resume it. Use --overwrite to start again, or another --out."
        )


def _upgrade_legacy_ids(run: RunDir) -> None:
    """Give the predictions of a run made with legacy paragraph ids their content ids (nothing is scored again)."""
    from stance.idmap import is_legacy_id, upgrade_predictions

    first = next(iter_predictions(run.predictions, stop_at_partial=True), None)
    if first is not None and is_legacy_id(first.prediction.id):
        rewrite_predictions(run, upgrade_predictions(line.prediction for line in iter_predictions(run.predictions, stop_at_partial=True)))


def _resumable_lines(run: RunDir, chunk_size: int, total: int) -> int:
    """How many lines of an existing run of the same identity can be kept: its whole chunks."""
    complete = complete_lines(run.predictions)
    if complete >= total:
        return total
    return complete - complete % chunk_size


def _verify_prefix(paragraphs: Iterator[Paragraph], kept: Sequence[tuple[int, Prediction]], run: RunDir) -> list[Paragraph]:
    """Consume (and return) the first len(kept) paragraphs, checking they are the ones already written."""
    consumed = []
    for line_no, (_, written) in enumerate(kept, start=1):
        current = next(paragraphs, None)
        if current is None or current.id != written.id:
            raise RunError(
                f"{run.predictions}:{line_no} holds paragraph {written.id!r} but the inputs now give"
                f" {current.id if current else 'nothing'!r} there; use --overwrite to start again"
            )
        consumed.append(current)
    return consumed


def _run_info(
    config: StanceConfig, model: str | None, scan: InputScan, identity: str, model_version: str, options: ReadOptions, engine: str
) -> RunInfo:
    import importlib.metadata

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    return RunInfo(
        status="running",
        run_identity=identity,
        model={"backend": config.model.backend, "name": model or config.model.name, "version": model_version},
        engine=engine,
        inputs=scan.files,
        read_options=asdict(options),
        problems=[{"where": p.where, "message": p.message, "level": p.level} for p in scan.problems],
        config=config.model_dump(mode="json", exclude={"labelstudio"}),
        environment={
            "python": platform.python_version(),
            "stance": version("stance"),
            "torch": version("torch"),
            "transformers": version("transformers"),
        },
    )


__all__ = ["AnnotateResult", "ChunkPlan", "ChunkScorer", "InputScan", "annotate_corpus", "scan_inputs"]
