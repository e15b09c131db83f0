"""The Scorer protocol and the factory that picks a scorer from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from stance.config import StanceConfig, Target


@dataclass(frozen=True)
class ParagraphScores:
    """Scores of one paragraph: per target a distribution over stance labels, and per frame a score."""

    stance: dict[str, dict[str, float]]
    frames: dict[str, float]


class Scorer(Protocol):
    """Anything that scores paragraphs; `model_version` is stamped on every prediction."""

    model_version: str

    def score(self, texts: Sequence[str], targets: Sequence[Sequence[Target]]) -> list[ParagraphScores]:
        """Score `texts[i]` toward each target in `targets[i]`, and its frames."""
        ...


def build_scorer(config: StanceConfig, model: str | None = None) -> Scorer:
    """The scorer that `config.model.backend` names; `model` overrides `config.model.name`.

    A `model` that is a directory written by `stance train` selects the fine-tuned scorer, and
    an adapter directory (`scripts/train_adapter.py`) the adapter scorer, whatever the backend says.
    """
    from stance.scoring.adapter import is_adapter_dir
    from stance.scoring.loading import is_finetuned_model_dir

    name = model or config.model.name
    backend = config.model.backend
    if model is not None and is_finetuned_model_dir(model):
        backend = "finetuned"
    elif model is not None and is_adapter_dir(model):
        backend = "adapter"
    if backend == "nli":
        from stance.scoring.nli import NLIScorer

        return NLIScorer(config, name)
    if backend == "embedding":
        from stance.scoring.embedding import EmbeddingScorer

        return EmbeddingScorer(config, name)
    if backend == "finetuned":
        from stance.scoring.finetuned import FinetunedScorer

        return FinetunedScorer(config, name)
    if backend == "adapter":
        from stance.scoring.adapter import AdapterScorer

        return AdapterScorer(config, name)
    raise ValueError(f"unknown backend {backend!r}")
