"""Reading raw articles (.txt, .jsonl, .csv) into documents, and documents into paragraphs.

Readers stream: a JSONL or CSV file is read record by record, so memory does not grow with the
corpus. Each file is read once: its SHA-256 is computed from the bytes the reader reads (see
`InputDigests`), so a run can name its inputs without a second pass over them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stance.config import Ingest
from stance.errors import InputError
from stance.fileio import json_error_at
from stance.ingest.dates import normalise_date, parse_dateline
from stance.ingest.paragraphs import split_document
from stance.records import Document, Paragraph

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")
OnError = Literal["fail", "skip"]
_BINARY_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class ReadOptions:
    """Column names for JSONL and CSV inputs, and what to do with a bad file or record."""

    id_field: str = "id"
    text_field: str = "text"
    title_field: str = "title"
    date_field: str = "date"
    source_field: str = "source"
    url_field: str = "url"
    on_error: OnError = "fail"


@dataclass(frozen=True)
class Problem:
    """A bad file or record: `where` is `path` or `path:line`."""

    where: str
    message: str
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ProblemLog:
    """Collects problems; under `on_error="fail"` the first error is raised instead."""

    on_error: OnError = "fail"
    problems: list[Problem] = field(default_factory=list)

    def report(self, problem: Problem) -> None:
        if problem.level == "error" and self.on_error == "fail":
            raise InputError(f"{problem}\n(use --on-error skip to skip bad files and records and go on)")
        self.problems.append(problem)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]


@dataclass
class InputDigests:
    """SHA-256 of each input file, filled in by the readers from the bytes they read."""

    sha256: dict[str, str] = field(default_factory=dict)

    def record(self, path: Path, digest: str) -> None:
        self.sha256[str(path)] = digest


def discover_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively) into a sorted list of supported input files."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES))
        elif path.is_file():
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                raise InputError(
                    f"{path}: unsupported file type {path.suffix or '(none)'!r}; expected one of "
                    + ", ".join(SUPPORTED_SUFFIXES)
                )
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder; expected article files ({', '.join(SUPPORTED_SUFFIXES)}) or a folder of them")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError(
            "no input files found in " + ", ".join(str(p) for p in paths) + f"; expected {', '.join(SUPPORTED_SUFFIXES)} files"
        )
    return unique


def read_documents(path: Path, options: ReadOptions, log: ProblemLog, digests: InputDigests | None = None) -> Iterator[Document]:
    """The documents of one input file; bad records are reported to `log`, the file's SHA-256 to `digests`."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        yield from _read_txt(path, log, digests)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path, options, log, digests)
    elif suffix == ".csv":
        yield from _read_csv(path, options, log, digests)
    else:
        log.report(Problem(str(path), f"unsupported file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}"))


def iter_documents(paths: Iterable[Path], options: ReadOptions, log: ProblemLog, digests: InputDigests | None = None) -> Iterator[Document]:
    """All documents of all files, refusing a document id seen before."""
    first_seen: dict[str, str] = {}
    for path in paths:
        for doc in read_documents(path, options, log, digests):
            where = doc.path or str(path)
            if doc.id in first_seen:
                log.report(
                    Problem(
                        where,
                        f"duplicate document id {doc.id!r} (first seen in {first_seen[doc.id]}); expected unique ids:"
                        " rename the file or fix the id field",
                    )
                )
                continue
            first_seen[doc.id] = where
            yield doc


def iter_paragraphs(
    paths: Iterable[Path], ingest: Ingest, options: ReadOptions, log: ProblemLog, digests: InputDigests | None = None
) -> Iterator[Paragraph]:
    """Every paragraph of every document, in input order."""
    for doc in iter_documents(paths, options, log, digests):
        yield from split_document(doc, ingest)


# ---------------------------------------------------------------------------------------------
# Readers


def _read_bytes_as_text(path: Path, log: ProblemLog, digests: InputDigests | None) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.report(Problem(str(path), f"cannot be read: {exc.strerror}"))
        return None
    if digests is not None:
        digests.record(path, hashlib.sha256(data).hexdigest())
    if not data.strip():
        log.report(Problem(str(path), "is empty; nothing to annotate", level="warning"))
        return None
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        log.report(Problem(str(path), "looks like a binary file (it contains NUL bytes); expected UTF-8 text"))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        log.report(Problem(str(path), _utf8_message(exc, 0)))
        return None


