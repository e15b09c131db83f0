"""Ingest: each seed file is cleaned and split as a reader would expect; ids are stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stance.errors import InputError
from stance.ingest import (
    ProblemLog,
    ReadOptions,
    discover_inputs,
    iter_documents,
    iter_paragraphs,
    parse_dateline,
    sentence_spans,
    sentence_windows,
    split_document,
)
from stance.records import Document, text_hash


def paragraphs_of(path: Path, config, options: ReadOptions | None = None, log: ProblemLog | None = None):
    return list(iter_paragraphs(discover_inputs([path]), config.ingest, options or ReadOptions(), log or ProblemLog()))


@pytest.fixture(scope="module")
def seed_paragraphs(default_config, seeds_dir):
    by_doc: dict[str, list] = {}
    for p in paragraphs_of(seeds_dir, default_config):
        by_doc.setdefault(p.doc_id, []).append(p)
    return by_doc


def test_every_seed_is_read(seed_paragraphs):
    assert sorted(seed_paragraphs) == [
        "000_cb57af69ef8ae64e", "001_9fcd427ec1752db6", "002_6a9714a214ac574a",
        "003_ec5e55c82fc7c8bb", "004_7bc5453d4a4e7406",
    ]
    counts = {doc: len(ps) for doc, ps in seed_paragraphs.items()}
    # 000: 7 paragraphs; 001: caption + 8; 002: 6 + Q&A (FAQ heading dropped); 003: headline + 4 windows; 004: title + 10
    assert counts == {
        "000_cb57af69ef8ae64e": 7, "001_9fcd427ec1752db6": 9, "002_6a9714a214ac574a": 12,
        "003_ec5e55c82fc7c8bb": 5, "004_7bc5453d4a4e7406": 11,
    }


def test_date_header_becomes_the_date_and_leaves_the_text(seed_paragraphs):
    first = seed_paragraphs["000_cb57af69ef8ae64e"][0]
    assert first.date == "2023-11-10"
    assert first.text.startswith("China’s top foreign policy official")
    assert all(p.date == "2023-11-10" for p in seed_paragraphs["000_cb57af69ef8ae64e"])
    assert seed_paragraphs["001_9fcd427ec1752db6"][0].date == "2023-09-18"
    assert seed_paragraphs["004_7bc5453d4a4e7406"][0].date == "2023-09-19"


def test_dateline_becomes_the_date(seed_paragraphs):
    doc = seed_paragraphs["003_ec5e55c82fc7c8bb"]
    assert doc[0].date == "2024-09-20"
    assert not any("September, Friday" in p.text for p in doc)


def test_boilerplate_is_dropped(seed_paragraphs):
    texts = [p.text for ps in seed_paragraphs.values() for p in ps]
    joined = "\n".join(texts)
    for boilerplate in ("Follow us on", "Image Source", "By Staff, Agencies", "HN9XqUMiCP8pEQf.png", " date 20"):
        assert boilerplate not in joined
    assert "FAQ" not in texts
    assert seed_paragraphs["001_9fcd427ec1752db6"][0].text == "Chinese foreign minister Wang Yi"


def test_curly_quotes_and_unicode_stay(seed_paragraphs):
    texts = [p.text for p in seed_paragraphs["004_7bc5453d4a4e7406"]]
    assert any("“strategic cooperation”" in t for t in texts)
    assert any("China’s" in t for t in texts)


def test_long_paragraph_is_split_into_whole_sentence_windows(default_config, seed_paragraphs, seeds_dir):
    doc = seed_paragraphs["003_ec5e55c82fc7c8bb"]
    windows = [p for p in doc if p.window is not None]
    assert len(windows) == 4
    assert all(len(p.text) <= default_config.ingest.max_chars for p in windows)
    assert len({p.block for p in windows}) == 1
    raw = (seeds_dir / "003_ec5e55c82fc7c8bb.txt").read_text(encoding="utf-8")
    long_paragraph = max(raw.split("\n\n"), key=len).strip()
    # the windows, in order, are the paragraph's sentences: nothing cut, nothing lost
    assert " ".join(p.text for p in windows) == " ".join(long_paragraph.split())
    for p in windows:
        assert p.text.rstrip()[-1] in ".!?”\"'"


def test_offsets_point_into_the_document(seeds_dir, default_config):
    for path in sorted(seeds_dir.glob("*.txt")):
        text = path.read_text(encoding="utf-8-sig")
        for p in paragraphs_of(path, default_config):
            assert text[p.start : p.end] == p.text


def test_ids_are_stable_and_unique(seeds_dir, default_config):
    paragraphs = paragraphs_of(seeds_dir, default_config)
    first = [p.id for p in paragraphs]
    second = [p.id for p in paragraphs_of(seeds_dir, default_config)]
    assert first == second
    assert len(set(first)) == len(first)
    assert first[0] == "000_cb57af69ef8ae64e:" + text_hash(paragraphs[0].text)[:12]  # <doc_id>:<12 hex of the text's hash>


def test_edit_elsewhere_keeps_a_paragraph_id(tmp_path, default_config):
    one = tmp_path / "a" / "story.txt"
    two = tmp_path / "b" / "story.txt"
    one.parent.mkdir()
    two.parent.mkdir()
    one.write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    two.write_text("First paragraph.\n\nSecond paragraph, edited.\n", encoding="utf-8")
    a, b = paragraphs_of(one, default_config), paragraphs_of(two, default_config)
    assert a[0].id == b[0].id
    assert a[1].id != b[1].id


def test_jsonl_and_csv_records(tmp_path, default_config):
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_text(
        "\ufeff"
        + json.dumps({"id": "n1", "text": "Moscow said so.\n\nBeijing agreed.", "title": "T", "date": "2024-01-02T10:00:00Z", "source": "Wire"})
        + "\n\n"
        + json.dumps({"id": 7, "text": "Washington objected."})
        + "\n",
        encoding="utf-8",
    )
    ps = paragraphs_of(jsonl, default_config)
    assert [(p.doc_id, p.text) for p in ps] == [("n1", "Moscow said so."), ("n1", "Beijing agreed."), ("7", "Washington objected.")]
    assert ps[0].date == "2024-01-02" and ps[0].source == "Wire" and ps[0].title == "T"

    csv_path = tmp_path / "batch.csv"
    csv_path.write_text('story,body,outlet\ns1,"Kremlin line one\n\nline two",Daily\n', encoding="utf-8")
    options = ReadOptions(id_field="story", text_field="body", source_field="outlet")
    ps = paragraphs_of(csv_path, default_config, options)
    assert [(p.doc_id, p.text, p.source) for p in ps] == [("s1", "Kremlin line one", "Daily"), ("s1", "line two", "Daily")]


def test_text_without_blank_lines_splits_on_line_breaks(default_config):
    doc = Document(id="d", text="One line about Russia.\nAnother about China.\n")
    assert [p.text for p in split_document(doc, default_config.ingest)] == ["One line about Russia.", "Another about China."]


def test_datelines():
    assert parse_dateline("September, Friday 20, 2024") == "2024-09-20"
    assert parse_dateline("Fri, 20 Sep 2024") == "2024-09-20"
    assert parse_dateline("2024-09-20") == "2024-09-20"
    assert parse_dateline("20 September 2024 was a day") is None
    assert parse_dateline("February 30, 2024") is None


def test_sentences_respect_abbreviations():
    text = "The U.S. Secretary met Mr. Wang in Malta. They talked. Then they left!"
    assert [text[s:e] for s, e in sentence_spans(text, 0, len(text))] == [
        "The U.S. Secretary met Mr. Wang in Malta.", "They talked.", "Then they left!"
    ]


def test_a_sentence_longer_than_the_window_is_cut_at_whitespace_only_as_last_resort():
    text = "word " * 100
    windows = sentence_windows(text, 0, len(text.rstrip()), 60)
    assert all(e - s <= 60 for s, e in windows)
    assert " ".join(text[s:e] for s, e in windows) == text.strip()


def test_duplicate_document_ids_are_refused(tmp_path, default_config):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.txt").write_text("Alpha.", encoding="utf-8")
    (tmp_path / "b" / "x.txt").write_text("Beta.", encoding="utf-8")
    with pytest.raises(InputError, match=r"duplicate document id 'x' \(first seen in .*a/x.txt\)"):
        list(iter_documents(discover_inputs([tmp_path]), ReadOptions(), ProblemLog()))
    log = ProblemLog("skip")
    docs = list(iter_documents(discover_inputs([tmp_path]), ReadOptions(), log))
    assert [d.text for d in docs] == ["Alpha."] and "duplicate document id" in log.errors[0].message
