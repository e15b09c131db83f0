"""The retraining loop learns from one review round: warm start, frame heads from paragraph and
article labels, disagreements by policy, retrain by cross-validation; real small training runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from tiny_encoder import TRAIN_SAMPLE, build_tiny_bert
from typer.testing import CliRunner

from stance.cli import app
from stance.records import LabelledRecord

runner = CliRunner()
CORPUS = ROOT / "data" / "corpus"
CORPUS_CONFIG = ROOT / "configs" / "corpus.yaml"


def corpus_rows(name: str, documents: int, *, stance: bool = True, frames: bool = True) -> list[dict]:
    """The records of the first `documents` documents of a corpus file (stance and/or frame records)."""
    rows = [json.loads(line) for line in (CORPUS / name).read_text(encoding="utf-8").splitlines()]
    keep = list(dict.fromkeys(r["doc_id"] for r in rows))[:documents]
    out = []
    for r in rows:
        if r["doc_id"] not in keep:
            continue
        if "target" in r and stance and r["label"] != "not_mentioned":
            out.append({**r, "frames": None})
        elif "target" not in r and frames:
            out.append(r)
    return out


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- unit


def rec(label: str, annotator: str | None, updated: str = "2026-01-01", target: str = "China") -> LabelledRecord:
    return LabelledRecord(id="d:0:00000000", text="t", target=target, label=label, annotator=annotator, updated_at=updated)


@pytest.mark.parametrize(
    ("policy", "expected", "resolved", "dropped"),
    [("majority", "unfavorable", 1, 0), ("latest", "neutral", 1, 0), ("drop", None, 0, 1)],
)
def test_disagreements_follow_the_policy(policy, expected, resolved, dropped):
    from stance.training.data import resolve_stance

    records = [rec("unfavorable", "a", "2026-01-01"), rec("unfavorable", "b", "2026-01-02"), rec("neutral", "c", "2026-01-03"),
               rec("favorable", "a", "2025-12-01")]  # a's older label: replaced by a's newer one first
    kept, repeats, report = resolve_stance(records, policy)
    assert repeats == 1
    assert [r.label for r in kept] == ([expected] if expected else [])
    assert (report.disagreements, report.resolved, report.dropped) == (1, resolved, dropped)


def test_a_tie_is_dropped_under_majority():
    from stance.training.data import resolve_stance

    kept, _, report = resolve_stance([rec("favorable", "a"), rec("neutral", "b"), rec("neutral", "a", target="Russia")], "majority")
    assert [(r.target, r.label) for r in kept] == [("Russia", "neutral")]
    assert report.dropped == 1 and report.items_with_several_annotators == 1


@pytest.mark.parametrize("policy", ["majority", "latest", "drop"])
def test_a_reviewers_decision_settles_a_disagreement_whatever_the_policy(policy):
    from dataclasses import replace

    from stance.training.data import resolve_stance

    decision = replace(rec("neutral", "reviewer", "2026-01-02"), extra={"adjudicated": True})
    records = [rec("favorable", "a", "2026-01-03"), rec("favorable", "b", "2026-01-04"), rec("unfavorable", "c"), decision]
    kept, _, report = resolve_stance(records, policy)
    assert [r.label for r in kept] == ["neutral"]  # two annotators said favorable, later: the decision still wins
    assert (report.disagreements, report.adjudicated, report.resolved, report.dropped) == (1, 1, 0, 0)


def test_frame_and_stance_records_are_read_from_one_file(tmp_path, default_config):
    from stance.training.data import read_training_files

    path = write(tmp_path / "mixed.jsonl", [
        {"id": "a:0:00000000", "text": "Beijing praised the deal.", "target": "China", "label": "favorable", "frames": ["Economic"], "annotator": "x"},
        {"id": "a:0:00000000", "text": "Beijing praised the deal.", "target": "Russia", "label": "not_mentioned", "frames": ["Economic"], "annotator": "x"},
        {"id": "a:1:00000000", "text": "Talks went on.", "frames": ["External regulation and reputation"]},
        {"id": "doc-b", "text": "First paragraph.\n\nSecond paragraph.", "frames": ["Political", "Economic"]},
    ])
    data = read_training_files([path], default_config)
    assert [(r.target, r.label) for r in data.stance] == [("China", "favorable")] and data.dropped_not_mentioned == 1
    assert sorted((f.id, f.document) for f in data.frames) == [("a:0:00000000", False), ("a:1:00000000", False), ("doc-b", True)]


# ---------------------------------------------------------------------------- real training


@pytest.mark.slow
@pytest.mark.model
def test_warm_start_beats_cold_start_on_a_small_in_domain_set(tmp_path):
    """About 150 reviewed pairs: continuing from the shipped model adapts it; starting from the raw encoder cannot catch up."""
    from stance.config import load_config
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled

    config = load_config(CORPUS_CONFIG)
    train = write(tmp_path / "reviewed.jsonl", corpus_rows("train.jsonl", 14, frames=False))
    gold = [r for r in read_labelled([CORPUS / "dev.jsonl"], config)[0] if r.label != "not_mentioned"][:120]
    scores = {}
    for name, base in (("warm", "current"), ("cold", "bundled:all-MiniLM-L6-v2")):
        result = runner.invoke(app, ["train", str(train), "--out", str(tmp_path / name), "--base", base, "--models-dir", str(tmp_path / "none"),
                                     "--config", str(CORPUS_CONFIG), "--max-steps", "24", "--no-frames", "--no-progress"])
        assert result.exit_code == 0, result.output
        info = json.loads((tmp_path / name / "stance_model.json").read_text())
        scores[name] = evaluate_records(str(tmp_path / name), gold, config, progress=False).metrics["model"]["overall"]["macro_f1"]
    assert info["stance"].get("started_from") is None and "cold start" in info["start"]
    warm_info = json.loads((tmp_path / "warm" / "stance_model.json").read_text())
    assert warm_info["stance"]["started_from"] == "shipped:minilm-news-v3"  # the config's model; the card says what it started from
    assert "warm start" in (tmp_path / "warm" / "README.md").read_text()
    assert scores["warm"] > scores["cold"] + 0.05, scores


@pytest.mark.slow
@pytest.mark.model
def test_frame_records_train_a_frame_head_that_annotate_uses_and_the_stance_model_is_kept(tmp_path, seeds_dir):
    from stance.training.model import StanceModel

    rows = corpus_rows("train.jsonl", 30, stance=False) + corpus_rows("articles-train.jsonl", 30, stance=False)
    frames_file = write(tmp_path / "frames.jsonl", rows)
    out = tmp_path / "framed"
    result = runner.invoke(app, ["train", str(frames_file), "--out", str(out), "--models-dir", str(tmp_path / "none"), "--config",
                                 str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "frames, paragraph level" in result.output and "frames, document level" in result.output
    model = StanceModel.from_pretrained(out)
    assert model.frame_head is not None and model.kind == "lora"  # frames trained; the shipped stance adapter kept
    info = model.info
    assert info["data"]["frame_documents"] >= 30  # the article records, document level
    assert info["frame_metrics"]["document"]["n"] >= 30
    run = tmp_path / "run"
    result = runner.invoke(app, ["annotate", str(seeds_dir), "--model", str(out), "--config", str(CORPUS_CONFIG), "--out", str(run), "--no-progress"])
    assert result.exit_code == 0, result.output
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    head = model.frame_head
    thresholds = dict(zip(head.frames, head.paragraph_thresholds, strict=True))
    for p in predictions:  # the head's own thresholds decide, Other only alone, at most 4
        assert len(p["frame_labels"]) <= 4
        assert all(p["frames"][f] >= thresholds[f] for f in p["frame_labels"] if f != "Other")
        assert "Other" not in p["frame_labels"] or p["frame_labels"] == ["Other"]
    documents = [json.loads(line) for line in (run / "documents.jsonl").read_text().splitlines()]
    assert all(d["frames"] for d in documents)


@pytest.mark.slow
@pytest.mark.model
def test_retrain_cross_validates_without_a_heldout_file_and_logs_the_decision(tmp_path, bundled_model_dir):
    from stance.config import load_config
    from stance.training.retrain import promotions, retrain_and_promote
    from stance.training.train import TrainSettings

    tiny = build_tiny_bert(tmp_path / "tiny", bundled_model_dir)
    settings = TrainSettings(base=str(tiny), max_steps=2, batch_size=8)
    result = retrain_and_promote([TRAIN_SAMPLE], None, tmp_path / "models", load_config(), settings, name="cv1", min_gain=-1.0,
                                 folds=2, progress=False)
    assert result.promoted and "2-fold cross-validation" in result.method
    assert result.records == 300 and (tmp_path / "models" / "current").resolve() == (tmp_path / "models" / "cv1").resolve()
    kept = retrain_and_promote([TRAIN_SAMPLE], None, tmp_path / "models", load_config(), settings, name="cv2", min_gain=1.0,
                               folds=2, progress=False)
    assert not kept.promoted and kept.advice and "reviewed pairs" in kept.advice
    assert [p["promoted"] for p in promotions(tmp_path / "models")] == [True, False]
