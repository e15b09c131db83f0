"""Which scorer runs: the stance scorer the config (or a model path) names, and where frames come from."""

from __future__ import annotations

from stance.config import StanceConfig
from stance.errors import ModelError
from stance.scoring.base import FrameScorer, Scorer

BACKENDS = ("embedding", "adapter", "nli", "finetuned")
DEFAULT_SHIPPED_MODEL = "minilm-news-v3"  # what `model.backend: adapter` runs when model.name is the bundled encoder


def build_scorer(config: StanceConfig, model: str | None = None) -> Scorer:
    """The scorer that `config.model.backend` names; `model` overrides `config.model.name`.

    A `model` that is a directory written by `stance train` selects the fine-tuned scorer, and
    an adapter directory the adapter scorer, whatever the backend says; a one-pass directory
    (`stance train --one-pass`) selects the one-pass scorer.
    """
    from stance.training.model import is_model_dir

    name = model or config.model.name
    backend = config.model.backend
    if model is not None and is_model_dir(model):
        backend = "finetuned"
    if backend == "nli":
        from stance.scoring.nli import NLIScorer

        return NLIScorer(config, name)
    if backend == "embedding":
        from stance.scoring.embedding import EmbeddingScorer

        return EmbeddingScorer(config, name)
    if backend in ("finetuned", "adapter"):
        from stance.training.model import model_kind

        directory = trained_model_name(name)
        if model_kind(directory) == "one-pass":
            from stance.scoring.onepass import OnePassScorer

            return OnePassScorer(config, directory)
        from stance.scoring.trained import TrainedScorer

        return TrainedScorer(config, directory)
    raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")


def trained_model_name(name: str) -> str:
    """A model directory or `shipped:NAME`; the bundled encoder's name (configs from before the
    model directories) means the model the package ships as its default."""
    from stance.scoring.loading import BUNDLED_PREFIX
    from stance.training.model import SHIPPED_PREFIX

    return f"{SHIPPED_PREFIX}{DEFAULT_SHIPPED_MODEL}" if name.startswith(BUNDLED_PREFIX) else name


def scorer_for_spec(spec: str, config: StanceConfig) -> Scorer:
    """The scorer a MODEL argument names: `config` (the config's own), a backend name (the config
    with that backend), an adapter or `stance train` directory, or a model name or path."""
    if spec in ("config", "default"):
        return build_scorer(config)
    if spec in BACKENDS:
        update: dict[str, str] = {"backend": spec}
        if spec in ("embedding", "nli") and _names_trained_model(config.model.name):
            if spec == "nli":
                raise ModelError(f"backend nli needs an NLI model, and model.name is {config.model.name!r}; use --config configs/nli.yaml")
            update["name"] = config.frames.encoder  # the sentence encoder the config already uses for frames
        return build_scorer(config.model_copy(update={"model": config.model.model_copy(update=update)}))
    return build_scorer(config, spec)


def _names_trained_model(name: str) -> bool:
    from stance.training.model import SHIPPED_PREFIX, is_model_dir

    return name.startswith(SHIPPED_PREFIX) or is_model_dir(name)


def build_frame_scorer(config: StanceConfig, scorer: Scorer) -> FrameScorer | None:
    """Where the frames of `scorer`'s predictions come from: None when frames are off or the
    scorer scores them itself (`frames.scorer: auto`), else embedding similarity on
    `frames.encoder`, sharing the scorer's encoder when it is the same model."""
    if not config.frame_names:
        return None
    if scorer.scores_frames and config.frames.scorer == "auto":
        return None
    from stance.scoring.frames import EmbeddingFrameScorer, FrameHeadScorer

    head = getattr(scorer, "frame_head", None)
    if head is not None and config.frames.scorer == "auto":
        model = scorer.stance_model  # type: ignore[attr-defined]
        return FrameHeadScorer(config, head, head.digest(model.directory))

    own = getattr(scorer, "frames", None)
    if isinstance(own, EmbeddingFrameScorer) and own.encoder_name == config.frames.encoder:
        return own
    return EmbeddingFrameScorer(config, config.frames.encoder)
