"""`stance evaluate`: metrics equal scikit-learn's, the alias gate runs as in annotate, runs and
models give the same figures, reports are complete, bad gold files give clear errors."""

from __future__ import annotations

import json

import pytest
from tiny_encoder import HELDOUT_SAMPLE, SEED_GOLD
from typer.testing import CliRunner

from stance.cli import app
from stance.evaluate import evaluate_files, evaluate_records, predict_with_annotator
from stance.labelled import read_labelled
from stance.metrics import classification_metrics
from stance.records import LabelledRecord

runner = CliRunner()

LABELS = ["favorable", "neutral", "unfavorable", "not_mentioned"]


def test_metrics_equal_scikit_learn_on_a_hand_made_case():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    gold = ["favorable", "favorable", "neutral", "neutral", "neutral", "unfavorable", "unfavorable", "unfavorable", "favorable", "neutral"]
    pred = ["favorable", "neutral", "neutral", "unfavorable", "neutral", "unfavorable", "not_mentioned", "neutral", "favorable", "neutral"]
    m = classification_metrics(gold, pred, LABELS, polar=["favorable", "unfavorable"])
    assert m["labels"] == LABELS  # not_mentioned was predicted, never gold: it still counts (sklearn's default)
    assert m["accuracy"] == pytest.approx(accuracy_score(gold, pred))
    assert m["macro_f1"] == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=LABELS, zero_division=0)
    for i, label in enumerate(LABELS):
        assert m["per_label"][label]["precision"] == pytest.approx(p[i])
        assert m["per_label"][label]["recall"] == pytest.approx(r[i])
        assert m["per_label"][label]["f1"] == pytest.approx(f[i])
        assert m["per_label"][label]["support"] == s[i]
    assert m["f_avg"] == pytest.approx(f1_score(gold, pred, labels=["favorable", "unfavorable"], average="macro", zero_division=0))
    assert m["confusion"] == confusion_matrix(gold, pred, labels=LABELS).tolist()
    # by hand, so that a shared mistake with scikit-learn would show: favorable P 1, R 2/3
    assert m["per_label"]["favorable"]["f1"] == pytest.approx(0.8)
    assert m["accuracy"] == pytest.approx(0.6)


def test_metrics_of_a_perfect_and_an_empty_label():
    m = classification_metrics(["neutral", "favorable"], ["neutral", "favorable"], LABELS, polar=["favorable", "unfavorable"])
    assert m["macro_f1"] == 1.0 and m["accuracy"] == 1.0
    assert m["labels"] == ["favorable", "neutral"]
    assert m["f_avg"] == pytest.approx(0.5)  # unfavorable never occurs: its F1 counts 0, as in SemEval's F_avg


@pytest.mark.model
@pytest.mark.slow
def test_a_run_and_its_model_give_the_same_predictions(seeds_run, tmp_path, default_config):
    """Evaluating a model on gold records gates and scores them exactly as `stance annotate` did."""
    run, _ = seeds_run
    configured = {t.name for t in default_config.targets}
    records = [r for r in read_labelled([SEED_GOLD], default_config)[0] if r.target in configured]
    from_run = evaluate_records(str(run), records, default_config, progress=False).metrics["model"]
    from_model = evaluate_records("config", records, default_config, out_dir=tmp_path / "rep", progress=False).metrics["model"]
    assert from_run["kind"] == "run" and from_model["kind"] == "model"
    assert from_run["overall"]["confusion"] == from_model["overall"]["confusion"]
    rows = [json.loads(line) for line in (tmp_path / "rep" / "predictions.jsonl").read_text().splitlines()]
    by_key = {(r["id"], r["target"]): r for r in rows}
    annotated = {json.loads(line)["id"]: json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()}
    for record in records:
        expected = annotated[record.id]["stance"][record.target]
        got = by_key[(record.id, record.target)]
        assert got["label"] == expected["label"]
        assert got["mentioned"] == expected["mentioned"]
        for label, score in expected["scores"].items():
            assert got["scores"][label] == pytest.approx(score, abs=2e-6)
    # the gate: targets the paragraph does not name are not_mentioned without asking the model
    assert any(not r["mentioned"] and r["label"] == "not_mentioned" for r in rows)


