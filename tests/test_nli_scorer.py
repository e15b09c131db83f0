"""The NLI scorer on a tiny real model gives the zero-shot pipeline's numbers."""

from __future__ import annotations

import pytest

from stance.ingest import ProblemLog, ReadOptions, discover_inputs, iter_paragraphs
from stance.prompts import frame_hypotheses, stance_hypotheses
from stance.scoring.nli import NLIScorer, nli_label_ids

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def seed_texts(default_config, seeds_dir):
    paragraphs = iter_paragraphs(discover_inputs([seeds_dir]), default_config.ingest, ReadOptions(), ProblemLog())
    return [p.text for p in paragraphs][:12]


def test_scores_equal_the_zero_shot_pipeline(tiny_nli_config, tiny_nli_model_dir, seed_texts):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    scorer = NLIScorer(tiny_nli_config)
    targets = list(tiny_nli_config.targets)
    results = scorer.score(seed_texts, [targets] * len(seed_texts))

    tokenizer = AutoTokenizer.from_pretrained(tiny_nli_model_dir)
    tokenizer.model_max_length = scorer.max_length
    classifier = pipeline(
        "zero-shot-classification",
        model=AutoModelForSequenceClassification.from_pretrained(tiny_nli_model_dir),
        tokenizer=tokenizer,
        device="cpu",
    )
    frames = frame_hypotheses(tiny_nli_config)
    worst = 0.0
    for text, result in zip(seed_texts, results, strict=True):
        for target in targets:
            pairs = stance_hypotheses(tiny_nli_config, target, include_not_mentioned=False)
            out = classifier(text, candidate_labels=[h for _, h in pairs], hypothesis_template="{}", multi_label=False)
            expected = dict(zip(out["labels"], out["scores"], strict=True))
            for label, hypothesis in pairs:
                worst = max(worst, abs(result.stance[target.name][label] - expected[hypothesis]))
        out = classifier(text, candidate_labels=[h for _, h in frames], hypothesis_template="{}", multi_label=True)
        expected = dict(zip(out["labels"], out["scores"], strict=True))
        for frame, hypothesis in frames:
            worst = max(worst, abs(result.frames[frame] - expected[hypothesis]))
    assert worst <= 1e-5
    # the scores are not degenerate: the test would catch a scorer that ignores its input
    first = results[0].stance["China"]
    assert max(first.values()) - min(first.values()) > 1e-3


def test_residual_frame_is_one_minus_best(tiny_nli_config, seed_texts):
    result = NLIScorer(tiny_nli_config).score(seed_texts[:2], [[], []])
    for scores in (r.frames for r in result):
        others = [v for k, v in scores.items() if k != "Other"]
        assert scores["Other"] == pytest.approx(1 - max(others))


def test_label_ids_read_from_id2label():
    assert nli_label_ids({0: "entailment", 1: "neutral", 2: "contradiction"}) == (0, 2)
    assert nli_label_ids({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}) == (2, 0)
    assert nli_label_ids({0: "entailment", 1: "not_entailment"}) == (0, 1)


def test_model_without_entailment_label_is_refused():
    from stance.errors import ModelError

    with pytest.raises(ModelError, match="no 'entailment' label"):
        nli_label_ids({0: "LABEL_0", 1: "LABEL_1"})


def test_gate_off_adds_not_mentioned_hypothesis(tmp_path, tiny_nli_model_dir):
    from conftest import write_config

    from stance.config import load_config

    config = load_config(
        write_config(tmp_path / "c.yaml", f"gate:\n  enabled: false\nmodel:\n  backend: nli\n  name: {tiny_nli_model_dir}\n")
    )
    result = NLIScorer(config).score(["Nothing about anyone here."], [list(config.targets)])[0]
    assert set(result.stance["China"]) == {"favorable", "neutral", "unfavorable", "not_mentioned"}
    assert sum(result.stance["China"].values()) == pytest.approx(1.0)
