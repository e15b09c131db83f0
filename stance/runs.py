"""The run directory: the one reader and writer of its files.

`stance annotate --out RUN` writes, and every other command reads:

- `predictions.jsonl`: one `Prediction` per paragraph, appended chunk by chunk (fsynced), so a
  killed run can be resumed from its last complete line;
- `predictions.csv`: the same, one row per paragraph and target, rewritten atomically at the end;
- `run.json`: `RunInfo` (status, identity, model, inputs, config, counts, timings), atomic;
- `labelstudio-push.json`: what the last `stance push` of the run did;
- `.next-run/`: while `--overwrite` redoes a run, the new run, moved over the old one's files
  only once it is complete (`replace_run`).

Nothing else in stance spells these names or parses these files.
"""

from __future__ import annotations

import csv
import errno
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stance.config import StanceConfig
from stance.errors import InputError, RunError
from stance.fileio import atomic_write_json, atomic_writer, dumps_line, fsync_dir, json_error_at
from stance.records import DocumentSummary, Prediction

PREDICTIONS = "predictions.jsonl"
PREDICTIONS_CSV = "predictions.csv"
RUN_JSON = "run.json"
PUSH_RECORD = "labelstudio-push.json"
DOCUMENTS = "documents.jsonl"
NEXT_RUN = ".next-run"


@dataclass(frozen=True)
class RunDir:
    """Where a run's files are."""

    root: Path

    @classmethod
    def at(cls, path: str | Path) -> RunDir:
        """The run of a directory, or of a predictions.jsonl file named directly."""
        path = Path(path)
        return cls(path.parent if path.name == PREDICTIONS and path.is_file() else path)

    @property
    def predictions(self) -> Path:
        return self.root / PREDICTIONS

    @property
    def csv(self) -> Path:
        return self.root / PREDICTIONS_CSV

    @property
    def info(self) -> Path:
        return self.root / RUN_JSON

    @property
    def push_record(self) -> Path:
        return self.root / PUSH_RECORD

    @property
    def documents(self) -> Path:
        return self.root / DOCUMENTS

    def is_run(self) -> bool:
        """True for a directory that holds a run (run.json and predictions.jsonl)."""
        return self.info.is_file() and self.predictions.is_file()

    def file_names(self) -> tuple[str, ...]:
        """The files annotate writes (and `--overwrite` replaces), run.json last."""
        return (PREDICTIONS, PREDICTIONS_CSV, DOCUMENTS, RUN_JSON)

    def holds_run_files(self) -> bool:
        return any((self.root / name).exists() for name in self.file_names())

    def next_run(self) -> RunDir:
        """Where `--overwrite` writes the new run until it is complete."""
        return RunDir(self.root / NEXT_RUN)

    def check_writable(self) -> None:
        """A clear error, before any work, when the run directory cannot be one (a file is in the way)."""
        for path in (self.root, *self.root.parents):
            if path.exists():
                if not path.is_dir():
                    where = "" if path == self.root else f" (in the path of --out {self.root})"
                    raise RunError(f"{path}{where} is a file; expected a directory for the run (predictions.jsonl, run.json, ...)")
                return


def replace_run(run: RunDir, new: RunDir) -> None:
    """Move the complete run `new` over the run files of `run` (run.json last), then remove `new`.

    Each file is replaced atomically; a replacement killed half way is finished by the next
    `--overwrite` of the same run (`new` still holds a complete run.json until the end).
    """
    for name in run.file_names():
        source = new.root / name
        if source.exists():  # else moved before the replacement was interrupted
            os.replace(source, run.root / name)
    fsync_dir(run.root)
    try:
        new.root.rmdir()
    except OSError:
        pass  # something else was put there: left as it is


def is_run_dir(path: str | Path) -> bool:
    return RunDir(Path(path)).is_run()


# ----------------------------------------------------------------------------------------- run.json


