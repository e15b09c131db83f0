"""The LoRA adapter: merging equals the trained (unmerged) model, training writes a loadable
adapter, and the shipped adapter loads offline and labels the hand-labelled seed sample well
above chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_encoder import SEED_GOLD, TRAIN_SAMPLE, build_tiny_bert

from stance.scoring.adapter import ADAPTER_JSON, ADAPTER_WEIGHTS, AdapterScorer, shipped_adapter_dir
from stance.scoring.lora import adapter_tensors, add_lora, apply_adapter

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, bundled_model_dir) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), bundled_model_dir)


def _classifier(base: Path):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(base, num_labels=3)


def test_merged_adapter_equals_the_wrapped_model(tiny_base):
    import torch

    torch.manual_seed(1)
    wrapped = _classifier(tiny_base)
    names = add_lora(wrapped, rank=4, alpha=8.0, dropout=0.0)
    assert len(names) == 2 * 6  # q, k, v, attention output, intermediate, output per layer
    with torch.no_grad():
        for name in names:
            wrapped.get_submodule(name).lora_B.normal_(0, 0.5)  # B starts at zero: make the update visible
        for name, parameter in wrapped.named_parameters():
            if "classifier" in name or "pooler" in name:
                parameter.add_(0.1)
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in trainable) and any(n.startswith("classifier.") for n in trainable)
    assert not any("word_embeddings" in n for n in trainable)
    wrapped.eval()
    inputs = {"input_ids": torch.tensor([[101, 2054, 2003, 1996, 2087, 102]]), "attention_mask": torch.ones(1, 6, dtype=torch.long)}
    with torch.no_grad():
        expected = wrapped(**inputs).logits
        torch.manual_seed(1)
        plain = _classifier(tiny_base).eval()
        before = plain(**inputs).logits
        apply_adapter(plain, adapter_tensors(wrapped, names), scale=8.0 / 4)
        got = plain(**inputs).logits
    assert not torch.allclose(before, expected, atol=1e-3)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.slow
def test_trained_adapter_loads_and_scores(tiny_base, tmp_path, default_config):
    from stance.train import TrainSettings, train_adapter

    settings = TrainSettings(base=str(tiny_base), max_steps=4, batch_size=16, learning_rate=1e-3, lora_rank=4, lora_alpha=8)
    out = tmp_path / "adapter"
    result = train_adapter([TRAIN_SAMPLE], out, default_config, settings, report_dir=tmp_path / "report", progress=False)
    assert {p.name for p in out.iterdir()} == {ADAPTER_JSON, ADAPTER_WEIGHTS, "README.md"}
    info = json.loads((out / ADAPTER_JSON).read_text())
    assert info["model_version"] == result.model_version and info["lora"]["rank"] == 4
    assert (tmp_path / "report" / "metrics.json").is_file()
    scorer = AdapterScorer(default_config, str(out))
    from stance.annotator import Annotator

    assert Annotator(default_config, scorer).model_version == result.model_version  # what its predictions carry
    text = "Beijing welcomed the deal, while Washington criticised it."
    scores = scorer.score([text], [list(default_config.targets[:1]) + [default_config.targets[2]]])[0]
    assert set(scores.stance) == {"China", "United States"}
    assert sum(scores.stance["China"].values()) == pytest.approx(1.0)
    assert scores.stance["China"] != scores.stance["United States"]  # the target changes the input


@pytest.mark.slow
def test_adapter_refuses_a_different_base(tiny_base, tmp_path, default_config, bundled_model_dir):
    from stance.errors import ModelError
    from stance.scoring.adapter import load_adapted_model

    with pytest.raises(ModelError, match="trained on a base whose weights differ"):
        load_adapted_model(shipped_adapter_dir(), str(tiny_base))


def test_shipped_adapter_is_small_and_complete():
    directory = shipped_adapter_dir()
    info = json.loads((directory / ADAPTER_JSON).read_text())
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    assert size < 5_000_000
    assert info["base"] == "bundled:all-MiniLM-L6-v2"
    assert info["labels"] == ["favorable", "neutral", "unfavorable"]
    assert info["data"]["train_files"][0]["records"] == 8739  # NewsMTSC train
    assert (directory / "README.md").is_file()


@pytest.mark.slow
def test_shipped_adapter_labels_the_seed_sample_above_chance(default_config):
    """Offline (the tests set HF_HUB_OFFLINE), on hand-labelled seed paragraphs it has never seen."""
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled

    records, _ = read_labelled([SEED_GOLD], default_config)
    metrics = evaluate_records("adapter", records, default_config, progress=False).metrics["model"]
    assert metrics["model_version"].startswith("adapter:minilm-newsmtsc-lora:")
    overall = metrics["overall"]
    # chance: 4 labels, 65% of the sample neutral; a constant "neutral" scores macro-F1 0.2
    assert overall["macro_f1"] > 0.45
    assert overall["accuracy"] > 0.6


@pytest.mark.slow
@pytest.mark.model
def test_model_option_with_an_adapter_dir_picks_the_adapter_scorer_whatever_the_backend():
    from stance.config import load_config
    from stance.scoring import build_scorer

    config = load_config(Path(__file__).resolve().parent.parent / "configs" / "embedding.yaml")
    assert config.model.backend == "embedding"
    scorer = build_scorer(config, str(shipped_adapter_dir()))
    assert isinstance(scorer, AdapterScorer) and scorer.model_version.startswith("adapter:")
