"""LoRA adapters (peft): the merged adapter a model directory loads equals the trained (unmerged)
model, `stance train --adapter` writes a loadable adapter, and the shipped adapter loads offline
and labels the hand-labelled seed sample well above chance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tiny_encoder import SEED_GOLD, TRAIN_SAMPLE, build_tiny_bert
from typer.testing import CliRunner

from stance.cli import app
from stance.scoring.trained import TrainedScorer
from stance.training.model import ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODEL_JSON, StanceModel, save_model_dir, shipped_models_dir

pytestmark = [pytest.mark.model]
SHIPPED = "minilm-newsmtsc-lora"  # the previous default: an adapter of the bundled encoder (configs/previous-default.yaml)
DEFAULT = "minilm-news-v3"  # the default: STANCE_V2's adapter (stacked over SHIPPED) with a frame head on its own pass
STANCE_V2 = "minilm-news-v2"  # the same stance adapter, with a frame head on the bundled sentence encoder
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory, bundled_model_dir) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-base"), bundled_model_dir)


def _classifier(base: Path):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(base, num_labels=3)


def test_merged_adapter_equals_the_wrapped_model(tiny_base, tmp_path):
    import torch

    from stance.training.trainer import FitSettings, add_lora

    torch.manual_seed(1)
    wrapped = add_lora(_classifier(tiny_base), FitSettings(lora_rank=4, lora_alpha=8.0, lora_dropout=0.0))
    names = [n for n, _ in wrapped.named_parameters() if "lora_B" in n]
    assert len(names) == 2 * 6  # q, k, v, attention output, intermediate, output per layer
    with torch.no_grad():
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)  # B starts at zero: make the update visible
            if "modules_to_save" in name and ("classifier" in name or "pooler" in name):
                parameter.add_(0.1)
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert any("lora_A" in n for n in trainable) and any("classifier" in n for n in trainable)
    assert not any("word_embeddings" in n for n in trainable)
    wrapped.eval()
    inputs = {"input_ids": torch.tensor([[101, 2054, 2003, 1996, 2087, 102]]), "attention_mask": torch.ones(1, 6, dtype=torch.long)}
    info = {"format": "stance-model", "format_version": 2, "name": "t", "labels": ["favorable", "neutral", "unfavorable"],
            "input_format": {"version": 1}, "stance": {"kind": "lora", "base": str(tiny_base)}}
    save_model_dir(tmp_path / "adapter", info, classifier=wrapped)
    with torch.no_grad():
        expected = wrapped(**inputs).logits
        before = _classifier(tiny_base).eval()(**inputs).logits
        merged, _ = StanceModel.from_pretrained(tmp_path / "adapter").load_classifier()
        got = merged(**inputs).logits
    assert not any("lora" in n for n, _ in merged.named_parameters())  # merged: a plain encoder at inference
    assert not torch.allclose(before, expected, atol=1e-3)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.slow
def test_trained_adapter_loads_and_scores(tiny_base, tmp_path, default_config):
    out = tmp_path / "adapter"
    result = runner.invoke(app, ["train", str(TRAIN_SAMPLE), "--out", str(out), "--adapter", "--base", str(tiny_base), "--max-steps", "4",
                                 "--batch-size", "16", "--learning-rate", "1e-3", "--no-progress"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert {ADAPTER_CONFIG, ADAPTER_WEIGHTS, MODEL_JSON, "README.md", "stance_config.yaml"} <= names
    assert "model.safetensors" not in names  # only the adapter: the base stays where it is
    info = json.loads((out / MODEL_JSON).read_text())
    assert info["stance"]["kind"] == "lora" and info["stance"]["base"] == str(tiny_base)
    assert json.loads((out / ADAPTER_CONFIG).read_text())["r"] == 8
    assert (out / "eval" / "metrics.json").is_file()
    scorer = TrainedScorer(default_config, str(out))
    from stance.annotator import Annotator

    assert Annotator(default_config, scorer).model_version == info["model_version"]  # what its predictions carry
    text = "Beijing welcomed the deal, while Washington criticised it."
    scores = scorer.score([text], [list(default_config.targets[:1]) + [default_config.targets[2]]])[0]
    assert set(scores.stance) == {"China", "United States"}
    assert sum(scores.stance["China"].values()) == pytest.approx(1.0)
    assert scores.stance["China"] != scores.stance["United States"]  # the target changes the input


@pytest.mark.slow
def test_adapter_refuses_a_different_base(tiny_base, tmp_path, default_config):
    from stance.errors import ModelError

    copy = tmp_path / "copy"
    shutil.copytree(shipped_models_dir() / SHIPPED, copy)
    info = json.loads((copy / MODEL_JSON).read_text())
    info["stance"]["base"] = str(tiny_base)  # the adapter names a base whose weights are not the ones it was trained on
    (copy / MODEL_JSON).write_text(json.dumps(info))
    with pytest.raises(ModelError, match="trained on a base whose weights differ"):
        StanceModel.from_pretrained(copy).load_classifier()


def test_shipped_adapter_is_small_and_complete():
    directory = shipped_models_dir() / SHIPPED
    info = json.loads((directory / MODEL_JSON).read_text())
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    assert size < 5_000_000
    assert info["stance"] == {**info["stance"], "kind": "lora", "base": "bundled:all-MiniLM-L6-v2"}
    assert info["labels"] == ["favorable", "neutral", "unfavorable"]
    assert info["data"]["train_files"][0]["records"] == 8739  # NewsMTSC train
    assert (directory / ADAPTER_WEIGHTS).is_file() and (directory / ADAPTER_CONFIG).is_file()


def test_the_default_is_a_small_adapter_over_the_previous_one_with_a_frame_head(default_config):
    directory = shipped_models_dir() / DEFAULT
    info = json.loads((directory / MODEL_JSON).read_text())
    size = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    assert size < 8_000_000  # shipped in the wheel
    assert default_config.model.name == f"shipped:{DEFAULT}"
    assert info["stance"]["kind"] == "lora" and info["stance"]["base"] == f"shipped:{SHIPPED}"
    assert info["stance"]["base_weights"] == StanceModel.from_pretrained(shipped_models_dir() / SHIPPED).weights_digests()
    v2 = json.loads((shipped_models_dir() / STANCE_V2 / MODEL_JSON).read_text())
    assert [Path(f["path"]).name for f in v2["data"]["train_files"]][:2] == ["train.jsonl", "articles-train.jsonl"]  # the team corpus
    assert not any("dev" in f["path"] for f in v2["data"]["train_files"] + info["data"]["train_files"])  # the dev split stays out
    # the stance adapter is v2's, byte for byte (so are the stance labels); only the frame head is new, on the stance pass
    assert info["stance"]["kept_from"] == f"shipped:{STANCE_V2}"
    assert (directory / ADAPTER_WEIGHTS).read_bytes() == (shipped_models_dir() / STANCE_V2 / ADAPTER_WEIGHTS).read_bytes()
    assert [f["path"].split()[-1] for f in info["data"]["train_files"]] == ["frames-train.jsonl", "frames-articles-train.jsonl"]
    model = StanceModel.from_pretrained(directory)
    assert model.frame_head is not None and model.frame_head.encoder == "stance-pass" and model.frame_head.info["layers"] == [2, 4, 6]
    assert set(model.frame_head.frames) == {f.name for f in default_config.frames.items if not f.residual}  # Other: when none applies


@pytest.mark.slow
def test_the_default_labels_the_seed_sample_at_least_as_well_as_the_previous_one(default_config):
    """The new default must not lose what the previous one did well (measured: 0.771 vs 0.767 macro-F1)."""
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled

    records, _ = read_labelled([SEED_GOLD], default_config)
    metrics = evaluate_records("config", records, default_config, progress=False).metrics["model"]
    assert metrics["model_version"].startswith(f"adapter:{DEFAULT}:")
    assert metrics["overall"]["macro_f1"] > 0.7 and metrics["overall"]["accuracy"] > 0.7


@pytest.mark.slow
def test_shipped_adapter_labels_the_seed_sample_above_chance(default_config):
    """Offline (the tests set HF_HUB_OFFLINE), on hand-labelled seed paragraphs it has never seen."""
    from stance.evaluate import evaluate_records
    from stance.labelled import read_labelled

    records, _ = read_labelled([SEED_GOLD], default_config)
    config = default_config.model_copy(update={"model": default_config.model.model_copy(update={"name": f"shipped:{SHIPPED}"})})
    metrics = evaluate_records("config", records, config, progress=False).metrics["model"]
    assert metrics["model_version"].startswith(f"adapter:{SHIPPED}:")
    overall = metrics["overall"]
    # chance: 4 labels, 65% of the sample neutral; a constant "neutral" scores macro-F1 0.2
    assert overall["macro_f1"] > 0.45
    assert overall["accuracy"] > 0.6


@pytest.mark.slow
@pytest.mark.model
def test_model_option_with_a_model_dir_picks_the_trained_scorer_whatever_the_backend():
    from stance.config import load_config
    from stance.scoring import build_scorer

    config = load_config(Path(__file__).resolve().parent.parent / "configs" / "embedding.yaml")
    assert config.model.backend == "embedding"
    scorer = build_scorer(config, str(shipped_models_dir() / SHIPPED))
    assert isinstance(scorer, TrainedScorer) and scorer.model_version.startswith("adapter:")