@dataclass
class RunInfo:
    """run.json: what a run is (identity, model, inputs, config) and what it did (counts, timings)."""

    status: str
    run_identity: str
    model: dict[str, Any]
    engine: str
    inputs: list[dict[str, Any]]
    read_options: dict[str, Any]
    problems: list[dict[str, Any]]
    config: dict[str, Any]
    environment: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)
    label_distribution: dict[str, dict[str, int]] = field(default_factory=dict)
    frame_distribution: dict[str, int] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    _ORDER = ("status", "run_identity", "model", "engine", "inputs", "read_options", "problems", "config", "environment")
    _AFTER = ("counts", "label_distribution", "frame_distribution", "timings")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def model_version(self) -> str | None:
        return self.model.get("version") if isinstance(self.model, dict) else None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {name: getattr(self, name) for name in self._ORDER}
        for name in self._AFTER:
            value = getattr(self, name)
            if value:
                obj[name] = value
        obj.update(self.extra)
        return obj

    @classmethod
    def from_json(cls, obj: Any, where: str) -> RunInfo:
        if not isinstance(obj, dict):
            raise InputError(f"{where}: expected a JSON object (the run.json of `stance annotate`)")
        known = set(cls._ORDER) | set(cls._AFTER)
        values: dict[str, Any] = {}
        for name in known:
            value = obj.get(name)
            default: Any = "" if name in ("status", "run_identity", "engine") else ([] if name in ("inputs", "problems") else {})
            values[name] = value if isinstance(value, type(default)) else default
        return cls(**values, extra={k: v for k, v in obj.items() if k not in known})


