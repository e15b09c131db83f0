"""Splitting a document into paragraphs, and long paragraphs into windows of whole sentences.

Every paragraph keeps its character offsets: `document.text[start:end] == paragraph.text`, and
gets a content-addressed id (`stance.records.paragraph_ids`): the document and its own text, never
its position.
"""

from __future__ import annotations

import re

from stance.config import Ingest
from stance.ingest.dates import parse_dateline
from stance.records import Document, Paragraph, paragraph_ids

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_LINE = re.compile(r"\n")
_TITLE_MAX_CHARS = 150
# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "sen", "rep", "gov", "col", "lt", "sgt", "capt",
    "jr", "sr", "inc", "corp", "ltd", "co", "vs", "no", "fig", "approx", "etc", "e.g", "i.e",
    "u.s", "u.k", "u.n", "e.u", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
}
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")


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
    pieces: list[tuple[int, int, int, int | None]] = []  # (start, end, block, window)
    for start, end, block in spans:
        windows = sentence_windows(text, start, end, ingest.max_chars)
        pieces.extend((w_start, w_end, block, w if len(windows) > 1 else None) for w, (w_start, w_end) in enumerate(windows))
    ids = paragraph_ids(doc.id, (text[start:end] for start, end, _, _ in pieces))
    return [
        Paragraph(
            id=ids[index], doc_id=doc.id, index=index, text=text[start:end], start=start, end=end, date=date, title=title,
            source=doc.source, url=doc.url, block=block, window=window,
        )
        for index, (start, end, block, window) in enumerate(pieces)
    ]


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
