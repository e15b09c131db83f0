"""The one-pass model: each paragraph encoded once, every target read from its mention tokens, frames from the same pass.

Unit tests of the marking and the token positions; real training runs of the bundled MiniLM (cold
with every weight, then warm with a LoRA adapter), loading, the one-pass guarantee (one encoder row per paragraph however many
targets it names), frames from the model's own calibrated head, and the errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from tiny_encoder import synthetic_rows
from typer.testing import CliRunner

from stance.cli import app
from stance.scoring.onepass import encode_marked, mark_targets
from stance.scoring.targeted import mark_mentions

runner = CliRunner()
CORPUS_CONFIG = ROOT / "configs" / "corpus.yaml"


# ------------------------------------------------------------------------------------- unit


def test_marking_is_the_target_conditioned_marking_for_all_targets_at_once():
    text = "China and Beijing met Russia in Moscow."
    china, russia = [(0, 5), (10, 17)], [(22, 28), (32, 38)]
    marked, regions = mark_targets(text, [china, russia])
    assert marked == mark_mentions(text, china + russia)
    assert [marked[a:b] for a, b in regions[0]] == ["@ China @", "@ Beijing @"]
    assert [marked[a:b] for a, b in regions[1]] == ["@ Russia @", "@ Moscow @"]


def test_overlapping_spans_of_two_targets_share_one_marked_region():
    text = "The Sino-Russian pact was signed."
    marked, regions = mark_targets(text, [[(4, 8)], [(4, 16)]])
    assert marked == "The @ Sino-Russian @ pact was signed."
    assert regions[0] == regions[1] == [(4, 20)]


@pytest.mark.model
def test_mention_tokens_are_the_marked_mentions(bundled_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_dir)
    text = "Officials in Beijing praised the deal, and the Kremlin stayed silent."
    marked, regions = mark_targets(text, [[(13, 20)], [(47, 54)]])
    feature = encode_marked(tokenizer, [marked], [regions], 64)[0]
    words = [tokenizer.decode([feature["input_ids"][k]]).replace(" ", "") for k in feature["mention_tokens"][0]]
    assert "".join(words) == "@beijing@"
    assert "kremlin" in tokenizer.decode([feature["input_ids"][k] for k in feature["mention_tokens"][1]])
    # a mention cut off by the token limit: the target is read from the paragraph's tokens
    short = encode_marked(tokenizer, [marked], [regions], 8)[0]
    assert short["mention_tokens"][1] == list(range(1, 7))


# ------------------------------------------------------------------------------ training


@pytest.fixture(scope="module")
def one_pass_model(tmp_path_factory) -> tuple[Path, Path, list[dict]]:
    """A one-pass model trained cold from the bundled MiniLM (all weights, new heads) on 160 synthetic paragraphs:
    (model dir, data file, rows). A random tiny BERT does not learn which verb belongs to which target in a test's time."""
    work = tmp_path_factory.mktemp("one-pass")
    rows = synthetic_rows(160)
    data = work / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = work / "model"
    result = runner.invoke(app, ["train", str(data), "--base", "bundled:all-MiniLM-L6-v2", "--one-pass", "--out", str(out), "--epochs", "4",
                                 "--learning-rate", "1e-4", "--batch-size", "16", "--patience", "100", "--config", str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, data, rows


def annotator_for(model: Path):
    from stance.annotator import Annotator
    from stance.config import load_config
    from stance.scoring import build_scorer

    config = load_config(CORPUS_CONFIG)
    return Annotator(config, build_scorer(config, str(model)))


def paragraphs_of(rows: list[dict]):
    from stance.records import Paragraph

    texts = list(dict.fromkeys(r["text"] for r in rows))
    return [Paragraph(id=f"p{i}", doc_id=f"p{i}", index=0, text=t, start=0, end=len(t)) for i, t in enumerate(texts)]


@pytest.mark.model
def test_one_pass_model_learns_each_targets_own_stance(one_pass_model):
    out, _, _ = one_pass_model
    info = json.loads((out / "stance_model.json").read_text())
    assert info["stance"]["kind"] == "one-pass" and info["stance"]["encoder"] == "full"
    assert (out / "one_pass_heads.safetensors").is_file() and (out / "frame_head.json").is_file()
    annotator = annotator_for(out)
    assert type(annotator.scorer).__name__ == "OnePassScorer"
    assert annotator.model_version.startswith("one-pass:model:")
    seen = {r["text"] for r in one_pass_model[2]}
    held_out = [r for r in synthetic_rows(200, seed=7) if r["text"] not in seen]  # sentences not trained on, same templates
    gold = {(r["text"], r["target"]): r["label"] for r in held_out if "target" in r}
    predicted = annotator.predict(paragraphs_of(held_out))
    pairs = [(gold[(p.text, t)], s.label) for p in predicted for t, s in p.stance.items() if (p.text, t) in gold]
    accuracy = sum(a == b for a, b in pairs) / len(pairs)
    assert len(pairs) == len(gold) >= 40
    assert accuracy >= 0.8, f"held-out accuracy {accuracy:.2f}: the targets' own verbs were not learned"


@pytest.mark.model
def test_one_encoder_pass_per_paragraph_and_frames_from_it(one_pass_model):
    out, _, rows = one_pass_model
    annotator = annotator_for(out)
    assert annotator.frame_scorer is None and annotator.frame_source is annotator.scorer  # no second model for frames
    net = annotator.scorer.net
    seen = []
    original = net.encode

    def counting(**inputs):
        seen.append(int(inputs["input_ids"].shape[0]))
        return original(**inputs)

    net.encode = counting
    paragraphs = paragraphs_of(rows[:60])
    predicted = annotator.predict(paragraphs)
    assert sum(seen) == len(paragraphs)  # each paragraph names China and Russia: still one encoder row each
    assert all(p.stance["China"].mentioned and p.stance["Russia"].mentioned for p in predicted)
    assert all(set(p.frames) >= {"Economic", "Security and defense"} for p in predicted)
    frames = {r["text"]: r["frames"][0] for r in rows if "frames" in r}
    right = sum(frames[p.text] in p.frame_labels for p in predicted)
    assert right / len(predicted) >= 0.8, "the frame head on the model's own vectors did not learn the topics"


@pytest.mark.model
def test_loading_twice_gives_the_same_scores(one_pass_model):
    out, _, rows = one_pass_model
    paragraphs = paragraphs_of(rows[:12])
    first = [p.stance for p in annotator_for(out).predict(paragraphs)]
    second = [p.stance for p in annotator_for(out).predict(paragraphs)]
    assert first == second


@pytest.fixture(scope="module")
def warm_adapter(one_pass_model, tmp_path_factory) -> tuple[Path, Path]:
    """A LoRA adapter trained warm over a copy of the one-pass model: (adapter dir, its base)."""
    import shutil

    out, data, _ = one_pass_model
    work = tmp_path_factory.mktemp("warm")
    base = work / "base"
    shutil.copytree(out, base)
    warm = work / "warm"
    result = runner.invoke(app, ["train", str(data), "--base", str(base), "--adapter", "--lora-rank", "4", "--max-steps", "6",
                                 "--out", str(warm), "--config", str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code == 0, result.output
    return warm, base


@pytest.mark.model
def test_warm_start_from_a_one_pass_model_stays_one_pass_with_an_adapter(warm_adapter):
    warm, base = warm_adapter
    info = json.loads((warm / "stance_model.json").read_text())
    assert info["stance"]["kind"] == "one-pass" and info["stance"]["encoder"] == "lora"
    assert info["stance"]["started_from"] == str(base) and info["stance"]["base_weights"]
    assert (warm / "adapter_model.safetensors").is_file()
    predicted = annotator_for(warm).predict(paragraphs_of(synthetic_rows(4, seed=3)))
    assert all(p.stance["China"].label in ("favorable", "neutral", "unfavorable") for p in predicted)


@pytest.mark.model
def test_a_changed_base_is_refused(warm_adapter):
    """An adapter names the exact base it was trained on; other weights there are an error, not silent drift (runs after
    the test above: it damages the base)."""
    from stance.errors import ModelError

    warm, base = warm_adapter
    heads = base / "one_pass_heads.safetensors"
    heads.write_bytes(heads.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelError, match="other weights"):
        annotator_for(warm)


@pytest.mark.model
def test_one_pass_errors_name_the_fix(one_pass_model, tmp_path):
    from stance.config import load_config
    from stance.errors import ModelError
    from stance.scoring.onepass import OnePassScorer

    out, data, _ = one_pass_model
    config = load_config(CORPUS_CONFIG)
    onnx = config.model_copy(update={"model": config.model.model_copy(update={"runtime": "onnx"})})
    with pytest.raises(ModelError, match="runs on torch"):
        OnePassScorer(onnx, str(out))
    result = runner.invoke(app, ["train", str(data), "--base", str(out), "--target-conditioned", "--max-steps", "1",
                                 "--out", str(tmp_path / "x"), "--config", str(CORPUS_CONFIG), "--no-progress"])
    assert result.exit_code != 0
    assert "is a one-pass model" in result.output and "--one-pass" in result.output
