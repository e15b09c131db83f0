"""Mean-pooled, L2-normalised sentence embeddings from any Hugging Face encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stance.scoring.batching import run_batched, token_cap
from stance.scoring.loading import load_pretrained, pick_device


class SentenceEncoder:
    """Sentence embeddings: length-sorted, token-capped batches, mean pooling, unit vectors."""

    def __init__(self, model_name: str, device_setting: str, max_length: int, batch_size: int, max_tokens: int) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.model_name = model_name
        self.device = pick_device(device_setting)
        self.tokenizer = load_pretrained(AutoTokenizer, model_name, "tokenizer")
        self.model = load_pretrained(AutoModel, model_name, "encoder")
        self.model.to(self.device).eval()
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> Any:
        """A (len(texts), dim) tensor of unit vectors."""
        import torch

        if not texts:
            return torch.empty(0, self.model.config.hidden_size)
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        features = [{k: encoded[k][i] for k in encoded} for i in range(len(texts))]

        def pooled(batch: dict[str, Any]) -> Any:
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(summed, dim=-1)

        return run_batched(
            features,
            max_batch=self.batch_size,
            max_tokens=token_cap(self.max_tokens, self.device),
            tokenizer=self.tokenizer,
            device=self.device,
            forward=pooled,
        )
