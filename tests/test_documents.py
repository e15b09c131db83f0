"""documents.jsonl: each article's stance and frames follow from its paragraphs by the documented rule."""

from __future__ import annotations

import json
import math

import pytest
from conftest import write_config

from stance.records import Prediction, TargetStance


def para(doc: str, i: int, labels: dict[str, tuple[str, dict[str, float]]], frames: dict[str, float] | None = None) -> Prediction:
    stance = {t: TargetStance(label, scores, label != "not_mentioned") for t, (label, scores) in labels.items()}
    return Prediction(id=f"{doc}:{i}:0000000{i}", doc_id=doc, index=i, text=f"p{i}", stance=stance, frames=frames or {},
                      frame_labels=tuple(f for f, s in (frames or {}).items() if s >= 0.5), model_version="v")


NM = ("not_mentioned", {"favorable": 0.0, "neutral": 0.0, "unfavorable": 0.0, "not_mentioned": 1.0})


def s(fav: float, neu: float, unf: float) -> dict[str, float]:
    return {"favorable": fav, "neutral": neu, "unfavorable": unf, "not_mentioned": 0.0}


def test_stance_is_the_mean_over_mentioning_paragraphs_with_neutral_weighted(tmp_path, default_config):
    from stance.config import load_config
    from stance.documents import document_stance

    paragraphs = [
        para("d", 0, {"China": ("neutral", s(0.1, 0.6, 0.3))}),
        para("d", 1, {"China": ("unfavorable", s(0.1, 0.3, 0.6))}),
        para("d", 2, {"China": ("neutral", s(0.2, 0.5, 0.3))}),
        para("d", 3, {"China": NM}),
    ]
    plain = document_stance(paragraphs, "China", load_config(write_config(tmp_path / "p.yaml", "documents:\n  neutral_weight: 1.0\n")))
    assert plain.label == "neutral"  # means: favorable 0.133, neutral 0.467, unfavorable 0.4
    assert plain.scores["neutral"] == pytest.approx(1.4 / 3, abs=1e-6)
    assert plain.counts == {"favorable": 0, "neutral": 2, "unfavorable": 1, "not_mentioned": 1}
    assert plain.mentioned == 3 and plain.shares["neutral"] == pytest.approx(2 / 3, abs=1e-6)
    weighted = document_stance(paragraphs, "China", load_config(write_config(tmp_path / "w.yaml", "documents:\n  neutral_weight: 0.8\n")))
    assert weighted.label == "unfavorable"  # 0.467 * 0.8 = 0.373 < 0.4
    assert default_config.documents.neutral_weight == 0.6  # the shipped weight, calibrated on the corpus' train articles
    assert document_stance(paragraphs, "China", default_config).label == "unfavorable"
    absent = document_stance(paragraphs[3:], "China", default_config)
    assert absent.label == "not_mentioned" and absent.mentioned == 0


def test_frames_without_a_head_are_those_on_a_share_of_the_paragraphs(default_config):
    from stance.documents import share_rule

    rule = share_rule(default_config)  # frame_share 0.25
    paragraphs = [{"Economic": 0.9, "Political": 0.2}, {"Economic": 0.7, "Political": 0.1}, {"Economic": 0.2, "Political": 0.6},
                  {"Economic": 0.1, "Political": 0.1}, {"Economic": 0.1, "Political": 0.1}]
    scores, labels = rule(paragraphs)
    assert labels == ["Economic"]  # 2/5 paragraphs; Political 1/5 < 0.25
    assert scores["Economic"] == pytest.approx(0.4)
    _, nothing = rule([{"Economic": 0.1}])
    assert nothing == ["Other"]  # the residual frame when no other applies


def test_a_frame_head_decides_on_the_mean_logit_against_document_thresholds(default_config):
    from stance.documents import head_rule

    class Head:
        frames = [f.name for f in default_config.frames.items if not f.residual]
        document_thresholds = [0.5] * len(frames)

    rule = head_rule(default_config, Head())
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    paragraphs = [{"Economic": sigmoid(3.0), "Political": sigmoid(-1.0)}, {"Economic": sigmoid(-1.0), "Political": sigmoid(-0.5)}]
    scores, labels = rule(paragraphs)
    assert scores["Economic"] == pytest.approx(sigmoid(1.0), abs=1e-5)  # mean logit (3 - 1) / 2
    assert labels == ["Economic"]


@pytest.mark.slow
@pytest.mark.model
def test_annotate_writes_documents_that_match_their_paragraphs(seeds_run, default_config):
    run, _ = seeds_run
    documents = [json.loads(line) for line in (run / "documents.jsonl").read_text(encoding="utf-8").splitlines()]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [d["doc_id"] for d in documents] == list(dict.fromkeys(p["doc_id"] for p in predictions))
    assert json.loads((run / "run.json").read_text())["counts"]["documents"] == len(documents) == 5
    for document in documents:
        mine = [p for p in predictions if p["doc_id"] == document["doc_id"]]
        assert document["paragraphs"] == len(mine)
        for target in ("China", "Russia", "United States"):
            result = document["stance"][target]
            counted = {label: sum(p["stance"][target]["label"] == label for p in mine) for label in default_config.all_label_names}
            assert result["counts"] == counted
            mentioning = [p for p in mine if p["stance"][target]["label"] != "not_mentioned"]
            if not mentioning:
                assert result["label"] == "not_mentioned"
                continue
            weight = default_config.documents.neutral_weight
            means = {label: sum(p["stance"][target]["scores"][label] for p in mentioning) / len(mentioning)
                     * (weight if label == "neutral" else 1.0) for label in default_config.stance_label_names}
            assert result["label"] == max(means, key=means.get)  # the mean scores, neutral x documents.neutral_weight
        assert document["frames"] and set(document["frames"]) <= set(default_config.frame_names)


def test_frame_labels_use_per_frame_thresholds_a_cap_and_other_only_alone(default_config):
    from stance.annotator import Annotator

    class Scorer:
        model_version, scores_frames = "v", True

    class Head:
        thresholds = {"Economic": 0.7, "Political": 0.2}

    annotator = Annotator(default_config, Scorer(), frame_scorer=None)
    many = {f: 0.9 - 0.05 * i for i, f in enumerate(default_config.frame_names)}
    assert len(annotator.frame_labels(many)) == default_config.frames.max_labels == 4
    assert annotator.frame_labels({"Economic": 0.1, "Political": 0.2, "Other": 0.8}) == ["Other"]
    annotator.frame_scorer = Head()
    assert annotator.frame_labels({"Economic": 0.6, "Political": 0.3, "Other": 0.4}) == ["Political"]  # the head's own thresholds
