"""Shared fixtures: the seeds, the default config, and tiny real models built here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
TEST_OUTPUT = ROOT / "test-output"  # screenshots and other artefacts a person may want to look at

pytest_plugins = ["labelstudio_fixture"]  # the session-wide Label Studio server (tests/labelstudio_fixture.py)


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def test_output() -> Path:
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT


@pytest.fixture(scope="session")
def seeds_run(tmp_path_factory, seeds_dir):
    """The README's main command, once per test session: the offline default on seeds/, through the CLI.
    (path of the run directory, what the command printed). Tests read it; none may change it."""
    from typer.testing import CliRunner

    from stance.cli import app

    out = tmp_path_factory.mktemp("seeds-run") / "seeds"
    result = CliRunner().invoke(app, ["annotate", str(seeds_dir), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="session")
def default_config():
    from stance.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    from stance.scoring.loading import resolve_model_source

    return Path(resolve_model_source("bundled:all-MiniLM-L6-v2"))


@pytest.fixture(scope="session")
def tiny_nli_model_dir(tmp_path_factory, bundled_model_dir) -> Path:
    """A small real BERT NLI-shaped classifier (random weights, fixed seed) with the bundled tokenizer,
    saved to disk so that loading by path is exercised too. Labels in the MNLI order of many
    checkpoints: entailment first, contradiction last."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    directory = tmp_path_factory.mktemp("tiny-nli")
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_dir)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=3,
        initializer_range=0.3,  # the default 0.02 gives near-constant outputs; these vary with the input
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
        label2id={"entailment": 0, "neutral": 1, "contradiction": 2},
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_config(path: Path, text: str) -> Path:
    """Write a YAML config that extends the project's default config."""
    path.write_text(f"extends: {ROOT / 'configs' / 'default.yaml'}\n{text}", encoding="utf-8")
    return path


@pytest.fixture()
def tiny_nli_config(tmp_path, tiny_nli_model_dir):
    """The default config with the NLI backend on the tiny model."""
    from stance.config import load_config

    return load_config(
        write_config(
            tmp_path / "tiny-nli.yaml",
            f"model:\n  backend: nli\n  name: {tiny_nli_model_dir}\n  max_length: 128\n  batch_size: 16\n",
        )
    )


HEAVY_MARKS = ("model", "server", "browser", "ray")


def pytest_collection_modifyitems(config, items):
    """Tests that load a model, start Label Studio, a browser or Ray are slow too: `-m "not slow"` is the unit tier."""
    for item in items:
        if any(item.get_closest_marker(mark) for mark in HEAVY_MARKS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