def _utf8_message(exc: UnicodeDecodeError, offset: int) -> str:
    bad = exc.object[exc.start : exc.start + 4]
    return (
        f"not valid UTF-8 at byte {offset + exc.start} (bytes {bad!r}); expected UTF-8 text:"
        " re-save the file as UTF-8"
    )


def _read_txt(path: Path, log: ProblemLog, digests: InputDigests | None) -> Iterator[Document]:
    text = _read_bytes_as_text(path, log, digests)
    if text is None or not text.strip():
        return
    yield Document(id=path.stem, text=text, path=str(path))


def _read_jsonl(path: Path, options: ReadOptions, log: ProblemLog, digests: InputDigests | None) -> Iterator[Document]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        log.report(Problem(str(path), f"cannot be read: {exc.strerror}"))
        return
    offset = 0
    any_record = False
    with handle:
        head = handle.read(_BINARY_SNIFF_BYTES)
        if b"\x00" in head:
            log.report(Problem(str(path), "looks like a binary file (it contains NUL bytes); expected JSON Lines text"))
            return
        handle.seek(0)
        hasher = hashlib.sha256()
        for line_no, raw in enumerate(handle, start=1):
            hasher.update(raw)
            where = f"{path}:{line_no}"
            line_offset, offset = offset, offset + len(raw)
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, line_offset = raw[3:], line_offset + 3
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                log.report(Problem(where, _utf8_message(exc, line_offset)))
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                log.report(Problem(where, f"not valid JSON ({json_error_at(exc)}); expected one JSON object per line"))
                continue
            if not isinstance(record, dict):
                log.report(Problem(where, f"is a JSON {type(record).__name__}; expected a JSON object with a {options.text_field!r} field"))
                continue
            document = _document_from_record(record, where, path, line_no, options, log)
            if document is not None:
                any_record = True
                yield document
        if digests is not None:
            digests.record(path, hasher.hexdigest())
    if not any_record and offset == 0:
        log.report(Problem(str(path), "is empty; nothing to annotate", level="warning"))


def _read_csv(path: Path, options: ReadOptions, log: ProblemLog, digests: InputDigests | None) -> Iterator[Document]:
    text = _read_bytes_as_text(path, log, digests)
    if text is None:
        return
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        log.report(Problem(f"{path}:1", f"the header is not valid CSV: {exc}"))
        return
    if options.text_field not in header:
        log.report(
            Problem(
                f"{path}:1",
                f"has no {options.text_field!r} column (columns: {', '.join(header) or 'none'}); expected a"
                f" text column, or name it with --text-column",
            )
        )
        return
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            log.report(Problem(f"{path}:{reader.line_num}", f"is not valid CSV: {exc}"))
            return
        where = f"{path}:{reader.line_num}"
        extra = row.pop("\x00extra", None)
        if extra is not None or any(value is None for value in row.values()):
            count = width + len(extra or []) - sum(value is None for value in row.values())
            log.report(Problem(where, f"has {count} fields but the header has {width}; expected {width} fields per row"))
            continue
        document = _document_from_record(row, where, path, reader.line_num, options, log)
        if document is not None:
            yield document


def _document_from_record(
    record: dict, where: str, path: Path, line_no: int, options: ReadOptions, log: ProblemLog
) -> Document | None:
    text = record.get(options.text_field)
    if not isinstance(text, str):
        if text is None:
            message = f"has no {options.text_field!r} field; expected the article text there (or name the field with --text-field)"
        else:
            message = f"field {options.text_field!r} is a {type(text).__name__}; expected a string"
        log.report(Problem(where, message))
        return None
    if not text.strip():
        log.report(Problem(where, f"field {options.text_field!r} is empty; record skipped", level="warning"))
        return None
    raw_id = record.get(options.id_field)
    doc_id = str(raw_id).strip() if raw_id not in (None, "") else f"{path.stem}-{line_no}"

    def optional(name: str) -> str | None:
        value = record.get(name)
        return None if value in (None, "") else str(value)

    raw_date = optional(options.date_field)
    date = normalise_date(raw_date)
    if raw_date is not None and date == raw_date and parse_dateline(raw_date) is None:
        log.report(Problem(
            where, f"field {options.date_field!r} is {raw_date!r}, which is not a date; expected YYYY-MM-DD, a timestamp or a"
            " dateline such as 'September 20, 2024' (kept as written: the report leaves this article out of its timeline)",
            level="warning",
        ))
    return Document(
        id=doc_id,
        text=text,
        title=optional(options.title_field),
        date=date,
        source=optional(options.source_field),
        url=optional(options.url_field),
        path=where,
    )
