"""The alias gate: which targets a paragraph names, and the sentences that name them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from stance.config import Target
from stance.ingest import sentence_spans


def _is_acronym(alias: str) -> bool:
    letters = [c for c in alias if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def alias_pattern(target: Target) -> re.Pattern[str]:
    """One regex for all of a target's names: whole words, an optional plural `s`, case ignored
    except for names in capitals only (`US` must not match `us`)."""
    exact, folded = [], []
    for name in sorted(target.all_names, key=len, reverse=True):
        escaped = re.escape(name.strip()).replace(r"\ ", r"\s+")
        (exact if _is_acronym(name) else folded).append(escaped)
    parts = []
    if exact:
        parts.append("(?:" + "|".join(exact) + ")")
    if folded:
        parts.append("(?i:" + "|".join(folded) + ")")
    return re.compile(r"(?<![\w])(?:" + "|".join(parts) + r")s?(?![\w])")


class MentionGate:
    """Finds the configured targets in text by their aliases."""

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = tuple(targets)
        self._patterns = {t.name: alias_pattern(t) for t in self.targets}

    def mentioned(self, text: str) -> list[Target]:
        """The targets named in `text`, in config order."""
        return [t for t in self.targets if self._patterns[t.name].search(text)]

    def mentions(self, text: str, target: Target) -> bool:
        pattern = self._patterns.get(target.name) or alias_pattern(target)
        return pattern.search(text) is not None

    def sentences_mentioning(self, text: str, target: Target) -> list[str]:
        """The sentences of `text` that name `target` (all of `text` if none does)."""
        pattern = self._patterns.get(target.name) or alias_pattern(target)
        sentences = [text[s:e] for s, e in sentence_spans(text, 0, len(text))]
        hits = [s for s in sentences if pattern.search(s)]
        return hits or [text]
