"""The alias gate: which targets a paragraph names, where, and the sentences that name them.

A target is mentioned where one of its names occurs as a whole word:
- its name and aliases (case ignored, except for names in capitals only: `US` never matches `us`;
  an optional plural `s`);
- with `gate.demonyms`, the demonyms its name forms by the usual English endings (North Korea ->
  North Korean, Iran -> Iranian, Taiwan -> Taiwanese, Ukraine -> Ukrainian);
- its `short_forms` (a surname such as "Wang"), but only once one of the full names that short
  form stands for ("Wang Yi") occurred earlier in the same document (the caller passes the short
  forms active so far: `DocumentContext`) or earlier in the same paragraph.
A dateline at the start of a paragraph ("WASHINGTON, Nov 3 (Reuters) -", `gate.dateline`) is not
a mention: only says where the story was filed.

Patterns are compiled once per target and gate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from stance.config import Target
from stance.ingest import sentence_spans

DEMONYM_ENDINGS = (("a", "an"), ("a", "ese"), ("", "ian"), ("e", "ian"), ("", "ese"), ("", "i"), ("", "n"))


def _is_acronym(alias: str) -> bool:
    letters = [c for c in alias if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def demonyms(name: str) -> list[str]:
    """Candidate demonyms of a place name (its last word with the usual endings); a candidate that
    is no word never matches, so the rules can be generous."""
    words = name.split()
    if not words or not words[-1].isalpha() or not words[-1][0].isupper() or _is_acronym(words[-1]):
        return []
    stem, found = words[-1], []
    for drop, add in DEMONYM_ENDINGS:
        if drop and not stem.endswith(drop):
            continue
        found.append(" ".join([*words[:-1], (stem[: -len(drop)] if drop else stem) + add]))
    return found


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One regex for names: whole words, an optional plural `s`, case ignored except for names in capitals only."""
    exact, folded = [], []
    for name in sorted(set(names), key=len, reverse=True):
        escaped = re.escape(name.strip()).replace(r"\ ", r"\s+")
        (exact if _is_acronym(name) else folded).append(escaped)
    parts = []
    if exact:
        parts.append("(?:" + "|".join(exact) + ")")
    if folded:
        parts.append("(?i:" + "|".join(folded) + ")")
    if not parts:
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")s?(?![\w])")


def alias_pattern(target: Target, demonym: bool = False) -> re.Pattern[str]:
    """The pattern of a target's name and aliases (and demonyms when asked)."""
    names = list(target.all_names) + ([d for n in (target.name,) for d in demonyms(n)] if demonym else [])
    pattern = names_pattern(names)
    assert pattern is not None  # a target always has its name
    return pattern


class MentionGate:
    """Finds targets in text by their names; `context` is the short forms active in the document so far."""

    def __init__(self, targets: Sequence[Target], *, dateline: str = "", demonyms: bool = False) -> None:
        self.targets = tuple(targets)
        self.demonyms = demonyms
        self.dateline = re.compile(dateline) if dateline else None
        self._patterns: dict[tuple[str, tuple[str, ...]], re.Pattern[str]] = {}
        self._short: dict[tuple[str, tuple[str, ...]], tuple[re.Pattern[str] | None, dict[str, re.Pattern[str]]]] = {}
        for target in self.targets:
            self._compiled(target)

    def _compiled(self, target: Target) -> re.Pattern[str]:
        key = (target.name, target.aliases)
        pattern = self._patterns.get(key)
        if pattern is None:
            pattern = self._patterns[key] = alias_pattern(target, self.demonyms)
            full = {form: names_pattern(fulls) for form, fulls in target.short_forms.items()}
            self._short[key] = (names_pattern(target.short_forms), {k: v for k, v in full.items() if v is not None})
        return pattern

    def _masked(self, text: str) -> str:
        """The text with a leading dateline blanked out (same length: offsets stay valid)."""
        if self.dateline is None:
            return text
        match = self.dateline.match(text)
        return " " * match.end() + text[match.end():] if match else text

    def spans(self, text: str, target: Target, context: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
        """Character spans of the target's mentions in `text` (see the module docstring)."""
        masked = self._masked(text)
        found = [m.span() for m in self._compiled(target).finditer(masked)]
        short_pattern, full_patterns = self._short[(target.name, target.aliases)]
        if short_pattern is not None:
            for match in short_pattern.finditer(masked):
                form = _form_of(match.group(0), target.short_forms)
                full = full_patterns.get(form) if form else None
                if form in context or (full is not None and full.search(masked, 0, match.start())):
                    found.append(match.span())
        return sorted(set(found))

    def mentions(self, text: str, target: Target, context: frozenset[str] = frozenset()) -> bool:
        return bool(self.spans(text, target, context))

    def mentioned(self, text: str, context: frozenset[str] = frozenset()) -> list[Target]:
        """The configured targets named in `text`, in config order."""
        return [t for t in self.targets if self.mentions(text, t, context)]

    def activations(self, text: str) -> frozenset[str]:
        """The short forms that full names in `text` make mentions for the rest of the document."""
        masked = self._masked(text)
        active = set()
        for target in self.targets:
            for form, pattern in self._short[(target.name, target.aliases)][1].items():
                if pattern.search(masked):
                    active.add(form)
        return frozenset(active)

    def sentences_mentioning(self, text: str, target: Target, context: frozenset[str] = frozenset()) -> list[str]:
        """The sentences of `text` that name `target` (all of `text` if none does)."""
        spans = self.spans(text, target, context)
        sentences = sentence_spans(text, 0, len(text))
        hits = [text[s:e] for s, e in sentences if any(s <= a < e for a, _ in spans)]
        return hits or [text]


def _form_of(matched: str, short_forms: dict[str, tuple[str, ...]]) -> str | None:
    """Which short form a match is (case and a plural s ignored)."""
    folded = matched.casefold().rstrip("s") if matched.casefold() not in {f.casefold() for f in short_forms} else matched.casefold()
    for form in short_forms:
        if form.casefold() in (folded, matched.casefold()):
            return form
    return None


class DocumentContext:
    """The short forms active at each paragraph of a document, from the full names of the paragraphs before it."""

    def __init__(self, gate: MentionGate) -> None:
        self.gate = gate
        self.doc_id: str | None = None
        self.active: frozenset[str] = frozenset()

    def before(self, doc_id: str, text: str) -> frozenset[str]:
        """The short forms active for this paragraph (then counts its own full names for the next ones)."""
        if doc_id != self.doc_id:
            self.doc_id, self.active = doc_id, frozenset()
        current = self.active
        self.active = current | self.gate.activations(text)
        return current
