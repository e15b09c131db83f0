"""Content-addressed paragraph ids: the document and the paragraph's own text, never its position.

Inserting, deleting or editing paragraphs elsewhere in an article keeps every other paragraph's
id, so its Label Studio task, its earlier predictions and its reviews still match; a text that
repeats inside a document is numbered by its occurrence, so ids stay unique.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stance.idmap import is_legacy_id, legacy_paragraph_id, parse_paragraph_id
from stance.ingest import split_document
from stance.labelled import document_key, paragraph_position
from stance.records import Document, LabelledRecord, paragraph_id, paragraph_ids, text_hash

ARTICLE = [
    "Officials in Moscow and Beijing met on Tuesday to discuss trade.",
    "The United States said it was watching the talks closely.",
    "Analysts expect a joint statement later this week.",
    "Markets in Shanghai rose after the announcement.",
]


def ids_of(paragraphs: list[str], config, doc_id: str = "story-1") -> dict[str, str]:
    """text -> id of each paragraph of the article made of `paragraphs` (all distinct here)."""
    split = split_document(Document(id=doc_id, text="\n\n".join(paragraphs)), config.ingest)
    assert [p.text for p in split] == paragraphs
    return {p.text: p.id for p in split}


def test_the_id_is_the_document_and_the_texts_hash(default_config):
    ids = ids_of(ARTICLE, default_config)
    for text, pid in ids.items():
        assert pid == f"story-1:{text_hash(text)[:12]}"
        assert re.fullmatch(r"story-1:[0-9a-f]{12}", pid)


def test_a_line_inserted_at_the_top_keeps_every_other_id(default_config):
    before = ids_of(ARTICLE, default_config)
    after = ids_of(["Updated at 14:00 with a statement from the ministry.", *ARTICLE], default_config)
    assert {text: after[text] for text in ARTICLE} == before


def test_a_deleted_paragraph_keeps_every_other_id(default_config):
    before = ids_of(ARTICLE, default_config)
    after = ids_of(ARTICLE[:1] + ARTICLE[2:], default_config)
    assert after == {text: before[text] for text in after}


def test_an_edited_paragraph_gets_a_new_id_and_the_others_keep_theirs(default_config):
    before = ids_of(ARTICLE, default_config)
    edited = [*ARTICLE]
    edited[1] = "The United States said on Wednesday it was watching the talks closely."
    after = ids_of(edited, default_config)
    assert after[edited[1]] != before[ARTICLE[1]]
    assert all(after[text] == before[text] for text in ARTICLE if text != ARTICLE[1])


def test_whitespace_and_unicode_normalisation_do_not_change_an_id():
    assert paragraph_id("d", "Caf\u00e9  in\nMoscow ") == paragraph_id("d", "Cafe\u0301 in Moscow")


def test_a_text_that_repeats_in_a_document_is_numbered_by_its_occurrence(default_config):
    texts = ["Advertisement.", "China said so.", "Advertisement.", "Russia agreed.", "Advertisement."]
    split = split_document(Document(id="d", text="\n\n".join(texts)), default_config.ingest)
    ids = [p.id for p in split]
    base = f"d:{text_hash('Advertisement.')[:12]}"
    assert [ids[0], ids[2], ids[4]] == [base, f"{base}-2", f"{base}-3"]
    assert len(set(ids)) == len(ids)
    assert ids == paragraph_ids("d", texts)


def test_the_same_text_in_two_documents_gets_two_ids():
    assert paragraph_id("a", "China said so.") != paragraph_id("b", "China said so.")


def test_ids_name_their_document_in_both_styles():
    """labelled.py groups records by document and evaluate orders gold paragraphs: both id styles work."""
    for doc in ("plain", "reuters:2023:11", "with-dash-2", "a:b:0123456789ab"):
        new = paragraph_id(doc, "Some text.", 2)
        old = legacy_paragraph_id(doc, 7, "Some text.")
        assert parse_paragraph_id(new).doc == doc and parse_paragraph_id(old).doc == doc
        assert not is_legacy_id(new) and is_legacy_id(old)
        assert document_key(LabelledRecord(id=new, text="t", target="x", label="neutral")) == doc
        assert document_key(LabelledRecord(id=old, text="t", target="x", label="neutral")) == doc
        assert paragraph_position(old) == (doc, 7)
        assert paragraph_position(new, 7) == (doc, 7)  # a content id takes the index from its record
        assert paragraph_position(new) is None
    assert parse_paragraph_id("allsides_12_3_4_x") is None


# --------------------------------------------------------------------------- random edits

_EDIT = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 40), st.integers(0, 14)),
    st.tuples(st.just("delete"), st.integers(0, 40), st.just(0)),
    st.tuples(st.just("edit"), st.integers(0, 40), st.integers(0, 14)),
    st.tuples(st.just("move"), st.integers(0, 40), st.integers(0, 40)),
)


def _text(n: int) -> str:
    return f"Officials in Moscow said that item {n} was discussed with Beijing."


def apply_edits(texts: list[int], edits: list[tuple[str, int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The article before and after the edits, as (paragraph identity, text number) pairs: an edited
    paragraph becomes a new paragraph; inserted ones are new; moved ones keep their identity."""
    before = [(uid, n) for uid, n in enumerate(texts)]
    after = list(before)
    fresh = len(before)
    for kind, at, value in edits:
        if kind == "insert":
            after.insert(at % (len(after) + 1), (fresh, value))
            fresh += 1
        elif after and kind == "delete":
            del after[at % len(after)]
        elif after and kind == "edit":
            after[at % len(after)] = (fresh, value)
            fresh += 1
        elif after and kind == "move":
            after.insert(value % len(after), after.pop(at % len(after)))
    return before, after


def _occurrence(article: list[tuple[int, int]], i: int) -> int:
    return sum(1 for _, n in article[: i + 1] if n == article[i][1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 14), min_size=1, max_size=12), st.lists(_EDIT, min_size=1, max_size=6))
def test_random_edits_keep_the_ids_of_every_paragraph_they_did_not_touch(texts, edits):
    """After any insertions, deletions, edits and moves, a paragraph that was not edited keeps its id
    (a repeated text: as long as it is the same occurrence of its text), ids stay unique, and an id
    is never reused for another text."""
    from stance.config import load_config

    ingest = load_config().ingest
    before, after = apply_edits(texts, edits)

    def split(article: list[tuple[int, int]]) -> list[str]:
        if not article:
            return []
        paragraphs = split_document(Document(id="doc", text="\n\n".join(_text(n) for _, n in article)), ingest)
        assert [p.text for p in paragraphs] == [_text(n) for _, n in article]
        return [p.id for p in paragraphs]

    old_ids, new_ids = split(before), split(after)
    assert len(set(new_ids)) == len(new_ids)
    old = {uid: (old_ids[i], _occurrence(before, i)) for i, (uid, _) in enumerate(before)}
    old_text_of_id = {pid: n for pid, (_, n) in zip(old_ids, before, strict=True)}
    for i, (uid, n) in enumerate(after):
        assert old_text_of_id.get(new_ids[i], n) == n  # an id of the earlier version names the same text now
        if uid in old and old[uid][1] == _occurrence(after, i):
            assert new_ids[i] == old[uid][0]
