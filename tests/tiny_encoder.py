"""A tiny real BERT encoder for training tests: random weights (fixed seed), the bundled tokenizer."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRAIN_SAMPLE = FIXTURES / "newsmtsc_train_sample.jsonl"
HELDOUT_SAMPLE = FIXTURES / "newsmtsc_heldout_sample.jsonl"
SEED_GOLD = FIXTURES / "seed_gold.jsonl"


def build_tiny_bert(directory: Path, tokenizer_source: Path) -> Path:
    """Save a 2-layer, 32-wide BertModel and the bundled tokenizer to `directory` (a base for `stance train`)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
