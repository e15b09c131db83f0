"""Property-based tests of ingest: for any text, paragraphs cover it without overlap, ids are stable,
and nothing raises but the documented errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stance.config import Ingest
from stance.errors import InputError
from stance.ingest import ProblemLog, ReadOptions, iter_documents, split_document
from stance.records import Document

# plain settings: no boilerplate patterns, so every non-space character must land in a paragraph
PLAIN = Ingest(date_header=r"^\u0000never(\d)", drop_lines=(), strip_prefixes=(), max_chars=80)

alphabet = st.sampled_from(list("abc XYZ.!?\n\n\t“”’é中,;-") + ["U.S.", "Mr. ", "\r\n", "\n\n\n", "  "])
texts = st.lists(alphabet, max_size=400).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_paragraphs_cover_the_text_in_order_without_overlap(text):
    doc = Document(id="doc", text=text)
    paragraphs = split_document(doc, PLAIN)
    position = 0
    for p in paragraphs:
        assert p.text == text[p.start : p.end]
        assert p.start >= position, "paragraphs overlap or go backwards"
        assert text[position : p.start].strip() == "", "non-space text fell between paragraphs"
        assert p.text == p.text.strip() and p.text
        assert len(p.text) <= PLAIN.max_chars
        position = p.end
    assert text[position:].strip() == ""
    assert [p.index for p in paragraphs] == list(range(len(paragraphs)))


@settings(max_examples=200, deadline=None)
@given(texts)
def test_ids_are_stable_and_unique(text):
    first = split_document(Document(id="doc", text=text), PLAIN)
    second = split_document(Document(id="doc", text=text), PLAIN)
    assert [p.id for p in first] == [p.id for p in second]
    assert len({p.id for p in first}) == len(first)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_default_cleaning_never_invents_text(text):
    from stance.config import load_config

    ingest = load_config().ingest
    for p in split_document(Document(id="d", text=text), ingest):
        assert text[p.start : p.end] == p.text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_documented_errors(tmp_path, data):
    for suffix in (".txt", ".jsonl", ".csv"):
        path = tmp_path / f"input{suffix}"
        path.write_bytes(data)
        try:
            docs = list(iter_documents([path], ReadOptions(), ProblemLog("fail")))
        except InputError as exc:
            assert str(path) in str(exc)
            continue
        for doc in docs:
            assert isinstance(doc.text, str) and doc.text.strip()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=10))), max_size=5))
def test_arbitrary_json_lines_raise_only_documented_errors(tmp_path, values):
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(v) for v in values) + "\n", encoding="utf-8")
    log = ProblemLog("skip")
    docs = list(iter_documents([path], ReadOptions(), log))
    # every line is accounted for: it gave a document or a problem naming its line
    assert len(docs) + len(log.problems) == len(values)
    for problem in log.problems:
        assert problem.where.startswith(str(path))


@pytest.mark.parametrize("max_chars", [50, 200, 1000])
def test_window_size_is_respected_on_real_text(seeds_dir, max_chars):
    ingest = Ingest(max_chars=max_chars)
    text = (seeds_dir / "003_ec5e55c82fc7c8bb.txt").read_text(encoding="utf-8")
    paragraphs = split_document(Document(id="d", text=text), ingest)
    assert paragraphs and all(len(p.text) <= max_chars for p in paragraphs)
