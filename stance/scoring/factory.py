"""Which scorer runs: the stance scorer the config (or a model path) names, and where frames come from."""

from __future__ import annotations

from stance.config import StanceConfig
from stance.scoring.base import FrameScorer, Scorer

BACKENDS = ("embedding", "adapter", "nli", "finetuned")


def build_scorer(config: StanceConfig, model: str | None = None) -> Scorer:
    """The scorer that `config.model.backend` names; `model` overrides `config.model.name`.

    A `model` that is a directory written by `stance train` selects the fine-tuned scorer, and
    an adapter directory the adapter scorer, whatever the backend says.
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
    raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def scorer_for_spec(spec: str, config: StanceConfig) -> Scorer:
    """The scorer a MODEL argument names: `config` (the config's own), a backend name (the config
    with that backend), an adapter or `stance train` directory, or a model name or path."""
    if spec in ("config", "default"):
        return build_scorer(config)
    if spec in BACKENDS:
        return build_scorer(config.model_copy(update={"model": config.model.model_copy(update={"backend": spec})}))
    return build_scorer(config, spec)


def build_frame_scorer(config: StanceConfig, scorer: Scorer) -> FrameScorer | None:
    """Where the frames of `scorer`'s predictions come from: None when frames are off or the
    scorer scores them itself (`frames.scorer: auto`), else embedding similarity on
    `frames.encoder`, sharing the scorer's encoder when it is the same model."""
    if not config.frame_names:
        return None
    if scorer.scores_frames and config.frames.scorer == "auto":
        return None
    from stance.scoring.frames import EmbeddingFrameScorer

    own = getattr(scorer, "frames", None)
    if isinstance(own, EmbeddingFrameScorer) and own.encoder_name == config.frames.encoder:
        return own
    return EmbeddingFrameScorer(config, config.frames.encoder)