def read_run_info(run: RunDir) -> RunInfo | None:
    """run.json of a run; None when there is none."""
    if not run.info.is_file():
        return None
    try:
        obj = json.loads(run.info.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{run.info}: not valid JSON ({exc.msg} at line {exc.lineno}); expected the run.json of `stance annotate`") from None
    except UnicodeDecodeError:
        raise InputError(f"{run.info}: not UTF-8 text; expected the run.json of `stance annotate`") from None
    return RunInfo.from_json(obj, str(run.info))


def write_run_info(run: RunDir, info: RunInfo) -> None:
    atomic_write_json(run.info, info.to_json())


# -------------------------------------------------------------------------------- predictions.jsonl


@dataclass(frozen=True, slots=True)
class PredictionLine:
    """A prediction with where its line is: 1-based line number and byte offset."""

    line_no: int
    offset: int
    prediction: Prediction


def iter_predictions(
    path: str | Path, *, on_bad_line: Callable[[str], None] | None = None, stop_at_partial: bool = False
) -> Iterator[PredictionLine]:
    """Every prediction of a predictions.jsonl file, in file order.

    A line that is not a valid prediction raises InputError naming `file:line`, or, with
    `on_bad_line`, is passed to it as a message and skipped. `stop_at_partial` ends at a last line
    without its newline (what a killed writer leaves) instead of reading it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; expected the predictions.jsonl that `stance annotate --out DIR` writes")
    with path.open("rb") as handle:
        offset = 0
        for line_no, raw in enumerate(handle, start=1):
            start, offset = offset, offset + len(raw)
            if stop_at_partial and not raw.endswith(b"\n"):
                return
            if not raw.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                prediction = Prediction.from_json(_loads(raw, where), where)
            except InputError as exc:
                if on_bad_line is None:
                    raise
                on_bad_line(str(exc))
                continue
            yield PredictionLine(line_no, start, prediction)


def read_predictions(path: str | Path) -> list[Prediction]:
    """All predictions of a run (or of a predictions.jsonl file), validated."""
    return [line.prediction for line in iter_predictions(_predictions_path(path))]


def _predictions_path(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir() or not path.suffix:
        if not path.is_dir():
            raise InputError(f"{path}: no such directory; expected a run directory written by `stance annotate --out`")
        return RunDir(path).predictions
    return path


def _loads(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw.rstrip(b"\r\n"))
    except UnicodeDecodeError:
        raise InputError(f"{where}: not valid UTF-8; expected a JSON object per line") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not a JSON object (invalid JSON: {json_error_at(exc)}); expected a JSON object per line") from None


class PredictionReader:
    """Random access to predictions by byte offset (the offsets `iter_predictions` yields)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._handle: IO[bytes] | None = None

    def at(self, offset: int) -> Prediction:
        if self._handle is None:
            self._handle = self.path.open("rb")
        self._handle.seek(offset)
        where = f"{self.path} (byte {offset})"
        return Prediction.from_json(_loads(self._handle.readline(), where), where)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> PredictionReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class PredictionAppender:
    """Appends predictions to predictions.jsonl in whole, fsynced chunks (the resumable cursor)."""

    def __init__(self, path: Path, keep_lines: int = 0) -> None:
        """Keep the first `keep_lines` lines of an existing file (dropping anything after them)."""
        self.path = path
        self.kept: list[tuple[int, Prediction]] = []  # (offset, prediction) of the kept lines
        offset = 0
        if path.exists():
            with path.open("rb+") as handle:
                for line_no in range(1, keep_lines + 1):
                    raw = handle.readline()
                    where = f"{path}:{line_no}"
                    self.kept.append((offset, Prediction.from_json(_loads(raw, where), where)))
                    offset += len(raw)
                handle.truncate(offset)
        self._out = path.open("ab", buffering=0)
        self.offset = offset

    def append(self, predictions: Sequence[Prediction]) -> list[int]:
        """Write `predictions` and sync them to disk; returns each one's byte offset.

        All or nothing: when the write fails (a full disk) or is interrupted, the file is cut back
        to where the chunk began, so it ends with the last complete chunk.
        """
        offsets, lines = [], []
        start = offset = self.offset
        for prediction in predictions:
            line = dumps_line(prediction.to_json()).encode("utf-8")
            offsets.append(offset)
            offset += len(line)
            lines.append(line)
        pending = memoryview(b"".join(lines))
        try:
            while pending:
                written = self._out.write(pending)
                if not written:
                    raise OSError(errno.EIO, "a write to the file made no progress", str(self.path))
                pending = pending[written:]
            os.fsync(self._out.fileno())
        except BaseException:
            os.ftruncate(self._out.fileno(), start)
            raise
        self.offset = offset
        return offsets

    def close(self) -> None:
        self._out.close()

    def __enter__(self) -> PredictionAppender:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def rewrite_predictions(run: RunDir, predictions: Iterable[Prediction]) -> int:
    """Replace predictions.jsonl (atomically) with `predictions`; returns how many."""
    count = 0
    with atomic_writer(run.predictions, "wb") as handle:
        for prediction in predictions:
            handle.write(dumps_line(prediction.to_json()).encode("utf-8"))
            count += 1
    return count


def complete_lines(path: Path) -> int:
    """Lines of a predictions file that end with a newline (a kill may leave a partial last one)."""
    complete = 0
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            complete += 1
    return complete


# -------------------------------------------------------------------------------- predictions.csv


def csv_columns(config: StanceConfig) -> list[str]:
    """Columns of predictions.csv: one row per paragraph and target."""
    return [
        "id", "doc_id", "index", "date", "title", "source", "target", "mentioned", "label",
        *[f"score_{name}" for name in config.all_label_names],
        "frames", "model_version", "text",
    ]


@dataclass
class RunCounts:
    """What a run's predictions hold: paragraphs, labels per target, paragraphs per frame."""

    paragraphs: int
    labels: dict[str, dict[str, int]]
    frames: dict[str, int]


def write_csv_and_count(run: RunDir, config: StanceConfig) -> RunCounts:
    """Rewrite predictions.csv from predictions.jsonl (atomically) and count labels and frames."""
    counts = {t.name: Counter({name: 0 for name in config.all_label_names}) for t in config.targets}
    frame_counts = Counter({name: 0 for name in config.frame_names})
    total = 0
    with atomic_writer(run.csv, newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(csv_columns(config))
        for line in iter_predictions(run.predictions):
            record = line.prediction
            total += 1
            frame_counts.update(record.frame_labels)
            for target, result in record.stance.items():
                counts.setdefault(target, Counter())[result.label] += 1
                writer.writerow(
                    [
                        record.id, record.doc_id, record.index, record.date, record.title, record.source, target,
                        result.mentioned, result.label, *[result.scores.get(name) for name in config.all_label_names],
                        ";".join(record.frame_labels), record.model_version, record.text,
                    ]
                )
    return RunCounts(total, {t: dict(c) for t, c in counts.items()}, dict(frame_counts))


# -------------------------------------------------------------------------------- documents.jsonl


def write_documents(run: RunDir, documents: Iterable[DocumentSummary]) -> int:
    """Rewrite documents.jsonl (atomically) with one summary per document; returns how many."""
    count = 0
    with atomic_writer(run.documents) as handle:
        for document in documents:
            handle.write(dumps_line(document.to_json()))
            count += 1
    return count


def read_documents(run: RunDir) -> list[DocumentSummary]:
    """The document summaries of a run (documents.jsonl), validated."""
    from stance.fileio import iter_jsonl

    return [DocumentSummary.from_json(obj, f"{run.documents}:{line_no}") for line_no, obj in iter_jsonl(run.documents, "document summaries")]


# ---------------------------------------------------------------------------- labelstudio-push.json


def write_push_record(run: RunDir, record: dict[str, Any]) -> None:
    """What the last push of this run did (for people; nothing reads it back)."""
    atomic_write_json(run.push_record, record)