@pytest.mark.model
@pytest.mark.slow
def test_ad_hoc_targets_go_through_the_gate(default_config):
    """A gold target not in the config is an ad-hoc target: its name and `aliases`, or the mention at the span."""
    from stance.scoring.embedding import EmbeddingScorer

    def rec(i: int, text: str, target: str, **kw) -> LabelledRecord:
        return LabelledRecord(id=f"d:{i}:0000000{i}", text=text, target=target, label="neutral", source=f"x:{i}", **kw)

    records = [
        rec(1, "NATO leaders met in Brussels on Tuesday.", "NATO"),
        rec(2, "The EU praised the agreement.", "European Union", aliases=("EU",)),
        rec(3, "The EU praised the agreement.", "European Union"),
        rec(4, "She said the plan would fail.", "She", span=(0, 3)),
        rec(5, "Trumpcare was debated.", "Trump", span=(0, 5)),  # no whole-word match, but the span says where
        rec(6, "Beijing hosted the summit.", "China"),  # configured: aliases from the config
    ]
    from stance.annotator import Annotator

    annotator = Annotator(default_config, EmbeddingScorer(default_config, "bundled:all-MiniLM-L6-v2"))
    predictions = predict_with_annotator(annotator, records, progress=False)
    assert [p.mentioned for p in predictions] == [True, True, False, True, True, True]
    assert predictions[2].label == "not_mentioned" and predictions[2].scores["not_mentioned"] == 1.0
    assert all(p.label in ("favorable", "neutral", "unfavorable") for i, p in enumerate(predictions) if i != 2)


@pytest.mark.model
@pytest.mark.slow
def test_zero_shot_default_evaluates_newsmtsc_records(default_config, tmp_path):
    result = evaluate_files("embedding", [HELDOUT_SAMPLE], default_config, out_dir=tmp_path, progress=False)
    overall = result.metrics["model"]["overall"]
    assert overall["n"] == 60
    assert set(overall["labels"]) <= {"favorable", "neutral", "unfavorable"}
    assert result.metrics["model"]["model_version"].startswith("embedding:")
    png = (tmp_path / "confusion.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| accuracy |" in (tmp_path / "report.md").read_text()


def test_unknown_gold_label_is_refused(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a:0:00000000", "text": "China.", "target": "China", "label": "pro"}) + "\n")
    result = runner.invoke(app, ["evaluate", "embedding", "--gold", str(gold), "--no-progress"])
    assert result.exit_code == 2
    assert f"{gold}:1" in result.output and "'pro'" in result.output


def test_gold_record_without_text_is_refused(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a:0:00000000", "target": "China", "label": "neutral"}) + "\n")
    result = runner.invoke(app, ["evaluate", "embedding", "--gold", str(gold), "--no-progress"])
    assert result.exit_code == 2
    assert f"{gold}:1: field 'text' is missing" in result.output


def test_duplicate_gold_pair_is_refused(tmp_path):
    line = json.dumps({"id": "a:0:00000000", "text": "China.", "target": "China", "label": "neutral"}) + "\n"
    gold = tmp_path / "gold.jsonl"
    gold.write_text(line + line)
    result = runner.invoke(app, ["evaluate", "embedding", "--gold", str(gold), "--no-progress"])
    assert result.exit_code == 2
    assert f"{gold}:2" in result.output and "already labelled" in result.output


def test_run_that_lacks_gold_paragraphs_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "predictions.jsonl").write_text(json.dumps({"id": "other:0:00000000", "text": "x", "stance": {}}) + "\n")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "a:0:00000000", "text": "China.", "target": "China", "label": "neutral"}) + "\n")
    result = runner.invoke(app, ["evaluate", str(run), "--gold", str(gold), "--no-progress"])
    assert result.exit_code == 2
    assert "1 of 1 gold records are not in" in result.output and "'a:0:00000000'" in result.output


def test_gold_records_without_ids_are_named_by_file_and_line(tmp_path, default_config):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"text": "China opened a school.", "target": "China", "label": "neutral"}) + "\n"
        + json.dumps({"text": "Russia opened a school.", "target": "Russia", "label": "neutral"}) + "\n"
    )
    records, _ = read_labelled([gold], default_config)
    assert [r.id for r in records] == [f"{gold}:1", f"{gold}:2"]


@pytest.mark.model
@pytest.mark.slow
def test_a_whole_article_as_gold_text_is_judged_by_the_document_rule(default_config, tmp_path):
    """A gold record whose text is an article: split into paragraphs as annotate splits it, each
    paragraph decided, the article's label by the documents.jsonl rule; the same as annotating it."""
    from stance.annotate import annotate_corpus

    article = ("Russian missiles struck Kyiv overnight, killing four people.\n\nThe Kremlin said the strikes hit military targets.\n\n"
               "Residents swept glass from the streets.")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "art-1", "text": article, "target": "Russia", "label": "unfavorable"}) + "\n", encoding="utf-8")
    metrics = evaluate_files("config", [gold], default_config, out_dir=tmp_path / "report", progress=False).metrics
    row = json.loads((tmp_path / "report" / "predictions.jsonl").read_text().splitlines()[0])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "art-1.txt").write_text(article, encoding="utf-8")
    annotate_corpus([tmp_path / "in"], tmp_path / "run", default_config, progress=False)
    document = json.loads((tmp_path / "run" / "documents.jsonl").read_text().splitlines()[0])
    assert row["label"] == document["stance"]["Russia"]["label"]
    assert row["scores"]["unfavorable"] == pytest.approx(document["stance"]["Russia"]["scores"]["unfavorable"], abs=1e-5)
    assert metrics["model"]["overall"]["n"] == 1
