"""A tiny real BERT encoder for training tests: random weights (fixed seed), the bundled tokenizer."""

from __future__ import annotations

import random
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


VERBS = {"favorable": ["praised", "welcomed", "applauded"], "unfavorable": ["condemned", "denounced", "attacked"],
         "neutral": ["met", "visited", "called"]}
FRAMES = {"Economic": "over tariffs and trade", "Security and defense": "over troops and missiles"}


def synthetic_rows(n: int, seed: int = 0, untargeted: int = 0) -> list[dict]:
    """Paragraphs naming China and Russia, the stance toward each given by its own verb, frames by topic (marked
    synthetic); `untargeted` more paragraphs name no target (frame records only)."""
    rng = random.Random(seed)
    rows = []
    for i in range(untargeted):
        frame = rng.choice(list(FRAMES))
        text = f"Markets moved {FRAMES[frame]} as traders {rng.choice(['waited', 'watched', 'hesitated'])} on day {i}."
        rows.append({"id": f"syn-u{i}:0", "doc_id": f"syn-u{i}", "text": text, "frames": [frame], "synthetic": True})
    for i in range(n):
        a, b = rng.choice(list(VERBS)), rng.choice(list(VERBS))
        frame = rng.choice(list(FRAMES))
        text = f"Lawmakers {rng.choice(VERBS[a])} China {FRAMES[frame]}. Separately, critics {rng.choice(VERBS[b])} Russia on Tuesday."
        doc = f"syn-{i}"
        rows.append({"id": f"{doc}:0", "doc_id": doc, "text": text, "frames": [frame], "synthetic": True})
        rows.append({"id": f"{doc}:0", "doc_id": doc, "text": text, "target": "China", "label": a, "synthetic": True})
        rows.append({"id": f"{doc}:0", "doc_id": doc, "text": text, "target": "Russia", "label": b, "synthetic": True})
    return rows
