"""Reading raw articles (.txt, .jsonl, .csv) and splitting them into paragraphs.

Readers stream: a JSONL or CSV file is read record by record, so memory does not grow with the
corpus. Every paragraph keeps its character offsets: `document.text[start:end] == paragraph.text`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from stance.config import Ingest
from stance.errors import InputError
from stance.records import Document, Paragraph, paragraph_id

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".csv")
OnError = Literal["fail", "skip"]

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE = re.compile(r"\n")
_TITLE_MAX_CHARS = 150
_DATELINE_MAX_CHARS = 60
_BINARY_SNIFF_BYTES = 8192

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_WEEKDAYS = {
    "monday", "mon", "tuesday", "tue", "tues", "wednesday", "wed", "thursday", "thu", "thurs",
    "friday", "fri", "saturday", "sat", "sunday", "sun",
}
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "sen", "rep", "gov", "col", "lt", "sgt", "capt",
    "jr", "sr", "inc", "corp", "ltd", "co", "vs", "no", "fig", "approx", "etc", "e.g", "i.e",
    "u.s", "u.k", "u.n", "e.u", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
}
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")


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


def read_documents(path: Path, options: ReadOptions, log: ProblemLog) -> Iterator[Document]:
    """The documents of one input file; bad records are reported to `log`."""
    suffix = path.suffix.lower()
    if suffix == ".txt":
        yield from _read_txt(path, log)
    elif suffix == ".jsonl":
        yield from _read_jsonl(path, options, log)
    elif suffix == ".csv":
        yield from _read_csv(path, options, log)
    else:
        log.report(Problem(str(path), f"unsupported file type {suffix!r}; expected one of {', '.join(SUPPORTED_SUFFIXES)}"))


def iter_documents(paths: Iterable[Path], options: ReadOptions, log: ProblemLog) -> Iterator[Document]:
    """All documents of all files, refusing a document id seen before."""
    first_seen: dict[str, str] = {}
    for path in paths:
        for doc in read_documents(path, options, log):
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


def iter_paragraphs(paths: Iterable[Path], ingest: Ingest, options: ReadOptions, log: ProblemLog) -> Iterator[Paragraph]:
    """Every paragraph of every document, in input order."""
    for doc in iter_documents(paths, options, log):
        yield from split_document(doc, ingest)


# ---------------------------------------------------------------------------------------------
# Readers


def _read_bytes_as_text(path: Path, log: ProblemLog) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.report(Problem(str(path), f"cannot be read: {exc.strerror}"))
        return None
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


def _read_txt(path: Path, log: ProblemLog) -> Iterator[Document]:
    text = _read_bytes_as_text(path, log)
    if text is None or not text.strip():
        return
    yield Document(id=path.stem, text=text, path=str(path))


def _read_jsonl(path: Path, options: ReadOptions, log: ProblemLog) -> Iterator[Document]:
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
        for line_no, raw in enumerate(handle, start=1):
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
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                log.report(Problem(where, f"not valid JSON ({exc.msg} at column {exc.colno}); expected one JSON object per line"))
                continue
            if not isinstance(record, dict):
                log.report(Problem(where, f"is a JSON {type(record).__name__}; expected a JSON object with a {options.text_field!r} field"))
                continue
            document = _document_from_record(record, where, path, line_no, options, log)
            if document is not None:
                any_record = True
                yield document
    if not any_record and offset == 0:
        log.report(Problem(str(path), "is empty; nothing to annotate", level="warning"))


def _read_csv(path: Path, options: ReadOptions, log: ProblemLog) -> Iterator[Document]:
    text = _read_bytes_as_text(path, log)
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

    return Document(
        id=doc_id,
        text=text,
        title=optional(options.title_field),
        date=normalise_date(optional(options.date_field)),
        source=optional(options.source_field),
        url=optional(options.url_field),
        path=where,
    )


# ---------------------------------------------------------------------------------------------
# Dates


def normalise_date(value: str | None) -> str | None:
    """`YYYY-MM-DD` for an ISO date or timestamp or a dateline such as `September, Friday 20, 2024`;
    anything else is kept as it is."""
    if value is None:
        return None
    return parse_dateline(value) or value


def parse_dateline(text: str) -> str | None:
    """The ISO date of a short text that is nothing but a date, else None."""
    text = text.strip()
    if len(text) > _DATELINE_MAX_CHARS:
        return None
    iso = _ISO_DATE.match(text)
    if iso and (iso.end() == len(text) or text[iso.end()] in "T "):
        return _valid_date(int(iso[1]), int(iso[2]), int(iso[3]))
    tokens = [t for t in re.split(r"[\s,./]+", text.lower()) if t]
    month = day = year = None
    for token in tokens:
        token = re.sub(r"(?<=\d)(st|nd|rd|th)$", "", token)
        if token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token in _WEEKDAYS:
            continue
        elif token.isdigit() and len(token) == 4 and year is None:
            year = int(token)
        elif token.isdigit() and len(token) <= 2 and day is None:
            day = int(token)
        else:
            return None
    if month and day and year:
        return _valid_date(year, month, day)
    return None


def _valid_date(year: int, month: int, day: int) -> str | None:
    import datetime

    try:
        return datetime.date(year, month, day).isoformat()
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Paragraph splitting


def split_document(doc: Document, ingest: Ingest) -> list[Paragraph]:
    """Clean a document and split it into paragraphs and windows of whole sentences.

    Cleaning follows the config: a date header at the very start becomes the date, a dateline
    paragraph becomes the date, boilerplate lines are dropped and boilerplate prefixes stripped.
    """
    text = doc.text
    date = doc.date
    spans: list[tuple[int, int, int]] = []  # (start, end, block)
    start_at = 0
    header = re.match(ingest.date_header, text)
    if header:
        date = date or header.group(1)
        start_at = header.end()
    drop_lines = [re.compile(p) for p in ingest.drop_lines]
    strip_prefixes = [re.compile(p) for p in ingest.strip_prefixes]
    for block, (b_start, b_end) in enumerate(_blocks(text, start_at, ingest.split)):
        for start, end in _kept_runs(text, b_start, b_end, drop_lines):
            start = _strip_prefixes(text, start, end, strip_prefixes)
            start, end = _trim(text, start, end)
            if start < end:
                spans.append((start, end, block))
    if date is None:
        for i, (start, end, _) in enumerate(spans[:2]):
            found = parse_dateline(text[start:end])
            if found:
                date = found
                del spans[i]
                break
    title = doc.title
    if title is None and spans:
        first = text[spans[0][0] : spans[0][1]]
        if len(first) <= _TITLE_MAX_CHARS and "\n" not in first and not first.rstrip().endswith((".", "!", "?")):
            title = first
    paragraphs: list[Paragraph] = []
    for start, end, block in spans:
        windows = sentence_windows(text, start, end, ingest.max_chars)
        for w, (w_start, w_end) in enumerate(windows):
            index = len(paragraphs)
            chunk = text[w_start:w_end]
            paragraphs.append(
                Paragraph(
                    id=paragraph_id(doc.id, index, chunk),
                    doc_id=doc.id,
                    index=index,
                    text=chunk,
                    start=w_start,
                    end=w_end,
                    date=date,
                    title=title,
                    source=doc.source,
                    url=doc.url,
                    block=block,
                    window=w if len(windows) > 1 else None,
                )
            )
    return paragraphs


def _blocks(text: str, start_at: int, split: str) -> list[tuple[int, int]]:
    if split == "auto":
        split = "blank_line" if _BLANK_LINE.search(text, start_at) else "line"
    separator = _BLANK_LINE if split == "blank_line" else _LINE
    blocks = []
    position = start_at
    for match in separator.finditer(text, start_at):
        blocks.append((position, match.start()))
        position = match.end()
    blocks.append((position, len(text)))
    return [(s, e) for s, e in blocks if text[s:e].strip()]


def _kept_runs(text: str, start: int, end: int, drop_lines: list[re.Pattern[str]]) -> list[tuple[int, int]]:
    """The runs of consecutive lines of text[start:end] that no drop pattern matches."""
    if not drop_lines:
        return [(start, end)]
    runs: list[tuple[int, int]] = []
    run_start: int | None = None
    position = start
    while position <= end:
        newline = text.find("\n", position, end)
        line_end = end if newline == -1 else newline
        line = text[position:line_end]
        if any(p.fullmatch(line) for p in drop_lines):
            if run_start is not None:
                runs.append((run_start, position))
                run_start = None
        elif run_start is None:
            run_start = position
        if newline == -1:
            break
        position = newline + 1
    if run_start is not None:
        runs.append((run_start, end))
    return runs


def _strip_prefixes(text: str, start: int, end: int, patterns: list[re.Pattern[str]]) -> int:
    changed = True
    while changed and start < end:
        changed = False
        for pattern in patterns:
            # match on the slice so that `^` means the paragraph's start
            match = pattern.match(text[start:end])
            if match and match.end() > 0:
                start += match.end()
                changed = True
    return start


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of text[start:end] as (start, end) offsets into `text`, whitespace trimmed."""
    spans = []
    position = start
    for match in _SENTENCE_END.finditer(text, start, end):
        word = re.search(r"([\w.]+)\W*$", text[max(position, match.start() - 12) : match.start() + 1])
        before = word.group(1).lower().rstrip(".") if word else ""
        if before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha()):
            continue
        spans.append(_trim(text, position, match.end()))
        position = match.end()
    spans.append(_trim(text, position, end))
    return [(s, e) for s, e in spans if s < e]


def sentence_windows(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """text[start:end] as one span if it fits in `max_chars`, else windows of whole sentences.

    A single sentence longer than `max_chars` (text without sentence punctuation) is the one case
    that is cut, at whitespace where there is any.
    """
    if end - start <= max_chars:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for s_start, s_end in sentence_spans(text, start, end):
        if s_end - s_start <= max_chars:
            pieces.append((s_start, s_end))
        else:
            pieces.extend(_hard_cut(text, s_start, s_end, max_chars))
    windows: list[tuple[int, int]] = []
    for p_start, p_end in pieces:
        if windows and p_end - windows[-1][0] <= max_chars:
            windows[-1] = (windows[-1][0], p_end)
        else:
            windows.append((p_start, p_end))
    return windows


def _hard_cut(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    pieces = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + 1, start + max_chars + 1)
        if cut <= start:
            cut = start + max_chars
        pieces.append(_trim(text, start, cut))
        start = _trim(text, cut, end)[0]
    if start < end:
        pieces.append((start, end))
    return [(s, e) for s, e in pieces if s < e]
