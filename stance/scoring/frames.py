"""Frame scorers on sentence embeddings: similarity to the frame descriptions, or a trained frame head.

Embedding similarity: a frame's score is a logistic function of the cosine similarity between the paragraph's
embedding and the frame's prototype (`model.frame_center`: the similarity that scores 0.5,
`model.frame_scale`: the similarity distance of one logit unit); the residual frame ("Other")
scores 1 minus the best other frame. The encoder is `frames.encoder` (the bundled MiniLM by
default), loaded on first use, or the stance scorer's own when it is the same encoder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from stance.config import StanceConfig
from stance.prompts import with_residual_frame
from stance.scoring.encoder import SentenceEncoder
from stance.scoring.loading import resolve_model_source
from stance.scoring.versions import weights_digest


class EmbeddingFrameScorer:
    """The `FrameScorer` of embedding similarity to the config's frame descriptions."""

    def __init__(self, config: StanceConfig, encoder_name: str | None = None, *, encoder: SentenceEncoder | None = None) -> None:
        self.config = config
        self.encoder_name = encoder_name or (encoder.model_name if encoder else config.frames.encoder)
        self._encoder = encoder
        self._prototypes: tuple[list[str], Any] | None = None
        self.version = "embedding-frames:" + weights_digest(resolve_model_source(self.encoder_name))

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            m = self.config.model
            self._encoder = SentenceEncoder(self.encoder_name, m.device, m.max_length, m.batch_size, m.max_tokens_per_batch)
        return self._encoder

    def prototypes(self) -> tuple[list[str], Any]:
        """(frame names, their prototype vectors) for the frames the model scores (not the residual one)."""
        if self._prototypes is None:
            frames = [f for f in self.config.frames.items if not f.residual] if self.config.frames.enabled else []
            self._prototypes = [f.name for f in frames], self.encoder.encode([f"{f.name}: {f.description}" for f in frames])
        return self._prototypes

    def score_frames(self, texts: Sequence[str], vectors: Any = None) -> list[dict[str, float]]:
        """Frame scores per text; `vectors` are the texts' embeddings when the caller has them."""
        names, prototypes = self.prototypes()
        if not names or not texts:
            return [{} for _ in texts]
        vectors = self.encoder.encode(list(texts)) if vectors is None else vectors
        center, scale = self.config.model.frame_center, self.config.model.frame_scale
        results = []
        for row in (vectors @ prototypes.T).tolist():
            raw = {name: 1.0 / (1.0 + math.exp(-(s - center) / scale)) for name, s in zip(names, row, strict=True)}
            results.append(with_residual_frame(self.config, raw))
        return results


class FrameHeadScorer:
    """The `FrameScorer` of a trained frame head (`stance.training.model.FrameHead`): a logistic unit
    per frame over the paragraph's embedding from the head's encoder, with per-frame thresholds."""

    def __init__(self, config: StanceConfig, head: Any, digest: str, *, encoder: SentenceEncoder | None = None) -> None:
        from stance.errors import ModelError

        scored = [f.name for f in config.frames.items if not f.residual]
        if list(head.frames) != scored:
            raise ModelError(
                f"the frame head scores the frames {list(head.frames)} but the config defines {scored}; use the config the"
                " model was trained with (its stance_config.yaml), or frames.scorer: embedding"
            )
        self.config = config
        self.head = head
        self.encoder_name = head.encoder
        self._encoder = encoder
        self.thresholds = dict(zip(head.frames, head.paragraph_thresholds, strict=True))
        self.version = f"frame-head:{digest}:" + weights_digest(resolve_model_source(self.encoder_name))

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            m = self.config.model
            self._encoder = SentenceEncoder(self.encoder_name, m.device, m.max_length, m.batch_size, m.max_tokens_per_batch)
        return self._encoder

    def score_frames(self, texts: Sequence[str], vectors: Any = None) -> list[dict[str, float]]:
        if not texts:
            return []
        vectors = self.encoder.encode(list(texts)) if vectors is None else vectors
        probabilities = self.head.probabilities(vectors.numpy() if hasattr(vectors, "numpy") else vectors)
        return [with_residual_frame(self.config, dict(zip(self.head.frames, map(float, row), strict=True))) for row in probabilities]
